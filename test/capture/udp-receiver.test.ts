// The cloud-TAP receiver on loopback (no privileges needed): the tunnel datagrams of real
// captures are sent to it again, and what it saves and analyses is compared with tshark's
// reading of the original capture.
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { createSocket } from 'node:dgram';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { CaptureService } from '../../main/capture/service.js';
import { innerFrame } from '../../main/capture/udp-receiver.js';
import { capture, tsharkFields } from '../helpers/captures.js';
import { skipUnlessRequired } from '../helpers/privileged.js';

const hasTshark = !skipUnlessRequired('cloud-TAP UDP receiver', spawnSync('tshark', ['-v']).status === 0 ? null : 'tshark is not installed');
const dir = mkdtempSync(join(tmpdir(), 'tsEudp-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const CASES = [
  { file: 'vxlan-http.pcap', encap: 'vxlan' as const, port: 4789, vniField: 'vxlan.vni', tsharkDecode: [] as string[] },
  { file: 'geneve-http-many-options.pcap', encap: 'geneve' as const, port: 6081, vniField: 'geneve.vni', tsharkDecode: [] as string[] },
  { file: 'tzsp-http-udp31337.pcapng', encap: 'tzsp' as const, port: 31337, vniField: null, tsharkDecode: ['-d', 'udp.port==31337,tzsp'] },
];
const INNER = ['ip.src', 'ip.dst', 'tcp.srcport', 'tcp.dstport', 'tcp.seq_raw', 'tcp.len'];
const last = (v: string) => v.split(',').pop() ?? '';

async function replay(payloads: Buffer[], port: number): Promise<void> {
  const s = createSocket('udp4');
  try {
    for (const p of payloads) await new Promise<void>((res, rej) => s.send(p, port, '127.0.0.1', (e) => (e ? rej(e) : res())));
  } finally {
    s.close();
  }
}

async function until(cond: () => boolean, ms = 5000): Promise<void> {
  for (const end = Date.now() + ms; !cond() && Date.now() < end;) await new Promise((r) => setTimeout(r, 20));
}

// Both receive paths: the native program (when built; CI builds it) and Node's dgram sockets.
const BACKENDS = ['tapscope-receive', 'dgram'] as const;
afterEach(() => void delete process.env.TAPSCOPE_RECEIVER_BACKEND);

describe.skipIf(!hasTshark)('cloud-TAP UDP receiver', () => {
  for (const c of CASES) {
    let orig: string[][] | null = null;
    for (const [save, backend] of [['received', 'tapscope-receive'], ['inner', 'tapscope-receive'], ['received', 'dgram'], ['inner', 'dgram']] as const) {
      it(`${c.encap} (${c.file}), saving ${save}, ${backend}`, async () => {
        if (backend === 'dgram') process.env.TAPSCOPE_RECEIVER_BACKEND = 'dgram';
        // Original: payload, VNI, inner fields, TCP stream (one tshark run per capture).
        orig ??= tsharkFields(capture(c.file), ['udp.payload', c.vniField ?? 'frame.number', ...INNER, 'tcp.stream'], [...c.tsharkDecode, '-Y', `udp.port == ${c.port}`]);
        expect(orig.length).toBeGreaterThan(0);
        const payloads = orig.map((r) => Buffer.from(last(r[0]).replace(/:/g, ''), 'hex'));
        const out = join(dir, `${c.encap}-${save}-${backend}.pcapng`);
        const rx = await new CaptureService().listen({ [c.encap]: [0], address: '127.0.0.1', save, output: out });
        expect(rx.backend).toBe(backend);
        const port = rx.ports[0].port;
        await replay(payloads, port);
        await until(() => rx.counters.packets >= payloads.length);
        const end = await rx.stop();
        expect(end.error).toBeNull();
        expect(end.counters.packets).toBe(payloads.length);
        expect(end.counters.droppedByKernel ?? 0).toBe(0);
        expect(rx.notTunnel).toBe(0);

        // The saved file, read by tshark, holds the same inner packets.
        const decode = save === 'received' ? ['-d', `udp.port==${port},${c.encap}`] : [];
        // (tshark prints a field named twice only once, so the outer ip.src is the first of INNER's.)
        const mine = tsharkFields(out, ['frame.protocols', 'udp.dstport', c.vniField ?? 'frame.number', ...INNER], decode);
        expect(mine.length).toBe(payloads.length);
        expect(mine.map((r) => r.slice(3).map(last))).toEqual(orig.map((r) => r.slice(2, 2 + INNER.length).map(last)));
        if (save === 'received') {
          // Outer headers name the sender (the TAP) and the listening socket.
          expect(mine.every((r) => r[0].includes(c.encap) && r[3].split(',')[0] === '127.0.0.1' && r[1].split(',')[0] === String(port))).toBe(true);
          if (c.vniField) expect(mine.map((r) => r[2])).toEqual(orig.map((r) => r[1]));
        } else {
          expect(mine.filter((r) => /vxlan|geneve|tzsp/.test(r[0]))).toEqual([]);
        }

        // The live analysis: the tunnel with the sender as outer source, and its VNI.
        const tunnels = rx.session.tunnels.summary().filter((t) => t.type === c.encap);
        expect(tunnels.map((t) => t.outerSrc)).toEqual(['127.0.0.1']);
        if (c.vniField) expect(tunnels[0].id).toBe(Number(orig[0][1]));
        expect(tunnels[0].packets).toBe(payloads.length);
        const conns = rx.session.connections.all.filter((x) => x.transport === 'tcp');
        const streams = new Set(orig.map((r) => last(r[r.length - 1])).filter((v) => v !== ''));
        expect(conns.length).toBe(streams.size);
      });
    }
  }

  for (const backend of BACKENDS) it(`listens on IPv6: outer IPv6 headers from the sender to the listening address, ${backend}`, async () => {
    if (backend === 'dgram') process.env.TAPSCOPE_RECEIVER_BACKEND = 'dgram';
    const orig = tsharkFields(capture('vxlan-http.pcap'), ['udp.payload', 'vxlan.vni'], ['-Y', 'udp.port == 4789']);
    const out = join(dir, `v6-${backend}.pcapng`);
    const rx = await new CaptureService().listen({ vxlan: [0], address: '::1', output: out });
    expect(rx.backend).toBe(backend);
    const port = rx.ports[0].port;
    const s = createSocket('udp6');
    try {
      for (const r of orig) await new Promise<void>((res, rej) => s.send(Buffer.from(last(r[0]).replace(/:/g, ''), 'hex'), port, '::1', (e) => (e ? rej(e) : res())));
    } finally {
      s.close();
    }
    await until(() => rx.counters.packets >= orig.length);
    await rx.stop();
    const rows = tsharkFields(out, ['ipv6.src', 'ipv6.dst', 'udp.dstport', 'vxlan.vni'], ['-d', `udp.port==${port},vxlan`]);
    expect(rows.length).toBe(orig.length);
    for (const r of rows) expect([r[0], r[1], r[2].split(',')[0], r[3]]).toEqual(['::1', '::1', String(port), orig[0][1]]);
    expect(rx.session.tunnels.summary().filter((t) => t.type === 'vxlan').map((t) => t.outerSrc)).toEqual(['::1']);
  });

  it('finds no inner frame in a datagram that is not the tunnel it claims', () => {
    expect(innerFrame('vxlan', Buffer.from('0000000000000000', 'hex'))).toBeNull(); // I flag clear
    expect(innerFrame('geneve', Buffer.from('c0006558', 'hex'))).toBeNull(); // version 3
    expect(innerFrame('tzsp', Buffer.from('01000001000000', 'hex'))).toBeNull(); // no END tag
  });

  for (const backend of BACKENDS) it(`refuses a port that is already taken, with a message, ${backend}`, async () => {
    if (backend === 'dgram') process.env.TAPSCOPE_RECEIVER_BACKEND = 'dgram';
    const a = await new CaptureService().listen({ vxlan: [0], address: '127.0.0.1', output: join(dir, 'a.pcapng') });
    try {
      const err = await new CaptureService().listen({ vxlan: [a.ports[0].port], address: '127.0.0.1', output: join(dir, 'b.pcapng') }).catch((e) => e);
      expect(err).toBeInstanceOf(Error);
      expect((err as Error).message).toMatch(/already in use/);
    } finally {
      await a.stop();
    }
  });
});
