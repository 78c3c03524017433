/*
 * IDS feeds of `tapscope listen` (capture/ids-feeds.ts), run as a process and fed over
 * loopback: `--inner -w -` read by a real tcpdump through a pipe (the inner frames of a
 * real VXLAN capture, byte for byte), a reader that sleeps (the receive path goes on, the
 * packets the pipe could not take are counted as app drops and the stream stays valid),
 * and `--ids-dir` (closed pcap files that tcpdump reads, rotated by age, retention kept).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { filesOlderThan } from '../../main/capture/ids-feeds.js';
import { capture, tsharkFields } from '../helpers/captures.js';
import { skipUnlessRequired } from '../helpers/privileged.js';
import { have } from '../flows/collector.js';

const RUNNER = join(__dirname, '..', 'flows', 'listen-cli.ts');
const skip = skipUnlessRequired('IDS feeds', have('tcpdump') && have('mkfifo') && spawnSync('tshark', ['-v']).status === 0 ? null : 'tcpdump, mkfifo or tshark missing');
const tmp = mkdtempSync(join(tmpdir(), 'tapscope-ids-feeds-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/** Packets of a pcap file (either magic, little-endian as tcpdump writes here): data of each. */
function pcapPackets(file: string): { linkType: number; packets: Buffer[] } {
  const b = readFileSync(file);
  const packets: Buffer[] = [];
  for (let o = 24; o + 16 <= b.length;) {
    const incl = b.readUInt32LE(o + 8);
    packets.push(b.subarray(o + 16, o + 16 + incl));
    o += 16 + incl;
  }
  return { linkType: b.readUInt32LE(20), packets };
}

interface Run { proc: ChildProcess; port: number; stderr: () => string; exit: Promise<number> }

/** `listen` with stdout redirected to `stdoutTo` (a FIFO or a file); resolves once listening. */
async function listen(args: string[], stdoutTo: string): Promise<Run> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = 30000 + Math.floor(Math.random() * 10000);
    const cmd = `exec ${q(process.execPath)} --import tsx ${q(RUNNER)} listen --vxlan ${port} --address 127.0.0.1 ${args.map(q).join(' ')} > ${q(stdoutTo)}`;
    const proc = spawn('sh', ['-c', cmd], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    proc.stderr!.on('data', (d) => (err += d));
    const exit = new Promise<number>((r) => proc.once('exit', (c) => r(c ?? -1)));
    for (let i = 0; i < 150 && proc.exitCode === null && !err.includes('listening for'); i++) await sleep(100);
    if (err.includes('listening for')) return { proc, port, stderr: () => err, exit };
    proc.kill('SIGKILL');
    await exit;
    if (!err.includes('in use')) throw new Error(`listen did not start: ${err}`);
  }
  throw new Error('no free port');
}

async function send(port: number, datagrams: Buffer[], pace = 50): Promise<void> {
  const s = createSocket('udp4');
  try {
    for (let i = 0; i < datagrams.length; i++) {
      await new Promise<void>((res, rej) => s.send(datagrams[i], port, '127.0.0.1', (e) => (e ? rej(e) : res())));
      if ((i + 1) % pace === 0) await sleep(1);
    }
  } finally {
    s.close();
  }
}

const vxlanPayloads = (file: string) => tsharkFields(capture(file), ['udp.payload'], ['-Y', 'udp.port == 4789']).map((r) => Buffer.from(r[0].split(',').pop()!.replace(/:/g, ''), 'hex'));

const count = (text: string, re: RegExp) => Number(re.exec(text)?.[1] ?? NaN);

