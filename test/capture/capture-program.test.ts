// The capture program tapscope-capture (main/capture/native/tapscope-capture.c) on its own:
// what it captures on a veth port against tcpdump on the same port, its refusals (bad filter,
// bad arguments), and the capability set it needs, tried as user nobody on copies with and
// without CAP_NET_RAW.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { openCapture } from '../../main/pcap/reader.js';
import type { PacketRecord } from '../../main/pcap/record.js';
import { FrameParser, MSG_END, MSG_ERROR, MSG_READY } from '../../main/capture/framing.js';
import { rngUint32 } from '../helpers/rng.js';
import { CAPTURE_PROGRAM, Lab, ensureBuilt, sh, skipReason, stopChild, waitFor } from './lab.js';

const skip = skipReason(['ip', 'tcpdump', 'ethtool', 'python3', 'setcap', 'setpriv']);
const PORT = 8080;

interface Run {
  control: { type: number; obj: Record<string, unknown> }[];
  packets: string[];
  stats: number[];
}

/** A packet by its bytes and original length (two packet sockets may stamp one packet apart). */
const key = (r: PacketRecord): string => `${createHash('sha1').update(r.data.subarray(r.offset, r.offset + r.caplen)).digest('hex')}/${r.origLen}`;

/** Collects what the program writes: control messages, each packet's key, the received counts. */
function collect(p: ChildProcess): Run {
  const run: Run = { control: [], packets: [], stats: [] };
  const parser = new FrameParser();
  p.stdout!.on('data', (chunk: Buffer) => parser.push(chunk, {
    packet: (r) => run.packets.push(key(r)),
    stats: (s) => run.stats.push(s.received),
    control: (type, obj) => run.control.push({ type, obj: obj as Record<string, unknown> }),
  }));
  return run;
}

const ready = (r: Run) => r.control.find((c) => c.type === MSG_READY)?.obj;
const error = (r: Run) => r.control.find((c) => c.type === MSG_ERROR)?.obj;
const end = (r: Run) => r.control.find((c) => c.type === MSG_END)?.obj;

/** Waits (bounded) until the program said READY or ended. */
async function started(p: ChildProcess, r: Run): Promise<void> {
  for (let i = 0; i < 100 && !ready(r) && !end(r) && p.exitCode === null; i++) await new Promise((res) => setTimeout(res, 30));
}

