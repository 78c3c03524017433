// Capture options on loopback: stop conditions, ring buffer, snap length; and the interface
// list's virtual-switch roles compared with `ip -d -j link` in a namespace.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSocket } from 'node:dgram';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CaptureService } from '../../main/capture/service.js';
import type { CaptureDevice } from '../../main/capture/interfaces.js';
import { tsharkFields } from '../helpers/captures.js';
import { CLI, ensureBuilt, sh, skipReason, stopChild, tsharkCount, waitFor } from './lab.js';
import { spawn } from 'node:child_process';

const skip = skipReason(['ip', 'tshark']);

/** Sends n datagrams of `size` bytes to 127.0.0.1:port (nobody listens; the capture sees them). */
async function blast(port: number, n: number, size: number): Promise<void> {
  const s = createSocket('udp4');
  const buf = Buffer.alloc(size, 0x5a);
  try {
    for (let i = 0; i < n; i++) {
      buf.writeUInt32BE(i, 0);
      await new Promise<void>((res) => s.send(buf, port, '127.0.0.1', () => res()));
    }
  } finally {
    s.close();
  }
}

describe.skipIf(skip !== null)(`capture options${skip ? ` (skipped: ${skip})` : ''}`, () => {
  const dir = mkdtempSync(join(tmpdir(), 'tsEopt-'));
  const svc = new CaptureService();
  beforeAll(async () => {
    await ensureBuilt();
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('stops after -c packets, with a snap length, keeping original lengths', async () => {
    const port = 47001;
    const out = join(dir, 'count.pcapng');
    const cap = await svc.start({ device: 'lo', filter: `udp dst port ${port}`, snaplen: 100, output: out, stop: { packets: 25 } });
    await blast(port, 60, 1200);
    const end = await cap.ended;
    expect(end.reason).toBe('packets');
    expect(end.counters.savedPackets).toBe(25);
    const rows = tsharkFields(out, ['frame.cap_len', 'frame.len', 'udp.length']);
    expect(rows.length).toBe(25);
    for (const [capLen, len, udpLen] of rows) {
      expect(Number(capLen)).toBe(100);
      expect(Number(len)).toBe(14 + 20 + Number(udpLen)); // the wire length, from the kernel
    }
  });

  it('falls back to the cap package when the addon is not available', async () => {
    const port = 47005;
    const out = join(dir, 'cap.pcapng');
    process.env.TAPSCOPE_CAPTURE_BACKEND = 'cap';
    let cap;
    try {
      cap = await svc.start({ device: 'lo', filter: `udp dst port ${port}`, output: out, stop: { packets: 20 } });
    } finally {
      delete process.env.TAPSCOPE_CAPTURE_BACKEND;
    }
    expect(cap.ready?.backend).toBe('cap');
    await blast(port, 30, 300);
    const end = await cap.ended;
    expect(end.reason).toBe('packets');
    expect(end.counters.droppedByKernel).toBeNull(); // cap cannot tell
    const rows = tsharkFields(out, ['frame.len', 'udp.payload']);
    expect(rows.length).toBe(20);
    rows.forEach((r, i) => {
      expect(Number(r[0])).toBe(14 + 20 + 8 + 300);
      expect(parseInt(r[1].slice(0, 8), 16)).toBe(i);
    });
  });

  it('stops at a file size', async () => {
    const port = 47002;
    const out = join(dir, 'size.pcapng');
    const cap = await svc.start({ device: 'lo', filter: `udp dst port ${port}`, output: out, stop: { bytes: 20_000 } });
    await blast(port, 100, 1000);
    const end = await cap.ended;
    expect(end.reason).toBe('bytes');
    const size = statSync(out).size;
    expect(size).toBeGreaterThanOrEqual(20_000);
    expect(size).toBeLessThan(20_000 + 1200);
    expect(tsharkCount(out)).toBe(end.counters.savedPackets);
  });

  it('stops after a duration', async () => {
    const t0 = Date.now();
    const cap = await svc.start({ device: 'lo', filter: 'udp dst port 47003', output: join(dir, 'dur.pcapng'), stop: { durationSec: 0.8 } });
    const end = await cap.ended;
    expect(end.reason).toBe('duration');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(800);
    expect(Date.now() - t0).toBeLessThan(10_000);
  });

  it('keeps a ring of N files of M MB', async () => {
    const port = 47004;
    const base = join(dir, 'ring.pcapng');
    const cap = await svc.start({ device: 'lo', filter: `udp dst port ${port}`, output: base, ring: { files: 3, fileMB: 0.05 } });
    await blast(port, 400, 1000); // ~430 kB: about 8 files of 50 kB
    await new Promise((r) => setTimeout(r, 300));
    const end = await cap.stop();
    expect(end.error).toBeNull();
    const files = end.counters.files;
    expect(files.length).toBe(3);
    for (const f of files) expect(existsSync(f)).toBe(true);
    for (const f of files.slice(0, -1)) expect(statSync(f).size).toBeGreaterThanOrEqual(50_000);
    expect(Number(/_(\d{5})_\d{14}\.pcapng$/.exec(files[0])![1])).toBeGreaterThan(1);
    // The kept files hold the last packets sent, in order (without a gap unless the kernel dropped some).
    const seq = files.flatMap((f) => tsharkFields(f, ['udp.payload']).map((r) => parseInt(r[0].slice(0, 8), 16)));
    const exact = end.counters.droppedByKernel === 0;
    if (exact) expect(seq[seq.length - 1]).toBe(399);
    for (let i = 1; i < seq.length; i++) {
      if (exact) expect(seq[i]).toBe(seq[i - 1] + 1);
      else expect(seq[i]).toBeGreaterThan(seq[i - 1]);
    }
  });

  it('tapscope capture stops cleanly on SIGTERM: complete file and the summary, like tcpdump', async () => {
    const port = 47006;
    const out = join(dir, 'term.pcapng');
    const p = spawn(process.execPath, [CLI, 'capture', '-i', 'lo', '-f', `udp dst port ${port}`, '-w', out], { stdio: ['ignore', 'pipe', 'pipe'] });
    await waitFor(p.stderr!, /capturing on lo/);
    await blast(port, 50, 200);
    await new Promise((r) => setTimeout(r, 300));
    const end = await stopChild(p, 'SIGTERM');
    expect(end.code).toBe(0);
    const n = Number(/(\d+) packets captured on lo/.exec(end.stderr)?.[1]);
    expect(end.stderr).toMatch(/\d+ packets received by filter\n\d+ packets dropped by kernel\n0 packets dropped by app/);
    const dropped = Number(/(\d+) packets dropped by kernel/.exec(end.stderr)?.[1]);
    expect(n).toBeLessThanOrEqual(50);
    expect(n + dropped).toBeGreaterThanOrEqual(50); // (on lo libpcap counts both copies of a packet)
    expect(tsharkCount(out)).toBe(n);
  });

  it('lists bridges, their ports, tap, veth and VXLAN devices as ip -d link describes them', () => {
    const ns = 'tsE6if';
    sh(`ip netns del ${ns}`, { ignoreError: true });
    sh(`ip netns add ${ns}`);
    try {
      sh(`ip -n ${ns} link add tsEbr0 type bridge && ip -n ${ns} link add tsEva type veth peer name tsEvb`);
      sh(`ip -n ${ns} link set tsEva master tsEbr0 && ip -n ${ns} tuntap add tsEtap0 mode tap && ip -n ${ns} link set tsEtap0 master tsEbr0`);
      sh(`ip -n ${ns} tuntap add tsEtun0 mode tun && ip -n ${ns} link add tsEvx0 type vxlan id 77 dstport 4789 local 10.233.0.1`);
      for (const d of ['tsEbr0', 'tsEva', 'tsEvb', 'tsEtap0', 'tsEtun0', 'tsEvx0', 'lo']) sh(`ip -n ${ns} link set ${d} up`);
      const mine = JSON.parse(sh(`ip netns exec ${ns} ${process.execPath} ${CLI} interfaces --json`)) as CaptureDevice[];
      const ip = JSON.parse(sh(`ip -n ${ns} -d -j link show`)) as { ifname: string; master?: string; linkinfo?: { info_kind?: string; info_data?: { type?: string } } }[];
      for (const l of ip) {
        const d = mine.find((x) => x.name === l.ifname);
        if (l.ifname === 'lo') {
          expect(d?.loopback).toBe(true);
          continue;
        }
        expect(d, l.ifname).toBeDefined();
        const kind = l.linkinfo?.info_kind;
        const role = kind === 'tun' ? l.linkinfo?.info_data?.type : kind; // tun's info_data.type is tap or tun
        expect(d!.virtual, l.ifname).toContain(role);
        expect(d!.master, l.ifname).toBe(l.master ?? null);
        if (l.master) expect(d!.virtual, l.ifname).toContain('bridge-port');
      }
      const br = mine.find((x) => x.name === 'tsEbr0')!;
      expect(br.ports).toEqual(['tsEtap0', 'tsEva']);
      expect(br.summary).toMatch(/bridge \(ports: tsEtap0, tsEva\)/);
      expect(mine.find((x) => x.name === 'tsEva')!.summary).toMatch(/port of tsEbr0.*veth|veth.*port of tsEbr0/);
    } finally {
      sh(`ip netns del ${ns}`, { ignoreError: true });
    }
  });
});
