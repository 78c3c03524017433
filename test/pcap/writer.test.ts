import { describe, expect, it, beforeAll, afterAll } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, chmodSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { build } from 'esbuild';
import { join } from 'node:path';
import { allCaptures, capture, REPO_ROOT } from '../helpers/captures.js';
import { packetRows, tsharkRows } from './oracle.js';
import { convertCapture } from '../../main/pcap/convert.js';
import { openCaptureWriter, saveCapture, CaptureWriteError, type WriteRecord } from '../../main/pcap/writer.js';
import { openCapture } from '../../main/pcap/reader.js';
import type { CaptureInterface } from '../../main/pcap/record.js';

let dir: string;
beforeAll(() => { dir = mkdtempSync(join(tmpdir(), 'tapscope-writer-')); });
afterAll(() => { rmSync(dir, { recursive: true, force: true }); });

interface Pkt { tsSec: number; tsNsec: number; caplen: number; origLen: number; bytes: string; iface: number; comment: string | null }

/** Every packet our reader returns, with its bytes copied out. */
function readAll(path: string): { packets: Pkt[]; error: string | null; interfaces: CaptureInterface[] } {
  const r = openCapture(path);
  const packets: Pkt[] = [];
  for (let p = r.next(); p; p = r.next()) {
    packets.push({
      tsSec: p.tsSec, tsNsec: p.tsNsec, caplen: p.caplen, origLen: p.origLen, iface: p.interfaceId, comment: p.comment,
      bytes: Buffer.from(p.data.subarray(p.offset, p.offset + p.caplen)).toString('hex'),
    });
  }
  r.close();
  return { packets, error: r.error?.message ?? null, interfaces: r.interfaces };
}