describe.skipIf(skip !== null)(`the capture program tapscope-capture${skip ? ` (skipped: ${skip})` : ''}`, () => {
  const lab = new Lab(6);
  let bin = '';
  beforeAll(async () => {
    await ensureBuilt();
    lab.up();
    lab.httpServer(PORT, { 'page.bin': 40_000 });
    // Copies user nobody may run: one without capabilities, one with CAP_NET_RAW only.
    bin = mkdtempSync(join(tmpdir(), 'tsE6prog-'));
    chmodSync(bin, 0o755);
    for (const [name, caps] of [['tapscope-capture-none', null], ['tapscope-capture-raw', 'cap_net_raw=ep']] as const) {
      copyFileSync(CAPTURE_PROGRAM, join(bin, name));
      chmodSync(join(bin, name), 0o755);
      if (caps) sh(`setcap ${caps} ${join(bin, name)}`);
    }
  });
  afterAll(() => {
    lab.cleanup();
    if (bin) rmSync(bin, { recursive: true, force: true });
  });

  it('captures on a veth port what tcpdump captures there, with kernel counters, and stops when told on stdin', async () => {
    const ref = join(lab.dir, 'tcpdump.pcap');
    const filter = `tcp port ${PORT}`;
    const p = lab.spawn(lab.b, [CAPTURE_PROGRAM, '-i', lab.vb, '-f', filter, '-t', '100']);
    const run = collect(p);
    await started(p, run);
    expect(ready(run)).toMatchObject({ device: lab.vb, linkType: 1, snaplen: 262144, backend: 'tapscope-capture', nanoTs: true });
    const td = lab.spawn(lab.b, ['tcpdump', '-i', lab.vb, '-n', '-U', '--immediate-mode', '--time-stamp-precision=nano', '-w', ref, filter]);
    await waitFor(td.stderr!, /listening on/);
    expect(lab.fetch(PORT, 'page.bin', 4)).toBe(4);
    await new Promise((r) => setTimeout(r, 300));
    await stopChild(td, 'SIGINT');
    p.stdin!.end('stop\n');
    const done = await stopChild(p, 'SIGCONT'); // not a stop signal: it ends on the stdin message
    expect(done.code).toBe(0);
    expect(end(run)).toEqual({ reason: 'stopped' });
    expect(error(run)).toBeUndefined();
    // Every packet tcpdump saw (the same bytes) is in the program's stream.
    const refPackets: string[] = [];
    const reader = openCapture(ref);
    for (let r = reader.next(); r; r = reader.next()) refPackets.push(key(r));
    reader.close();
    expect(reader.error).toBeNull();
    expect(refPackets.length).toBeGreaterThan(4 * 10); // 4 connections of 40 KB
    const mine = new Set(run.packets);
    expect(refPackets.filter((x) => !mine.has(x))).toEqual([]);
    expect(run.packets.length).toBeGreaterThanOrEqual(refPackets.length);
    // STATS carry libpcap's ps_recv: at least every packet delivered.
    expect(run.stats.at(-1)).toBeGreaterThanOrEqual(run.packets.length);
  });

  it('refuses a bad filter with a one-line error (and checks filters without privileges)', async () => {
    const p = lab.spawn(lab.b, [CAPTURE_PROGRAM, '-i', lab.vb, '-f', 'tcp prot 80']);
    const run = collect(p);
    const done = await stopChild(p, 'SIGCONT');
    expect(done.code).toBe(2);
    expect(ready(run)).toBeUndefined();
    expect(error(run)).toEqual({ code: 'EFILTER', message: expect.stringMatching(/^[^\n]*syntax error[^\n]*$/) });
    expect(end(run)).toEqual({ reason: 'error' });
    // -c compiles a filter for a link type, as user nobody with no capabilities.
    const asNobody = ['setpriv', '--reuid=nobody', '--regid=nogroup', '--clear-groups'];
    const check = (f: string) => spawnSync(asNobody[0], [...asNobody.slice(1), join(bin, 'tapscope-capture-none'), '-c', f, '-l', '1'], { encoding: 'utf8' });
    expect(JSON.parse(check('tcp prot 80').stdout)).toEqual({ error: expect.stringMatching(/syntax error/), checked: true });
    expect(JSON.parse(check('tcp port 80 and not host 10.0.0.1').stdout)).toEqual({ error: null, checked: true });
  });

  it('refuses bad arguments with one line on stderr and status 64', () => {
    for (const args of [['-i', 'lo', '-s', '12x'], ['-i', 'lo', '-B', '1'], ['-x'], [], ['-i', 'lo', 'extra']]) {
      const r = spawnSync(CAPTURE_PROGRAM, args, { encoding: 'utf8', input: '' });
      expect(r.status, args.join(' ')).toBe(64);
      expect(r.stdout).toBe('');
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(/^tapscope-capture: .*usage: /);
    }
  });

  it('a seeded fuzz of arguments: always a clean status (0, 2 or 64) and a well-formed stream, never a crash', () => {
    const next = rngUint32(15);
    const pick = <T,>(xs: readonly T[]): T => xs[next() % xs.length];
    const flags = ['-i', '-f', '-s', '-B', '-p', '-t', '-c', '-l', '-V', '-x', '--', '-', '-ii', '-s-1'];
    const values = ['lo', 'tsEnosuch0', '', 'tcp', 'tcp prot', '0', '-1', '99999999999', '64', '4096', 'a'.repeat(300), '%s%n%x', 'é\u0001\n', '../../etc', 'ip[0:4] = 0x45000000', 'lo:0'];
    const seen = new Set<number | null>();
    for (let i = 0; i < 150; i++) {
      const args: string[] = [];
      for (let k = 0, n = next() % 6; k < n; k++) args.push(next() % 3 ? pick(flags) : pick(values));
      if (next() % 2) args.push(pick(values));
      const r = spawnSync(CAPTURE_PROGRAM, args, { input: '', timeout: 5000 });
      const what = JSON.stringify(args);
      expect(r.signal, what).toBeNull();
      expect([0, 2, 64], what).toContain(r.status);
      seen.add(r.status);
      if (r.status === 64) expect(r.stderr.toString().trim().split('\n'), what).toHaveLength(1);
      if (r.status === 2) {
        const run: Run = { control: [], packets: [], stats: [] };
        const parser = new FrameParser();
        parser.push(r.stdout, { packet: () => {}, stats: () => {}, control: (type, obj) => run.control.push({ type, obj: obj as Record<string, unknown> }) });
        expect(parser.error, what).toBeNull();
        expect(error(run), what).toMatchObject({ code: expect.stringMatching(/^E[A-Z]+$/), message: expect.any(String) });
        expect(end(run), what).toEqual({ reason: 'error' });
      }
    }
    expect([...seen].sort()).toEqual([0, 2, 64]); // the fuzz reached captures, refusals and usage errors
  });

  it('as a non-root user: refused without capabilities; CAP_NET_RAW alone captures, promiscuous or not, and is given up once open', async () => {
    const asNobody = (prog: string, args: string[]) => lab.spawn(lab.b, ['setpriv', '--reuid=nobody', '--regid=nogroup', '--clear-groups', join(bin, prog), ...args]);
    const none = asNobody('tapscope-capture-none', ['-i', lab.vb]);
    const denied = collect(none);
    expect((await stopChild(none, 'SIGCONT')).code).toBe(2);
    expect(error(denied)).toEqual({ code: 'EPERM', message: expect.stringMatching(/Operation not permitted/) });

    const flags = () => Number(lab.exec(lab.b, `cat /sys/class/net/${lab.vb}/flags`).trim());
    const IFF_PROMISC = 0x100;
    expect(flags() & IFF_PROMISC).toBe(0);
    for (const promisc of [true, false]) {
      const p = asNobody('tapscope-capture-raw', ['-i', lab.vb, '-f', `tcp port ${PORT}`, ...(promisc ? [] : ['-p'])]);
      const run = collect(p);
      await started(p, run);
      expect(error(run)).toBeUndefined();
      expect(ready(run)?.backend).toBe('tapscope-capture');
      expect(flags() & IFF_PROMISC).toBe(promisc ? IFF_PROMISC : 0);
      // Once the interface is open the process holds no capability and cannot regain one.
      // (ip netns exec and setpriv exec the program: the child's pid is the program's.)
      const prog = sh(`cat /proc/${p.pid}/status`);
      expect(prog).toMatch(/^Name:\s+tapscope-captur/m);
      expect(prog).toMatch(/^CapEff:\s+0+$/m);
      expect(prog).toMatch(/^CapPrm:\s+0+$/m);
      expect(prog).toMatch(/^NoNewPrivs:\s+1$/m);
      expect(lab.fetch(PORT, 'page.bin', 1)).toBe(1);
      await new Promise((r) => setTimeout(r, 150));
      const done = await stopChild(p, 'SIGTERM');
      expect(done.code).toBe(0);
      expect(end(run)).toEqual({ reason: 'stopped' });
      expect(run.packets.length).toBeGreaterThan(10);
    }
    expect(flags() & IFF_PROMISC).toBe(0);
  });
});
