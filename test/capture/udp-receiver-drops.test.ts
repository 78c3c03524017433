// The cloud-TAP receive path's accounting (issue 13): every datagram of a bounded burst on
// loopback is either received (in order, with its receive time) or counted as dropped — by
// the kernel (socket buffer full) or by the app (the receive program's queue full) — on the
// native receive program and on the Node dgram fallback; bad and oversize datagrams are
// counted; a killed receive program and a vanished listening address end with a clear
// message. tshark reads the spool back as the oracle for order, lengths and timestamps.
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CaptureService } from '../../main/capture/service.js';
import type { UdpTapReceiver } from '../../main/capture/udp-receiver.js';
import { tsharkFields } from '../helpers/captures.js';
import { sendAsync, sendBlocking } from './udp-burst.js';
import { skipUnlessRequired } from '../helpers/privileged.js';
// @ts-expect-error: plain JavaScript build script
import { buildReceiveBinary, RECEIVE_BINARY } from '../../scripts/build-tapcap.mjs';

const hasTshark = !skipUnlessRequired('receiver drop accounting', spawnSync('tshark', ['-v']).status === 0 ? null : 'tshark is not installed');
const programReason = process.platform !== 'linux' ? 'the receive program is Linux-only'
  : existsSync(RECEIVE_BINARY) || buildReceiveBinary() ? null : 'out/native/tapscope-receive could not be built (no C compiler)';
const hasProgram = !skipUnlessRequired('native receive program', programReason);
const rootReason = process.getuid?.() === 0 && spawnSync('ip', ['-V']).status === 0 ? null : 'needs root and iproute2 (a veth pair)';
const dir = mkdtempSync(join(tmpdir(), 'tsEudpd-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(() => {
  delete process.env.TAPSCOPE_RECEIVER_BACKEND;
  delete process.env.TAPSCOPE_RECEIVE_EXEC;
});

async function until(cond: () => boolean, ms = 10000): Promise<void> {
  for (const end = Date.now() + ms; !cond() && Date.now() < end;) await new Promise((r) => setTimeout(r, 20));
}

/** Waits until the counters stop moving (everything queued delivered), then stops. */
async function settle(rx: UdpTapReceiver, sent: number) {
  const c = rx.counters;
  await until(() => c.packets + c.droppedByApp + (c.droppedByKernel ?? 0) >= sent);
  return rx.stop();
}

/** The spool as tshark reads it: [epoch time, captured length, wire length, sequence] per frame. */
function spool(path: string, port: number): { ts: number; cap: number; len: number; seq: number }[] {
  // (udp.payload lists the outer then the inner datagram's payload.)
  return tsharkFields(path, ['frame.time_epoch', 'frame.cap_len', 'frame.len', 'udp.payload'], ['-d', `udp.port==${port},vxlan`])
    .map((r) => ({ ts: Number(r[0]), cap: Number(r[1]), len: Number(r[2]), seq: parseInt((r[3].split(',').pop() ?? '').replace(/:/g, '').slice(0, 8), 16) }));
}

const strictlyIncreasing = (v: number[]) => v.every((x, i) => i === 0 || x > v[i - 1]);
const BACKENDS = [['tapscope-receive', hasProgram], ['dgram', true]] as const;

