/*
 * The live flow cache (flows/flow-cache.ts): on real captures, its records at exit equal
 * those `tapscope flows` exports (which ipfix-nfcapd.test.ts checks against tshark and a
 * real collector); on a synthetic feed, each expiry rule ends flows exactly when it says,
 * and a full cache ends the least recently active flow.
 */
import { describe, expect, it } from 'vitest';
import { analyzeFile } from '../../main/engine/analyze-file.js';
import { Decoder } from '../../main/decode/decoder.js';
import { FlowCache, END_LACK_OF_RESOURCES } from '../../main/flows/flow-cache.js';
import { flowsOfFile } from '../../main/flows/flow-export.js';
import { END_ACTIVE, END_FORCED, END_IDLE, END_OF_FLOW, type FlowRecord } from '../../main/flows/flow-records.js';
import { capture } from '../helpers/captures.js';
import { ACK, RST, SYN, feedRecord, flowEndpoints, writeFrame } from './flow-feed.js';

const FILES = ['http-get-basic.pcap', 'http-ipv4-and-ipv6.pcapng', 'vxlan-http.pcap', 'geneve-http-many-options.pcap', 'dns-nxdomain.pcapng',
  'tcp-syn-rst-refused.pcapng', 'http-dns-ipv6-wikipedia.pcap', 'tls-sni-multi-hosts.pcap', 'sll-http-retx-rst.pcap', 'many-conns-loopback-echo.pcap'];

const key = (r: FlowRecord) => `${r.proto} ${r.srcIp}:${r.srcPort}>${r.dstIp}:${r.dstPort} vni=${r.vni}/${r.vniType} vlan=${r.vlanId}`;
const facts = (r: FlowRecord) => ({ key: key(r), packets: r.packets, octets: r.octets, startMs: r.startMs, endMs: r.endMs, tcpFlags: r.tcpFlags, communityId: r.communityId });

describe('flow cache on real captures (no expiry: everything flushed at the end)', () => {
  for (const file of FILES) {
    it(file, () => {
      const fromFile = flowsOfFile(capture(file)).records;
      const live: FlowRecord[] = [];
      const cache = new FlowCache({ idleSec: 1e9, activeSec: 1e9 }, (r) => live.push(r));
      analyzeFile(capture(file), { analyzers: [{ onFrame: (f) => cache.observe(f) }] });
      cache.flushAll();
      expect(fromFile.length).toBeGreaterThan(0);
      // Same uniflows (a reused 5-tuple merges in the cache as for softflowd, so compare per key sums).
      const sum = (rs: FlowRecord[]) => {
        const m = new Map<string, ReturnType<typeof facts>>();
        for (const r of rs) {
          const f = facts(r);
          const g = m.get(f.key);
          if (!g) m.set(f.key, f);
          else m.set(f.key, { ...g, packets: g.packets + f.packets, octets: g.octets + f.octets, startMs: Math.min(g.startMs, f.startMs), endMs: Math.max(g.endMs, f.endMs), tcpFlags: g.tcpFlags | f.tcpFlags });
        }
        return [...m.values()].sort((a, b) => (a.key < b.key ? -1 : 1));
      };
      expect(sum(live)).toEqual(sum(fromFile));
      expect(cache.activeFlows).toBe(0);
    });
  }
});

/** Feeds packets (flow i, direction, flags, time ms) through the decoder into a cache. */
function feeder(cache: FlowCache, vni: number | null = null) {
  const dec = new Decoder();
  const buf = new Uint8Array(256);
  let n = 0;
  return (i: number, toServer: boolean, flags: number, ms: number) => {
    const len = writeFrame(buf, i, toServer, flags, vni);
    cache.observe(dec.decode(feedRecord(buf, len, ms, n++)));
  };
}

const T0 = 1_700_000_000_000;