function capinfosCount(path: string): number {
  const out = execFileSync('capinfos', ['-T', '-r', '-c', path], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  return Number(out.trim().split('\t')[1]);
}

const multiLinkType = (name: string): boolean => name === 'pcapng-bigendian-all-blocks.pcapng';

describe('round trips', () => {
  it('pcap -> pcapng -> pcap is lossless for packet bytes, lengths and timestamps', () => {
    for (const name of allCaptures()) {
      if (multiLinkType(name)) continue;
      const src = capture(name);
      const ng = join(dir, `${name}.rt.pcapng`);
      const back = join(dir, `${name}.rt.pcap`);
      convertCapture(src, ng, 'pcapng');
      convertCapture(ng, back, 'pcap');
      const a = readAll(src);
      const b = readAll(ng);
      const c = readAll(back);
      expect(b.packets.length, name).toBe(a.packets.length);
      expect(c.packets.length, name).toBe(a.packets.length);
      for (let i = 0; i < a.packets.length; i++) {
        const { iface: _a, comment: _ac, ...pa } = a.packets[i];
        const { iface: _b, comment: _bc, ...pb } = b.packets[i];
        const { iface: _c, comment: _cc, ...pc } = c.packets[i];
        expect(pb, `${name} packet ${i + 1} in pcapng`).toEqual(pa);
        expect(pc, `${name} packet ${i + 1} back in pcap`).toEqual(pa);
      }
      expect(b.error, name).toBeNull();
      expect(c.error, name).toBeNull();
    }
  });

  it('a little-endian pcap comes back byte for byte after its header', () => {
    let compared = 0;
    for (const name of allCaptures()) {
      const src = readFileSync(capture(name));
      if (src.readUInt32LE(0) !== 0xa1b2c3d4 && src.readUInt32LE(0) !== 0xa1b23c4d) continue;
      if (name.startsWith('malformed-')) continue; // damaged: only the part before the damage is written
      const ng = join(dir, `${name}.bb.pcapng`);
      const back = join(dir, `${name}.bb.pcap`);
      convertCapture(capture(name), ng, 'pcapng');
      convertCapture(ng, back, 'pcap');
      const out = readFileSync(back);
      // magic, version, snaplen and link type are kept; thiszone/sigfigs are written as 0.
      expect(out.subarray(0, 8).equals(src.subarray(0, 8)), name).toBe(true);
      expect(out.subarray(16, 24).equals(src.subarray(16, 24)), name).toBe(true);
      expect(out.subarray(24).equals(src.subarray(24)), name).toBe(true);
      compared++;
    }
    expect(compared).toBeGreaterThan(15);
  });

  it('pcapng -> pcapng keeps interface names, descriptions, resolutions and comments (tshark agrees)', async () => {
    for (const name of ['pcapng-comments-2if-rtp.pcapng', 'pcapng-2if-ns-and-us.pcapng', 'pcapng-bigendian-all-blocks.pcapng']) {
      const src = capture(name);
      const out = join(dir, `${name}.meta.pcapng`);
      convertCapture(src, out, 'pcapng');
      const fields = ['frame.encap_type', 'frame.interface_name', 'frame.interface_description', 'frame.comment', 'frame.time_epoch'];
      const want = packetRows(await tsharkRows(src, fields));
      const got = packetRows(await tsharkRows(out, fields));
      expect(got.map((r) => r.slice(0, 4)), name).toEqual(want.map((r) => r.slice(0, 4)));
      const a = readAll(src);
      const b = readAll(out);
      expect(b.interfaces.map(({ id: _i, ...x }) => x), name).toEqual(a.interfaces.map(({ id: _i, ...x }) => x));
      expect(b.packets.map((p) => p.comment), name).toEqual(a.packets.map((p) => p.comment));
    }
    // The section comment survives too.
    const shb = (p: string) => execFileSync('capinfos', ['-k', p], { encoding: 'utf8' }).split('\n').find((l) => l.startsWith('Capture comment'));
    const name = 'pcapng-comments-2if-rtp.pcapng';
    expect(shb(join(dir, `${name}.meta.pcapng`))).toBe(shb(capture(name)));
  });
});

const ETH: CaptureInterface = { id: 0, linkType: 1, snaplen: 65535, name: 'tsW0', description: 'test', tsUnitsPerSec: 1e9 };

/** A real packet (first of http-get-basic.pcap) with chosen times. */
function realPacket(): Uint8Array {
  const r = openCapture(capture('http-get-basic.pcap'));
  const p = r.next()!;
  const bytes = p.data.slice(p.offset, p.offset + p.caplen);
  r.close();
  return bytes;
}

describe('timestamps at each resolution', () => {
  it('ns, µs and 2^-k interfaces are read back by tshark to the interface resolution', async () => {
    const data = realPacket();
    const path = join(dir, 'res.pcapng');
    const w = openCaptureWriter(path, {
      format: 'pcapng',
      interfaces: [ETH, { ...ETH, name: 'us', tsUnitsPerSec: 1e6 }, { ...ETH, name: 'bin', tsUnitsPerSec: 2 ** 20 }],
    });
    const rec = (iface: number, sec: number, ns: number): WriteRecord => ({ tsSec: sec, tsNsec: ns, caplen: data.length, origLen: data.length, data, offset: 0, interfaceId: iface });
    w.write(rec(0, 1767663089, 500330493));
    w.write(rec(1, 1767663089, 500330493));
    w.write(rec(2, 1767663089, 500000000)); // exactly representable in 2^-20 s
    w.write(rec(0, 4294967295, 999999999)); // largest pcap second
    w.close();
    const rows = await tsharkRows(path, ['frame.time_epoch', 'frame.interface_name']);
    expect(rows).toEqual([
      ['1767663089.500330493', 'tsW0'],
      ['1767663089.500330000', 'us'], // truncated to the µs interface
      ['1767663089.500000000', 'bin'],
      ['4294967295.999999999', 'tsW0'],
    ]);
  });

  it('a finer than ns interface (ps) is written with ns resolution, exactly', async () => {
    const data = realPacket();
    const path = join(dir, 'ps.pcapng');
    saveCapture(path, [{ tsSec: 4000000000, tsNsec: 123456789, caplen: data.length, origLen: data.length, data, offset: 0, interfaceId: 0 }], {
      format: 'pcapng', interfaces: [{ ...ETH, tsUnitsPerSec: 1e12 }],
    });
    expect(readAll(path).interfaces[0].tsUnitsPerSec).toBe(1e9);
    expect(await tsharkRows(path, ['frame.time_epoch'])).toEqual([['4000000000.123456789']]);
  });

  it('pcap files: ns magic keeps ns; µs magic truncates', async () => {
    const data = realPacket();
    for (const nanos of [true, false]) {
      const path = join(dir, `res-${nanos}.pcap`);
      saveCapture(path, [{ tsSec: 1767663089, tsNsec: 500330493, caplen: data.length, origLen: 1500, data, offset: 0, interfaceId: 0 }], { format: 'pcap', interfaces: [ETH], nanos });
      const rows = await tsharkRows(path, ['frame.time_epoch', 'frame.len', 'frame.cap_len']);
      expect(rows).toEqual([[nanos ? '1767663089.500330493' : '1767663089.500330000', '1500', String(data.length)]]);
    }
  });
});

describe('streaming, atomic saves and errors', () => {
  it('flushed packets survive a process that dies without close()', () => {
    const path = join(dir, 'crash.pcapng');
    const script = `
      import { openCaptureWriter } from ${JSON.stringify(join(REPO_ROOT, 'main/pcap/writer.ts'))};
      const w = openCaptureWriter(${JSON.stringify(path)}, { format: 'pcapng', interfaces: [${JSON.stringify(ETH)}] });
      const data = new Uint8Array(60).fill(7);
      for (let i = 0; i < 50; i++) w.write({ tsSec: 1700000000 + i, tsNsec: 0, caplen: 60, origLen: 60, data, offset: 0, interfaceId: 0 });
      w.flush(true);
      for (let i = 0; i < 5; i++) w.write({ tsSec: 1800000000, tsNsec: 0, caplen: 60, origLen: 60, data, offset: 0, interfaceId: 0 });
      process.kill(process.pid, 'SIGKILL');`;
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: REPO_ROOT, encoding: 'utf8' });
    expect(r.signal).toBe('SIGKILL');
    expect(capinfosCount(path)).toBe(50);
    expect(readAll(path).packets.length).toBe(50);
  });

  it('atomic: PATH appears only at close(); abort() leaves the old file untouched', () => {
    const data = realPacket();
    const path = join(dir, 'atomic.pcap');
    writeFileSync(path, 'old contents');
    const w = openCaptureWriter(path, { format: 'pcap', interfaces: [ETH], atomic: true });
    w.write({ tsSec: 1, tsNsec: 0, caplen: data.length, origLen: data.length, data, offset: 0, interfaceId: 0 });
    w.flush();
    expect(existsSync(path + '.tmp')).toBe(true);
    expect(readFileSync(path, 'utf8')).toBe('old contents');
    w.abort();
    expect(existsSync(path + '.tmp')).toBe(false);
    expect(readFileSync(path, 'utf8')).toBe('old contents');

    const bad: WriteRecord = { tsSec: 1, tsNsec: 0, caplen: 10, origLen: 10, data, offset: 0, interfaceId: 3 };
    expect(() => saveCapture(path, [bad], { format: 'pcap', interfaces: [ETH] })).toThrow(/interface 3/);
    expect(readFileSync(path, 'utf8')).toBe('old contents');
    expect(existsSync(path + '.tmp')).toBe(false);

    const res = saveCapture(path, [{ ...bad, interfaceId: 0 }], { format: 'pcap', interfaces: [ETH] });
    expect(res.packets).toBe(1);
    expect(statSync(path).size).toBe(res.bytes);
    expect(capinfosCount(path)).toBe(1);
  });

  it('a full disk (ENOSPC) is an error naming the path and the cause', () => {
    const data = new Uint8Array(1500);
    const w = openCaptureWriter('/dev/full', { format: 'pcap', interfaces: [ETH], bufferSize: 4096 });
    let err: unknown;
    try {
      for (let i = 0; i < 100; i++) w.write({ tsSec: 1, tsNsec: 0, caplen: 1500, origLen: 1500, data, offset: 0, interfaceId: 0 });
      w.flush();
    } catch (e) { err = e; }
    expect(err).toBeInstanceOf(CaptureWriteError);
    expect((err as Error).message).toBe('cannot write capture file /dev/full: no space left on device (ENOSPC)');
    w.abort(); // streaming mode: closes, deletes nothing
    expect(statSync('/dev/full').isCharacterDevice()).toBe(true);
  });

  it('atomic save on a full file system: clear error, no PATH, no PATH.tmp left behind', (ctx) => {
    const mnt = join(dir, 'small');
    mkdirSync(mnt);
    const m = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', mnt]);
    if (m.status !== 0) ctx.skip(); // needs CAP_SYS_ADMIN; the /dev/full test covers the message
    try {
      const data = new Uint8Array(1500);
      const recs = Array.from({ length: 100 }, (): WriteRecord => ({ tsSec: 1, tsNsec: 0, caplen: 1500, origLen: 1500, data, offset: 0, interfaceId: 0 }));
      const path = join(mnt, 'big.pcapng');
      expect(() => saveCapture(path, recs, { format: 'pcapng', interfaces: [ETH] })).toThrow(`cannot write capture file ${path}.tmp: no space left on device (ENOSPC)`);
      expect(existsSync(path)).toBe(false);
      expect(existsSync(path + '.tmp')).toBe(false);
    } finally {
      spawnSync('umount', [mnt]);
    }
  });

  it('a directory without write permission (EACCES) is an error naming the path', async () => {
    const locked = join(dir, 'locked');
    mkdirSync(locked);
    chmodSync(dir, 0o755);
    chmodSync(locked, 0o555);
    const target = join(locked, 'x.pcapng');
    // root ignores permissions: run the writer as nobody, bundled into the (world-readable)
    // temp dir so the child needs nothing from the repository.
    const bundle = join(dir, 'writer-bundle.mjs');
    await build({ entryPoints: [join(REPO_ROOT, 'main/pcap/writer.ts')], outfile: bundle, bundle: true, platform: 'node', format: 'esm', logLevel: 'error' });
    chmodSync(bundle, 0o644);
    const script = `
      import { saveCapture } from ${JSON.stringify(bundle)};
      try { saveCapture(${JSON.stringify(target)}, [], { format: 'pcapng', interfaces: [] }); console.log('no error'); }
      catch (e) { console.log(e.message); }`;
    const asRoot = process.getuid?.() === 0;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: tmpdir(), encoding: 'utf8', uid: asRoot ? 65534 : undefined, gid: asRoot ? 65534 : undefined });
    expect(r.stdout.trim(), r.stderr).toBe(`cannot create capture file ${target}.tmp: permission denied (EACCES)`);
  });
});
