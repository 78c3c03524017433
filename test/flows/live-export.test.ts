/*
 * Live flow export: `tapscope listen --vxlan PORT --ipfix|--netflow9 HOST:PORT` run as a
 * process, fed VXLAN datagrams over loopback (the synthetic sensor feed, flow-feed.ts, and
 * the tunnel datagrams of a real capture), exporting to a real nfcapd and to a UDP socket
 * read with readIpfix. Checked: flows are exported on idle expiry while the feed runs (not
 * only at exit), every flow sent is one record per direction with the packets and IP
 * octets sent, the VNI, the flow end reasons, templates first, and RFC 7011 sequence
 * numbers with no gap (nfcapd: 0 sequence errors); the analysis's facts in live records
 * (handshake RTT, counters; HTTP host/status, DNS name/rcode, TLS SNI equal to `tapscope
 * flows` on the same capture, on idle expiry and at exit).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createSocket, type Socket } from 'node:dgram';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IpfixEncoder, readIpfix } from '../../main/flows/ipfix.js';
import { flowsOfFile } from '../../main/flows/flow-export.js';
import { openCapture } from '../../main/pcap/reader.js';
import { END_OF_FLOW } from '../../main/flows/flow-records.js';
import { capture, tsharkFields } from '../helpers/captures.js';
import { skipUnlessRequired } from '../helpers/privileged.js';
import { ACK, FEED_IP_LEN, RST, SYN, flowEndpoints, writeFrame } from './flow-feed.js';
import { Nfcapd, byKey, have, nfdumpFlows, tsharkUniflows } from './collector.js';

const REPO = join(__dirname, '..', '..');
const CLI = [process.execPath, '--import', 'tsx', join(REPO, 'test', 'flows', 'listen-cli.ts')];
const tools = skipUnlessRequired('live flow export', have('nfcapd') && have('nfdump') && spawnSync('tshark', ['-v']).status === 0 ? null : 'nfcapd/nfdump (Debian nfdump) or tshark missing');
const tmp = mkdtempSync(join(tmpdir(), 'tapscope-live-export-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const VXLAN_PAYLOAD = 14 + 20 + 8; // the VXLAN header starts after outer Ethernet + IPv4 + UDP

interface Listen { proc: ChildProcess; port: number; stderr: () => string; stdout: () => string; exit: Promise<number> }

/** Starts `tapscope listen` on a free port; resolves once it says it is listening. */
async function listen(extra: string[]): Promise<Listen> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = 20000 + Math.floor(Math.random() * 10000);
    const proc = spawn(CLI[0], [...CLI.slice(1), 'listen', '--vxlan', String(port), '--address', '127.0.0.1', '-w', join(tmp, `listen-${port}.pcapng`), '--json', ...extra], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    let out = '';
    proc.stderr!.on('data', (d) => (err += d));
    proc.stdout!.on('data', (d) => (out += d));
    const exit = new Promise<number>((r) => proc.once('exit', (c) => r(c ?? -1)));
    for (let i = 0; i < 100 && proc.exitCode === null && !err.includes('listening for'); i++) await sleep(100);
    if (err.includes('listening for')) return { proc, port, stderr: () => err, stdout: () => out, exit };
    proc.kill('SIGKILL');
    await exit;
    if (!err.includes('already in use')) throw new Error(`listen did not start: ${err}`);
  }
  throw new Error('no free port for listen');
}

/** Sends datagrams paced (bursts of 50, then a pause), so the receiver drops nothing. */
async function send(port: number, datagrams: Iterable<Uint8Array>): Promise<number> {
  const s = createSocket('udp4');
  let n = 0;
  try {
    for (const d of datagrams) {
      await new Promise<void>((res, rej) => s.send(d, port, '127.0.0.1', (e) => (e ? rej(e) : res())));
      if (++n % 50 === 0) await sleep(1);
    }
  } finally {
    s.close();
  }
  return n;
}

/** VXLAN payloads of flows [from, to): SYN then RST-ACK, VNI `vni`. */
function* feed(from: number, to: number, vni: number): Generator<Uint8Array> {
  const buf = new Uint8Array(256);
  for (let i = from; i < to; i++) {
    for (const [toServer, flags] of [[true, SYN], [false, RST | ACK]] as const) {
      const len = writeFrame(buf, i, toServer, flags, vni);
      yield buf.slice(VXLAN_PAYLOAD, len);
    }
  }
}