describe('flow cache expiry', () => {
  it('idle timeout: a flow ends idleSec after its last packet, both directions reported', () => {
    const out: FlowRecord[] = [];
    const cache = new FlowCache({ idleSec: 2, activeSec: 100 }, (r) => out.push(r));
    const feed = feeder(cache, 7);
    feed(0, true, SYN, T0);
    feed(0, false, SYN | ACK, T0 + 10);
    cache.expire(T0 + 2009);
    expect(out).toHaveLength(0);
    cache.expire(T0 + 2010);
    expect(out.map((r) => [r.srcIp, r.srcPort, r.dstIp, r.dstPort, r.packets, r.octets, r.startMs, r.endMs, r.endReason, r.vni, r.vniType, r.tcpFlags])).toEqual([
      [flowEndpoints(0).client, 1024, '192.0.2.1', 80, 1, 40, T0, T0, END_IDLE, 7, 'vxlan', SYN],
      ['192.0.2.1', 80, flowEndpoints(0).client, 1024, 1, 40, T0 + 10, T0 + 10, END_IDLE, 7, 'vxlan', SYN | ACK],
    ]);
    expect(cache.activeFlows).toBe(0);
    expect(cache.stats.ended.idle).toBe(1);
  });

  it('active timeout: a long flow is reported activeSec after its start and the next packet starts a new one', () => {
    const out: FlowRecord[] = [];
    const cache = new FlowCache({ idleSec: 10, activeSec: 5 }, (r) => out.push(r));
    const feed = feeder(cache);
    for (let t = 0; t <= 7000; t += 1000) feed(3, true, ACK, T0 + t);
    // Packets at 0..4 s form the first flow; the one at 5 s ends it (reason 2) and starts the next.
    expect(out.map((r) => [r.packets, r.startMs, r.endMs, r.endReason])).toEqual([[5, T0, T0 + 4000, END_ACTIVE]]);
    cache.flushAll();
    expect(out.slice(1).map((r) => [r.packets, r.startMs, r.endMs, r.endReason])).toEqual([[3, T0 + 5000, T0 + 7000, END_FORCED]]);
  });

  it('end of flow: a reset flow ends with reason 3 at the idle timeout, or at once when a new SYN reuses its 5-tuple', () => {
    const out: FlowRecord[] = [];
    const cache = new FlowCache({ idleSec: 1, activeSec: 100 }, (r) => out.push(r));
    const feed = feeder(cache);
    feed(1, true, SYN, T0);
    feed(1, false, RST | ACK, T0 + 1);
    feed(2, true, SYN, T0 + 2);
    feed(2, false, RST | ACK, T0 + 3);
    feed(2, true, SYN, T0 + 500); // port reuse after the reset: a new flow
    expect(out.map((r) => [r.srcPort, r.endReason, r.packets])).toEqual([[1026, END_OF_FLOW, 1], [80, END_OF_FLOW, 1]]);
    cache.expire(T0 + 1001);
    expect(out.slice(2).map((r) => [r.srcPort, r.endReason])).toEqual([[1025, END_OF_FLOW], [80, END_OF_FLOW]]);
    cache.flushAll();
    expect(out.slice(4).map((r) => [r.srcPort, r.endReason, r.startMs])).toEqual([[1026, END_FORCED, T0 + 500]]);
  });

  it('a full cache ends the least recently active flow (lack of resources) and never holds more than maxFlows', () => {
    const out: FlowRecord[] = [];
    const cache = new FlowCache({ idleSec: 1000, activeSec: 1000, maxFlows: 100 }, (r) => out.push(r));
    const feed = feeder(cache);
    for (let i = 0; i < 100; i++) feed(i, true, SYN, T0 + i);
    feed(0, false, SYN | ACK, T0 + 200); // flow 0 is now the most recently active
    expect(out).toHaveLength(0);
    for (let i = 100; i < 1000; i++) {
      feed(i, true, SYN, T0 + 300 + i);
      expect(cache.activeFlows).toBeLessThanOrEqual(100);
    }
    expect(out[0].srcPort).toBe(1025); // flow 1 was the least recently active, not flow 0
    expect(out.every((r) => r.endReason === END_LACK_OF_RESOURCES)).toBe(true);
    expect(cache.stats.ended.lackOfResources).toBe(900);
    cache.flushAll();
    expect(cache.stats.records).toBe(1001); // 1000 client records + flow 0's reply
    expect(new Set(out.filter((r) => r.dstPort === 80).map((r) => r.srcPort + ' ' + r.srcIp)).size).toBe(1000);
  });

  it('records of distinct flows in order of expiry carry one running flow number each', () => {
    const out: FlowRecord[] = [];
    const cache = new FlowCache({ idleSec: 1, activeSec: 100 }, (r) => out.push(r));
    const feed = feeder(cache);
    for (let i = 0; i < 5000; i++) feed(i, true, SYN, T0 + i);
    cache.flushAll();
    expect(out).toHaveLength(5000);
    expect(out.filter((r) => r.endReason === END_IDLE)).toHaveLength(4000);
    expect(new Set(out.map((r) => r.connectionId)).size).toBe(5000);
  });
});