describe.skipIf(!hasTshark)('receive path accounting', () => {
  for (const [backend, available] of BACKENDS) {
    const listen = (o: Record<string, unknown>, name: string) => {
      if (backend === 'dgram') process.env.TAPSCOPE_RECEIVER_BACKEND = 'dgram';
      return new CaptureService().listen({ vxlan: [0], address: '127.0.0.1', output: join(dir, `${backend}-${name}.pcapng`), ...o });
    };

    it.skipIf(!available)(`${backend}: a burst is received in order with receive times, or counted as dropped`, async () => {
      const rx = await listen({}, 'burst');
      expect(rx.backend).toBe(backend);
      expect(rx.receiveBuffer).toBeGreaterThan(0);
      const port = rx.ports[0].port;
      const t0 = Date.now() / 1000;
      const sent = 20000;
      await sendAsync(port, { count: sent });
      const end = await settle(rx, sent);
      const t1 = Date.now() / 1000;
      const c = end.counters;
      expect(end.error).toBeNull();
      expect(c.packets + c.droppedByApp + (c.droppedByKernel ?? 0)).toBe(sent);
      expect(c.received).toBe(sent);
      expect(rx.notTunnel).toBe(0);
      const rows = spool(c.files[0], port);
      expect(rows.length).toBe(c.packets);
      expect(strictlyIncreasing(rows.map((r) => r.seq))).toBe(true);
      if (c.packets === sent) expect(rows.map((r) => r.seq)).toEqual(Array.from({ length: sent }, (_, i) => i));
      expect(rows.every((r, i) => (i === 0 || r.ts >= rows[i - 1].ts) && r.ts >= t0 - 0.001 && r.ts <= t1 + 0.001)).toBe(true);
      expect(rows.every((r) => r.cap === 14 + 20 + 8 + 64 && r.len === r.cap)).toBe(true);
      // The live analysis saw the same datagrams: one tunnel, every inner UDP flow.
      expect(rx.session.tunnels.summary().find((t) => t.type === 'vxlan')?.packets).toBe(c.packets);
    });

    it.skipIf(!available)(`${backend}: a reader that stops reading makes kernel drops, counted exactly`, async () => {
      const rx = await listen({ receiveBufferSize: 65536 }, 'kernel');
      const port = rx.ports[0].port;
      const sent = 5000;
      const pid = rx.receiverPid;
      if (pid) {
        // The receive program stalled: the socket buffer fills and the kernel drops the rest.
        process.kill(pid, 'SIGSTOP');
        try {
          await sendAsync(port, { count: sent });
        } finally {
          process.kill(pid, 'SIGCONT');
        }
      } else {
        sendBlocking(port, { count: sent }); // the dgram path reads on this (blocked) thread
      }
      const end = await settle(rx, sent);
      const c = end.counters;
      expect(end.error).toBeNull();
      expect(c.droppedByKernel).toBeGreaterThan(0);
      expect(c.droppedByApp).toBe(0);
      expect(c.packets + c.droppedByKernel!).toBe(sent);
      expect(c.received).toBe(sent);
      const rows = spool(c.files[0], port);
      expect(rows.length).toBe(c.packets);
      expect(strictlyIncreasing(rows.map((r) => r.seq))).toBe(true);
    });

    it.skipIf(!available)(`${backend}: two ports, each datagram analysed as its port's tunnel`, async () => {
      const rx = await listen({ geneve: [0] }, 'two');
      expect(rx.ports.map((p) => p.encap)).toEqual(['vxlan', 'geneve']);
      const [vx, gn] = rx.ports.map((p) => p.port);
      await sendAsync(vx, { count: 100 });
      await sendAsync(gn, { count: 50 }); // VXLAN headers on the GENEVE port: not GENEVE
      const end = await settle(rx, 150);
      expect(end.counters.packets).toBe(150);
      expect(rx.notTunnel).toBe(50);
      expect(rx.session.tunnels.summary().filter((t) => t.type === 'vxlan').map((t) => t.packets)).toEqual([100]);
      // One spool interface per port, named for it.
      expect(rx.sink.interfaces.map((i) => i.name)).toEqual([`udp:${vx}`, `udp:${gn}`]);
      expect(tsharkFields(end.counters.files[0], ['frame.interface_name', 'udp.dstport'], []).map((r) => [r[0], r[1].split(',')[0]]))
        .toEqual([...Array(100).fill([`udp:${vx}`, String(vx)]), ...Array(50).fill([`udp:${gn}`, String(gn)])]);
    });

    it.skipIf(!available)(`${backend}: bad datagrams and datagrams longer than the snap length are counted`, async () => {
      const rx = await listen({ snaplen: 1000 }, 'bad');
      const port = rx.ports[0].port;
      const sent = 600; // every 6th not VXLAN (I flag clear), every 10th 3000 bytes
      await sendAsync(port, { count: sent, size: 120, bad: 6, big: 10, bigSize: 3000 });
      const end = await settle(rx, sent);
      const c = end.counters;
      expect(c.packets).toBe(sent);
      const isBad = (i: number) => i % 6 === 5;
      const isBig = (i: number) => i % 10 === 9;
      const all = Array.from({ length: sent }, (_, i) => i);
      expect(rx.notTunnel).toBe(all.filter(isBad).length);
      expect(rx.truncated).toBe(all.filter(isBig).length);
      // tshark: the big ones cut at the snap length, their wire length kept.
      const rows = tsharkFields(c.files[0], ['frame.cap_len', 'frame.len'], []).map((r) => r.map(Number));
      expect(rows).toEqual(all.map((i) => (isBig(i) ? [42 + 1000, 42 + 3000] : [42 + 120, 42 + 120])));
    });
  }

  it.skipIf(!hasProgram)('tapscope-receive: an analysis that falls behind its queue makes app drops, counted exactly', async () => {
    // A 1 MiB queue (and the 1 MiB pipe) hold about 12,000 of these 8.5 MB; this thread is
    // blocked while they arrive, so the rest must be app drops, never kernel drops or blocking.
    const rx = await new CaptureService().listen({ vxlan: [0], address: '127.0.0.1', output: join(dir, 'app.pcapng'), queueBytes: 1 << 20 });
    const port = rx.ports[0].port;
    const sent = 40000;
    sendBlocking(port, { count: sent, size: 150 });
    const end = await settle(rx, sent);
    const c = end.counters;
    expect(end.error).toBeNull();
    expect(c.droppedByApp).toBeGreaterThan(0);
    expect(c.packets + c.droppedByApp + c.droppedByKernel!).toBe(sent);
    expect(c.received).toBe(sent);
    const rows = spool(c.files[0], port);
    expect(rows.length).toBe(c.packets);
    expect(strictlyIncreasing(rows.map((r) => r.seq))).toBe(true);
  });

  it.skipIf(!hasProgram)('tapscope-receive: a killed receive program ends the feed with a clear message', async () => {
    const rx = await new CaptureService().listen({ vxlan: [0], address: '127.0.0.1', output: join(dir, 'killed.pcapng') });
    await sendAsync(rx.ports[0].port, { count: 100 });
    await until(() => rx.counters.packets === 100);
    process.kill(rx.receiverPid!, 'SIGKILL');
    const end = await rx.ended;
    expect(end.reason).toBe('error');
    expect(end.error?.message).toMatch(/receive program was killed by SIGKILL: the feed is no longer received/);
    expect(end.counters.packets).toBe(100);
    expect(tsharkFields(end.counters.files[0], ['frame.number'], []).length).toBe(100);
  });

  it.skipIf(!hasProgram)('tapscope-receive: bad arguments are a one-line usage error (64), an address not on the host a clear refusal', async () => {
    for (const args of [[], ['-u', '70000'], ['-u', '1', '-a', 'bogus'], ['-u', '1', '-q', '5'], ['-u', '1', '-s', '10'], ['-u', '1', 'extra'], ['-x']]) {
      const r = spawnSync(RECEIVE_BINARY, args, { encoding: 'utf8', input: '' });
      expect(r.status, args.join(' ')).toBe(64);
      expect(r.stdout).toBe('');
      expect(r.stderr).toMatch(/^tapscope-receive: [^\n]+\(usage: [^\n]+\)\n$/);
    }
    const err = await new CaptureService().listen({ vxlan: [0], address: '192.0.2.77', output: join(dir, 'noaddr.pcapng') }).catch((e) => e);
    expect((err as Error).message).toBe('cannot listen on 192.0.2.77: that address is not on any interface of this host');
  });

  it('falls back to Node dgram sockets, saying why, when the program is not there', async () => {
    process.env.TAPSCOPE_RECEIVE_EXEC = join(dir, 'no-such-dir', 'tapscope-receive');
    const rx = await new CaptureService().listen({ vxlan: [0], address: '127.0.0.1', output: join(dir, 'fallback.pcapng') });
    expect(rx.backend).toBe('dgram');
    expect(rx.receiverPid).toBeNull();
    if (process.platform === 'linux') expect(rx.backendNote).toMatch(/was not built .* Node dgram sockets/);
    await sendAsync(rx.ports[0].port, { count: 50 });
    const end = await settle(rx, 50);
    expect(end.counters.packets).toBe(50);
  });

  it('a failed compile of the receive program warns instead of failing the build', () => {
    const cc = process.env.CC;
    const warn = console.warn;
    const warned: string[] = [];
    process.env.CC = 'false';
    console.warn = (m: string) => void warned.push(m);
    try {
      expect(buildReceiveBinary(join(dir, 'tapscope-receive-test'))).toBe(false);
    } finally {
      console.warn = warn;
      if (cc === undefined) delete process.env.CC;
      else process.env.CC = cc;
    }
    if (process.platform === 'linux') expect(warned.join('\n')).toMatch(/tapscope-receive: could not compile .*receive with Node's dgram sockets/);
  });
});

describe.skipIf(!hasProgram || skipUnlessRequired('vanished listening address', rootReason))('listening address that disappears', () => {
  const dev = 'tsH6rx0';
  const addr = '10.213.77.1';
  afterAll(() => void spawnSync('ip', ['link', 'del', dev]));

  it('ends the feed with a clear message when its interface is deleted', async () => {
    spawnSync('ip', ['link', 'del', dev]);
    for (const a of [['link', 'add', dev, 'type', 'veth', 'peer', 'name', `${dev}p`], ['addr', 'add', `${addr}/32`, 'dev', dev], ['link', 'set', dev, 'up']]) {
      expect(spawnSync('ip', a).status).toBe(0);
    }
    const rx = await new CaptureService().listen({ vxlan: [0], address: addr, output: join(dir, 'vanished.pcapng') });
    expect(rx.backend).toBe('tapscope-receive');
    expect(spawnSync('ip', ['link', 'del', dev]).status).toBe(0);
    const end = await Promise.race([rx.ended, new Promise<null>((r) => setTimeout(() => r(null), 5000))]);
    if (!end) await rx.stop();
    expect(end?.reason).toBe('error');
    expect(end?.error?.code).toBe('EIFACE');
    expect(end?.error?.message).toBe(`the listening address ${addr} is no longer on any interface of this host (the interface went away)`);
  });
});