/** A UDP socket collecting every datagram (an IPFIX collector for readIpfix). */
async function rawCollector(): Promise<{ sock: Socket; port: number; got: { at: number; msg: Buffer }[] }> {
  // A 4 MiB socket buffer, as a collector of a live sensor's export is set up (nfcapd -B).
  const sock = createSocket({ type: 'udp4', recvBufferSize: 4 << 20 });
  const got: { at: number; msg: Buffer }[] = [];
  sock.on('message', (m) => got.push({ at: Date.now(), msg: m }));
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
  return { sock, port: sock.address().port, got };
}

async function stop(l: Listen): Promise<{ code: number; json: Record<string, unknown> }> {
  l.proc.kill('SIGTERM');
  const code = await l.exit;
  return { code, json: JSON.parse(l.stdout()) };
}

describe.skipIf(tools !== null)('live flow export from tapscope listen', () => {
  it('IPFIX on idle expiry while the feed runs: 2,000 flows, one record per direction, templates first, no sequence gap', async () => {
    const col = await rawCollector();
    const l = await listen(['--ipfix', `127.0.0.1:${col.port}`, '--flow-idle', '1']);
    try {
      await send(l.port, feed(0, 1000, 42));
      // Idle timeout (1 s) then the next tick: the first 1,000 flows' records arrive while
      // listen runs. Waited for as a condition (bounded), then the second half is sent.
      const records = (n: number) => readIpfix(Buffer.concat(col.got.slice(0, n).map((g) => g.msg))).messages.reduce((a, m) => a + m.records.length, 0);
      for (let i = 0; i < 200 && records(col.got.length) < 2000; i++) await sleep(100);
      const beforeSecondHalf = col.got.length;
      expect(records(beforeSecondHalf)).toBe(2000);
      await send(l.port, feed(1000, 2000, 42));
      for (let i = 0; i < 200 && records(col.got.length) < 4000; i++) await sleep(100);
      const { code, json } = await stop(l);
      expect(code, l.stderr()).toBe(0);
      await sleep(200);
      const all = readIpfix(Buffer.concat(col.got.map((g) => g.msg)));
      expect(all.errors).toEqual([]);
      expect(all.sequenceGaps).toBe(0);
      expect(all.messages[0].templates).toBe(2);
      // RFC 7011 §3.1: each message's sequence number = data records sent before it.
      let seq = 0;
      for (const m of all.messages) {
        expect(m.sequence).toBe(seq);
        seq += m.records.length;
      }
      const recs = all.messages.flatMap((m) => m.records);
      expect(recs).toHaveLength(4000);
      const firstHalf = readIpfix(Buffer.concat(col.got.slice(0, beforeSecondHalf).map((g) => g.msg))).messages.flatMap((m) => m.records);
      expect(firstHalf).toHaveLength(2000); // exported on expiry, before the second half was sent
      const seen = new Set<string>();
      for (const r of recs) {
        const toServer = r.destinationTransportPort === 80;
        const i = (() => { const ip = (toServer ? r.sourceIPv4Address : r.destinationIPv4Address) as string; const p = ip.split('.').map(Number); return (p[1] << 16) | (p[2] << 8) | p[3]; })();
        const e = flowEndpoints(i);
        expect([r.sourceIPv4Address, r.sourceTransportPort, r.destinationIPv4Address, r.destinationTransportPort]).toEqual(toServer ? [e.client, e.cport, e.server, 80] : [e.server, 80, e.client, e.cport]);
        expect([r.protocolIdentifier, r.packetDeltaCount, r.octetDeltaCount, r.tcpControlBits]).toEqual([6, 1, FEED_IP_LEN, toServer ? SYN : RST | ACK]);
        expect(r.layer2SegmentId).toBe(0x01 * 2 ** 56 + 42);
        expect(r.flowEndReason).toBe(END_OF_FLOW); // reset: end of flow detected, at the idle timeout
        seen.add(`${i} ${toServer}`);
      }
      expect(seen.size).toBe(4000);
      const flows = (json.capture as { flows: { records: number; ended: Record<string, number>; exporters: { messages: number; dropped: number }[]; recent: { srcPort: number; dstPort: number; connectionId: number }[] } }).flows;
      expect(flows.records).toBe(4000);
      // The summary keeps the newest 1,000 records (a fixed budget): the last 500 flows' two directions.
      expect(flows.recent).toHaveLength(1000);
      expect(new Set(flows.recent.map((r) => (r.dstPort === 80 ? r.srcPort : r.dstPort))).size).toBe(500);
      expect(Math.min(...flows.recent.map((r) => r.connectionId))).toBe(1500);
      expect(flows.ended.endOfFlow).toBe(2000);
      expect(flows.exporters[0]).toMatchObject({ messages: all.messages.length, dropped: 0 });
    } finally {
      col.sock.close();
      if (l.proc.exitCode === null) l.proc.kill('SIGKILL');
    }
  }, 60_000);

  it('live records carry the analysis\'s facts of their TCP connection (handshake RTT, counters) while it has them', async () => {
    const file = capture('vxlan-http.pcap');
    const payloads = tsharkFields(file, ['udp.payload'], ['-Y', 'udp.port == 4789']).map((r) => Buffer.from(r[0].split(',').pop()!.replace(/:/g, ''), 'hex'));
    const col = await rawCollector();
    const l = await listen(['--ipfix', `127.0.0.1:${col.port}`]);
    try {
      await send(l.port, payloads);
      await sleep(300);
      const { code, json } = await stop(l);
      expect(code, l.stderr()).toBe(0);
      for (let i = 0; i < 50 && readIpfix(Buffer.concat(col.got.map((g) => g.msg))).messages.flatMap((m) => m.records).length < 2; i++) await sleep(100);
      const recs = readIpfix(Buffer.concat(col.got.map((g) => g.msg))).messages.flatMap((m) => m.records);
      const conns = json.connections as { client: { ip: string; port: number }; server: { ip: string; port: number }; handshakeRtt: number | null; retransmissions: number; lostSegments: number; ackedUnseen: number }[];
      const tcp = conns.filter((c) => c.handshakeRtt !== null);
      expect(tcp.length).toBeGreaterThan(0);
      for (const c of tcp) {
        const mine = recs.filter((r) => (r.sourceIPv4Address === c.client.ip && r.sourceTransportPort === c.client.port) || (r.destinationIPv4Address === c.client.ip && r.destinationTransportPort === c.client.port));
        expect(mine).toHaveLength(2);
        for (const r of mine) {
          expect([r.handshakeRttMicroseconds, r.retransmittedPackets, r.captureLostSegments, r.captureAckedUnseen])
            .toEqual([Math.round(c.handshakeRtt! * 1e6), c.retransmissions, c.lostSegments, c.ackedUnseen]);
        }
      }
    } finally {
      col.sock.close();
      if (l.proc.exitCode === null) l.proc.kill('SIGKILL');
    }
  }, 60_000);

  for (const [name, when] of [['http-dns-ipv6-wikipedia.pcap', 'idle expiry'], ['tls-sni-multi-hosts.pcap', 'idle expiry'], ['http-dns-ipv6-wikipedia.pcap', 'exit'], ['tls-sni-multi-hosts.pcap', 'exit']] as const) {
    it(`live records carry HTTP host/status, DNS name/rcode and TLS SNI as tapscope flows does: ${name}, flows ended by ${when}`, async () => {
      // The capture's frames, each sent as a VXLAN datagram (VNI 7) to the listener.
      const file = capture(name);
      const frames: Buffer[] = [];
      const rd = openCapture(file);
      try {
        for (let p = rd.next(); p; p = rd.next()) frames.push(Buffer.concat([Buffer.from([0x08, 0, 0, 0, 0, 0, 7, 0]), Buffer.from(p.data.subarray(p.offset, p.offset + p.caplen))]));
      } finally {
        rd.close();
      }
      const col = await rawCollector();
      const l = await listen(['--ipfix', `127.0.0.1:${col.port}`, ...(when === 'exit' ? [] : ['--flow-idle', '1'])]);
      const want = flowsOfFile(file).records;
      try {
        await send(l.port, frames);
        const got = () => readIpfix(Buffer.concat(col.got.map((g) => g.msg))).messages.flatMap((m) => m.records);
        if (when === 'exit') await sleep(300);
        // Idle expiry: every record arrives while listen still runs (waited for, bounded).
        else for (let i = 0; i < 100 && got().length < want.length; i++) await sleep(100);
        const beforeStop = got().length;
        const { code } = await stop(l);
        expect(code, l.stderr()).toBe(0);
        expect(beforeStop).toBe(when === 'exit' ? 0 : want.length);
        for (let i = 0; i < 50 && got().length < want.length; i++) await sleep(100);
        // The file's records through the same encoder, so both sides read back alike.
        const fileRecs = readIpfix(Buffer.concat(new IpfixEncoder().encode(want, 0))).messages.flatMap((m) => m.records);
        const appFields = (recs: Record<string, unknown>[]) => {
          const m = new Map<string, string[]>();
          for (const r of recs) {
            const k = [r.protocolIdentifier, r.sourceIPv4Address ?? r.sourceIPv6Address, r.sourceTransportPort, r.destinationIPv4Address ?? r.destinationIPv6Address, r.destinationTransportPort].join(' ');
            const v = JSON.stringify([r.httpHost, r.httpStatusCode, r.dnsQueryName, r.dnsResponseCode, r.tlsServerName]);
            m.set(k, [...(m.get(k) ?? []), v].sort());
          }
          return m;
        };
        const live = appFields(got());
        const fromFile = appFields(fileRecs);
        expect([...live.keys()].sort()).toEqual([...fromFile.keys()].sort());
        for (const [k, v] of fromFile) expect([k, live.get(k)]).toEqual([k, v]);
        // Not vacuous: the capture's application facts are there.
        if (name.startsWith('http-dns')) {
          expect(fileRecs.filter((r) => r.httpHost !== '' && r.httpStatusCode !== 0).length).toBeGreaterThan(0);
          expect(fileRecs.filter((r) => r.dnsQueryName !== '' && r.dnsResponseCode !== 255).length).toBeGreaterThan(0);
        } else {
          const sni = new Set(tsharkFields(file, ['tls.handshake.extensions_server_name'], ['-Y', 'tls.handshake.type == 1']).map((r) => r[0]));
          expect(new Set(got().map((r) => r.tlsServerName).filter((s) => s !== ''))).toEqual(sni);
        }
      } finally {
        col.sock.close();
        if (l.proc.exitCode === null) l.proc.kill('SIGKILL');
      }
    }, 60_000);
  }

  for (const protocol of ['--ipfix', '--netflow9'] as const) {
    it(`${protocol} into nfcapd: a real capture's VXLAN feed, every inner direction as tshark counts it; open flows flushed at exit`, async () => {
      // The capture's tunnel datagrams, sent again to the listener (as udp-receiver.test.ts does).
      const file = capture('vxlan-http.pcap');
      const payloads = tsharkFields(file, ['udp.payload'], ['-Y', 'udp.port == 4789']).map((r) => Buffer.from(r[0].split(',').pop()!.replace(/:/g, ''), 'hex'));
      expect(payloads.length).toBeGreaterThan(0);
      const nf = new Nfcapd();
      await nf.start();
      const l = await listen([protocol, `127.0.0.1:${nf.port}`]);
      let recs: Record<string, unknown>[];
      let json: Record<string, unknown>;
      const t0 = Date.now();
      try {
        await send(l.port, payloads);
        await sleep(300);
        const r = await stop(l);
        expect(r.code, l.stderr()).toBe(0);
        json = r.json;
        recs = await nf.stop();
      } finally {
        nf.remove();
        if (l.proc.exitCode === null) l.proc.kill('SIGKILL');
      }
      const t1 = Date.now();
      expect(nf.output).toMatch(/Sequence Errors: 0\b/);
      // Packets and octets per direction as tshark counts the capture's inner layer; times are
      // the listener's arrival times (a live sensor stamps what it receives), within the run.
      const want = byKey(tsharkUniflows(file));
      const got = byKey(nfdumpFlows(recs));
      expect([...got.keys()].sort()).toEqual([...want.keys()].sort());
      for (const [k, w] of want) {
        const g = got.get(k)!;
        expect([k, g.packets, g.octets]).toEqual([k, w.packets, w.octets]);
        expect(g.firstMs).toBeGreaterThanOrEqual(Math.floor(t0 / 1000) * 1000);
        expect(g.lastMs).toBeLessThanOrEqual(t1);
        expect(g.lastMs).toBeGreaterThanOrEqual(g.firstMs);
      }
      const flows = (json.capture as { flows: { ended: Record<string, number>; records: number } }).flows;
      expect(flows.records).toBe(want.size);
      // The HTTP connection closed with FINs both ways (3); nothing else was open.
      expect(flows.ended.endOfFlow + flows.ended.forced).toBe(want.size / 2);
      expect(flows.ended.idle).toBe(0);
    }, 60_000);
  }
});