describe.skipIf(skip !== null)('IDS feeds from tapscope listen', () => {
  it('--inner -w - through a pipe into tcpdump -r -: the inner frames of a real VXLAN capture, byte for byte, status on stderr', async () => {
    const payloads = vxlanPayloads('vxlan-http.pcap');
    expect(payloads.length).toBeGreaterThan(0);
    const fifo = join(tmp, 'inner.fifo');
    const out = join(tmp, 'inner-tcpdump.pcap');
    execFileSync('mkfifo', [fifo]);
    const reader = spawn('sh', ['-c', `exec tcpdump -r - -w ${q(out)} < ${q(fifo)}`], { stdio: ['ignore', 'ignore', 'pipe'] });
    let rerr = '';
    reader.stderr!.on('data', (d) => (rerr += d));
    const readerExit = new Promise<number>((r) => reader.once('exit', (c) => r(c ?? -1)));
    const l = await listen(['--inner', '-w', '-'], fifo);
    await send(l.port, payloads);
    await sleep(300);
    l.proc.kill('SIGTERM');
    expect(await l.exit, l.stderr()).toBe(0);
    expect(await readerExit, rerr).toBe(0);
    const got = pcapPackets(out);
    expect(got.linkType).toBe(1);
    // VXLAN (RFC 7348): 8-octet header, then the inner Ethernet frame.
    expect(got.packets.map((p) => p.toString('hex'))).toEqual(payloads.map((p) => p.subarray(8).toString('hex')));
    expect(l.stderr()).toContain(`${payloads.length} packets written to the pcap stream on stdout, 0 dropped`);
  }, 60_000);

  it('a reader that sleeps: the receive path goes on, what the pipe could not take is counted as app drops, the stream stays readable', async () => {
    // 8,000 inner frames of 1,400 octets (11 MB): more than the pipe and the 4 MiB stream buffer hold.
    const N = 8000;
    const frame = Buffer.alloc(8 + 1400);
    frame[0] = 0x08; // VXLAN I flag, VNI 0
    frame.writeUInt16BE(0x0800, 8 + 12);
    const datagrams = Array.from({ length: N }, (_, i) => {
      const d = Buffer.from(frame);
      d.writeUInt32BE(i, 8 + 14 + 20); // a counter inside each frame
      return d;
    });
    const fifo = join(tmp, 'slow.fifo');
    const out = join(tmp, 'slow-tcpdump.pcap');
    execFileSync('mkfifo', [fifo]);
    // The reader opens the pipe at once, then reads nothing until the test creates GO.
    const go = join(tmp, 'slow.go');
    const reader = spawn('sh', ['-c', `exec 0< ${q(fifo)}; while [ ! -e ${q(go)} ]; do sleep 0.1; done; exec tcpdump -r - -w ${q(out)}`], { stdio: ['ignore', 'ignore', 'pipe'] });
    let rerr = '';
    reader.stderr!.on('data', (d) => (rerr += d));
    const readerExit = new Promise<number>((r) => reader.once('exit', (c) => r(c ?? -1)));
    const l = await listen(['--inner', '-w', '-', '--progress'], fifo);
    await send(l.port, datagrams, 100);
    // While the reader reads nothing, listen goes on receiving and analysing: its progress
    // line counts more packets than the pipe and the stream buffer could ever hold (about
    // 3,000 of these frames). Waited for as a condition (bounded), not timed.
    const progressCaptured = () => count(l.stderr().split('\n').filter((x) => x.startsWith('progress:')).at(-1) ?? '', /progress: (\d+) captured/);
    for (let i = 0; i < 200 && !(progressCaptured() > N / 2); i++) await sleep(100);
    expect(progressCaptured()).toBeGreaterThan(N / 2);
    writeFileSync(go, '');
    l.proc.kill('SIGTERM');
    expect(await l.exit, l.stderr()).toBe(0);
    expect(await readerExit, rerr).toBe(0);
    const err = l.stderr();
    const captured = count(err, /(\d+) packets? captured/);
    const kernel = count(err, /(\d+) packets dropped by kernel/);
    const written = count(err, /(\d+) packets written to the pcap stream/);
    const dropped = count(err, /written to the pcap stream on stdout, (\d+) dropped/);
    const app = count(err, /(\d+) packets dropped by app/);
    expect(captured + kernel).toBe(N);
    expect(written + dropped).toBe(captured);
    expect(dropped).toBeGreaterThan(0);
    expect(app).toBe(dropped);
    // What tcpdump read is exactly the packets written, whole, in order.
    const got = pcapPackets(out).packets;
    expect(got).toHaveLength(written);
    const ids = got.map((p) => p.readUInt32BE(14 + 20));
    expect(ids.every((v, i) => i === 0 || v > ids[i - 1])).toBe(true);
    expect(got.every((p) => p.length === 1400)).toBe(true);
  }, 60_000);

  it('--ids-dir: closed pcap files rotated by age, only the newest kept, none left half-written', async () => {
    const dir = join(tmp, 'ids');
    const payloads = vxlanPayloads('vxlan-http.pcap');
    const l = await listen(['--inner', '-w', join(tmp, 'spool.pcapng'), '--ids-dir', dir, '--ids-file-sec', '1', '--ids-keep', '2'], '/dev/null');
    // Each round lands in a file of its own: the next round waits (bounded) until the file
    // that got the previous one has been closed into the directory (rotation by age, 1 s).
    const closed = () => (existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.pcap')).sort().join(' ') : '');
    for (let round = 0; round < 4; round++) {
      const before = closed();
      await send(l.port, payloads);
      for (let i = 0; i < 100 && closed() === before; i++) await sleep(100);
      expect(closed()).not.toBe(before);
    }
    l.proc.kill('SIGTERM');
    expect(await l.exit, l.stderr()).toBe(0);
    const files = readdirSync(dir).filter((f) => f.endsWith('.pcap')).sort();
    expect(files).toHaveLength(2);
    expect(readdirSync(join(dir, '.partial'))).toEqual([]);
    for (const f of files) {
      const r = spawnSync('tcpdump', ['-r', join(dir, f), '-nn'], { encoding: 'utf8' });
      expect(r.status, r.stderr).toBe(0);
      const got = pcapPackets(join(dir, f)).packets;
      // Each file holds one round: the capture's inner frames.
      expect(got.map((p) => p.toString('hex'))).toEqual(payloads.map((p) => p.subarray(8).toString('hex')));
    }
    expect(l.stderr()).toMatch(new RegExp(`${payloads.length * 4} packets written to IDS files, 2 closed files kept`));
  }, 60_000);
});

describe('--keep-hours', () => {
  it('ring files older than the limit are chosen, never the file being written', () => {
    const d = mkdtempSync(join(tmpdir(), 'tapscope-keep-'));
    try {
      const now = Date.now();
      const files = [0, 1, 2, 3].map((i) => join(d, `f${i}.pcapng`));
      for (const [i, f] of files.entries()) {
        writeFileSync(f, '');
        const ageH = [5, 3, 1, 9][i]; // the last (current) file is old too: still kept
        utimesSync(f, (now - ageH * 3600e3) / 1000, (now - ageH * 3600e3) / 1000);
      }
      expect(filesOlderThan(files, 2, now)).toEqual([files[0], files[1]]);
      expect(filesOlderThan(files, 6, now)).toEqual([]);
      expect(existsSync(files[3])).toBe(true);
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });
});
