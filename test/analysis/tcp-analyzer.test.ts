/*
 * TCP analysis rules on real captures, each compared with tshark run here: zero window,
 * fast retransmission and numbered duplicate ACKs, refused and unanswered handshakes,
 * snaplen-truncated packets, relative sequence numbers and window scaling, port reuse
 * and VNI separation (on captures derived from corpus files), and the JSON contract.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { capture, tsharkFields } from '../helpers/captures.js';
import { openCapture } from '../../main/pcap/reader.js';
import { Decoder } from '../../main/decode/decoder.js';
import { DUPACK_SHIFT, TcpA, tcpFlagLabels } from '../../main/analysis/tcp-flags.js';
import { seqSeries, synRetries, tcpCount, tcpDetail, rttSeries } from '../../main/analysis/tcp-report.js';
import { connectionJson } from '../../main/analysis/connection-json.js';
import { Arena, Column, RttSamples, Series, EXACT_SAMPLES } from '../../main/analysis/rtt-stats.js';
import { compareStream, oraclePackets, oracleStreams, tapscopeSession, tapscopeSummary } from './tcp-oracle.js';

const tmp = mkdtempSync(join(tmpdir(), 'tapscope-tcp-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** Per-packet flags and per-stream figures of Tapscope vs tshark; returns the differences. */
function diffWithTshark(path: string): string[] {
  const pk = oraclePackets(path);
  const session = tapscopeSession(path);
  const idx = session.index!;
  const d: string[] = [];
  for (const p of pk) {
    const got = idx.flags[p.frame - 1] & 0xffff;
    if (got !== p.flags) d.push(`frame ${p.frame}: 0x${got.toString(16)} != tshark 0x${p.flags.toString(16)}`);
  }
  for (const [id, st] of oracleStreams(pk)) d.push(...compareStream(path, id, st.summary, tapscopeSummary(session, idx.connId[st.first - 1])));
  return d;
}

function countFlag(path: string, flag: number): number {
  return oraclePackets(path).filter((p) => p.flags & flag).length;
}

interface Rec { tsSec: number; tsUsec: number; data: Uint8Array; origLen: number }

function readRecords(path: string): { linkType: number; recs: Rec[] } {
  const r = openCapture(path);
  const recs: Rec[] = [];
  let linkType = 1;
  for (let p = r.next(); p; p = r.next()) {
    linkType = p.linkType;
    recs.push({ tsSec: p.tsSec, tsUsec: Math.floor(p.tsNsec / 1000), data: p.data.slice(p.offset, p.offset + p.caplen), origLen: p.origLen });
  }
  r.close();
  return { linkType, recs };
}

/** A classic little-endian microsecond pcap (what the test derives its captures into). */
function writePcap(path: string, linkType: number, recs: Rec[]): void {
  const parts: Buffer[] = [];
  const h = Buffer.alloc(24);
  h.writeUInt32LE(0xa1b2c3d4, 0);
  h.writeUInt16LE(2, 4);
  h.writeUInt16LE(4, 6);
  h.writeUInt32LE(65535, 16);
  h.writeUInt32LE(linkType, 20);
  parts.push(h);
  for (const r of recs) {
    const rh = Buffer.alloc(16);
    rh.writeUInt32LE(r.tsSec, 0);
    rh.writeUInt32LE(r.tsUsec, 4);
    rh.writeUInt32LE(r.data.length, 8);
    rh.writeUInt32LE(r.origLen, 12);
    parts.push(rh, Buffer.from(r.data));
  }
  writeFileSync(path, Buffer.concat(parts));
}

describe('sequence analysis rules (vs tshark)', () => {
  it('zero window and its recovery (tcp-zerowindow-recovery.pcapng)', () => {
    const f = capture('tcp-zerowindow-recovery.pcapng');
    expect(countFlag(f, TcpA.ZeroWindow)).toBeGreaterThan(0);
    expect(diffWithTshark(f)).toEqual([]);
    const s = tapscopeSession(f);
    const j = connectionJson(s.connections.all[0]);
    expect(j.zeroWindows).toBe(countFlag(f, TcpA.ZeroWindow));
    expect(j.state).toBe('open'); // mid-stream: no handshake in the capture
  });

  it('fast retransmissions, numbered duplicate ACKs, out-of-order (http-retx-fastretx-dupack-ooo.pcap)', () => {
    const f = capture('http-retx-fastretx-dupack-ooo.pcap');
    const pk = oraclePackets(f);
    expect(pk.some((p) => p.flags & TcpA.FastRetransmission)).toBe(true);
    expect(pk.some((p) => p.dupAckNum > 1)).toBe(true);
    expect(diffWithTshark(f)).toEqual([]);
    const idx = tapscopeSession(f).index!;
    for (const p of pk) if (p.flags & TcpA.DuplicateAck) expect(idx.flags[p.frame - 1] >>> DUPACK_SHIFT, `frame ${p.frame}`).toBe(p.dupAckNum);
    const dup = pk.find((p) => p.dupAckNum > 1)!;
    expect(tcpFlagLabels(idx.flags[dup.frame - 1])).toContain(`Dup ACK #${dup.dupAckNum}`);
    const fast = pk.find((p) => p.flags & TcpA.FastRetransmission)!;
    expect(tcpFlagLabels(idx.flags[fast.frame - 1])).toContain('Fast retransmission');
  });

  it('RST answering SYNs is "refused", SYN retries counted (tcp-syn-rst-refused.pcapng)', () => {
    const f = capture('tcp-syn-rst-refused.pcapng');
    expect(diffWithTshark(f)).toEqual([]);
    const pk = oraclePackets(f);
    const s = tapscopeSession(f);
    for (const [, st] of oracleStreams(pk)) {
      const c = s.connections.all[s.index!.connId[st.first - 1]];
      expect(st.summary.state).toBe('refused');
      expect(connectionJson(c).state).toBe('refused');
      // A SYN retry is a pure SYN tshark marks as a retransmission.
      const retries = st.packets.filter((p) => (p.tcpFlags & 0x12) === 0x02 && p.flags & TcpA.Retransmission).length;
      expect(synRetries(s.connections.tcp!.table, c.id)).toBe(retries);
      // tshark's initial RTT counts a RST+ACK as the handshake's closing ACK: SYN -> RST time.
      expect(connectionJson(c).handshakeRtt).toBeCloseTo(st.summary.handshakeRtt!, 6);
    }
  });

  it('SYNs without an answer are "syn-unanswered" with their retries (tcp-syn-retries-unanswered.pcapng)', () => {
    const f = capture('tcp-syn-retries-unanswered.pcapng');
    expect(diffWithTshark(f)).toEqual([]);
    const pk = oraclePackets(f);
    const s = tapscopeSession(f);
    const tcp = s.connections.all.filter((c) => c.transport === 'tcp');
    expect(tcp.length).toBe(oracleStreams(pk).size);
    for (const c of tcp) {
      const j = connectionJson(c);
      expect(j.state).toBe('syn-unanswered');
      expect(j.synRetries).toBe(pk.filter((p) => p.flags & TcpA.Retransmission).length);
      expect(j.rtt).toBeNull();
    }
  });

  it('snaplen-truncated packets keep sequence lengths from the IP header (http-snaplen96-truncated.pcap)', () => {
    const f = capture('http-snaplen96-truncated.pcap');
    const rows = tsharkFields(f, ['frame.cap_len', 'frame.len', 'tcp.len']);
    expect(rows.some((r) => Number(r[0]) < Number(r[1]) && Number(r[2]) > 0)).toBe(true);
    expect(diffWithTshark(f)).toEqual([]);
    const s = tapscopeSession(f);
    const payload = rows.reduce((a, r) => a + Number(r[2] || 0), 0);
    expect(s.connections.all.filter((c) => c.transport === 'tcp').reduce((a, c) => a + c.payloadBytes, 0)).toBe(payload);
  });

  it('relative sequence numbers and window scaling as tshark (http-get-basic.pcap, http-206-zerowindow-retx-ooo.pcap)', () => {
    for (const name of ['http-get-basic.pcap', 'http-206-zerowindow-retx-ooo.pcap']) {
      const f = capture(name);
      const rows = tsharkFields(f, ['frame.number', 'tcp.stream', 'tcp.len', 'tcp.nxtseq', 'tcp.window_size_scalefactor', 'tcp.flags.syn', 'tcp.flags.fin'])
        .filter((r) => r[1] !== '');
      const s = tapscopeSession(f, [], true);
      const idx = s.index!;
      const at = (r: string[]): number => Number(r[0]) - 1;
      // Window scale after the last packet of each direction: tshark's -1 (unknown),
      // -2 (not used) or multiplier; Tapscope's shift (-1, -2, or 2^shift multiplier).
      const lastScale = new Map<string, number>();
      for (const r of rows) {
        if (r[5] === '1' || r[4] === '') continue;
        lastScale.set(`${idx.connId[at(r)]}|${idx.dir[at(r)]}`, Number(r[4]));
      }
      expect(lastScale.size).toBeGreaterThan(0);
      for (const [k, want] of lastScale) {
        const [id, dir] = k.split('|').map(Number);
        const d = tcpDetail(s.connections.tcp!.table, id);
        const shift = (dir === 1 ? d.client : d.server).windowScale;
        expect(shift < 0 ? shift : 2 ** shift, `${name} ${k}`).toBe(want);
      }
      // The Stevens series' points are tshark's relative next-sequence numbers of the data
      // segments (series not yet downsampled at these sizes).
      for (const c of s.connections.all) {
        for (const toServer of [true, false]) {
          const pts = seqSeries(s.connections.tcp!.table, c.id, toServer);
          if (!pts || pts.stride !== 1) continue;
          const want = rows
            .filter((r) => idx.connId[at(r)] === c.id && idx.dir[at(r)] === (toServer ? 1 : 2) && Number(r[2]) > 0)
            .map((r) => Number(r[3]) - (r[6] === '1' ? 1 : 0)); // tshark counts a FIN as one more
          expect(pts.v, `${name} conn ${c.id} ${toServer ? 'c->s' : 's->c'}`).toEqual(want);
        }
      }
    }
  });

  it('port reuse starts a new connection exactly when tshark starts a new stream', () => {
    // http-get-basic.pcap twice, the second copy 30 s later with new initial sequence numbers.
    const { linkType, recs } = readRecords(capture('http-get-basic.pcap'));
    const dec = new Decoder();
    const shifted: Rec[] = [];
    for (const r of recs) {
      const data = r.data.slice();
      const f = dec.decode({ index: 0, fileOffset: 0, data, view: new DataView(data.buffer), offset: 0, caplen: data.length, origLen: r.origLen, tsSec: r.tsSec, tsNsec: r.tsUsec * 1000, ts: r.tsSec, linkType, interfaceId: 0, comment: null });
      const o = f.payloadOff - f.tcpHdrLen;
      const v = new DataView(data.buffer);
      v.setUint32(o + 4, (v.getUint32(o + 4) + 0x10000000) >>> 0);
      if (v.getUint32(o + 8) !== 0) v.setUint32(o + 8, (v.getUint32(o + 8) + 0x10000000) >>> 0);
      shifted.push({ ...r, tsSec: r.tsSec + 30, data });
    }
    const path = join(tmp, 'port-reuse.pcap');
    writePcap(path, linkType, [...recs, ...shifted]);
    const pk = oraclePackets(path);
    expect(pk.some((p) => p.flags & TcpA.ReusedPorts)).toBe(true);
    expect(oracleStreams(pk).size).toBe(2);
    expect(diffWithTshark(path)).toEqual([]);
    const s = tapscopeSession(path);
    const tcp = s.connections.all.filter((c) => c.transport === 'tcp');
    expect(tcp.length).toBe(2);
    expect(tcpDetail(s.connections.tcp!.table, tcp[1].id).flagCounts.ReusedPorts).toBe(1);
  });

  it('the same 5-tuple in two VXLAN VNIs is two connections (tshark merges them)', () => {
    // vxlan-http.pcap, then the same packets in VNI + 1, 10 s later.
    const { linkType, recs } = readRecords(capture('vxlan-http.pcap'));
    const copy = recs.map((r) => {
      const data = r.data.slice();
      const ihl = (data[14] & 0x0f) * 4;
      const vxlan = 14 + ihl + 8;
      data[vxlan + 6] = (data[vxlan + 6] + 1) & 0xff; // low byte of the 24-bit VNI
      return { ...r, tsSec: r.tsSec + 10, data };
    });
    const path = join(tmp, 'two-vnis.pcap');
    writePcap(path, linkType, [...recs, ...copy]);
    const s = tapscopeSession(path);
    const tcp = s.connections.all.filter((c) => c.transport === 'tcp');
    expect(tcp.length).toBe(2);
    expect(tcp[0].tunnel[0].id).not.toBe(tcp[1].tunnel[0].id);
    // Each connection is exactly what tshark sees in the original, single-VNI capture.
    const orig = oracleStreams(oraclePackets(capture('vxlan-http.pcap')));
    expect(orig.size).toBe(1);
    const [, st] = [...orig][0];
    for (const c of tcp) {
      const got = tapscopeSummary(s, c.id);
      expect(compareStream('two-vnis', c.id, { ...st.summary }, got)).toEqual([]);
    }
    // tshark keys conversations without the VNI: one stream holding both copies.
    expect(oracleStreams(oraclePackets(path)).size).toBe(1);
  });
});

describe('connection output', () => {
  it('connectionJson has exactly the CLI contract fields, in order', () => {
    const s = tapscopeSession(capture('http-post-retx-dupack.pcap'));
    const j = connectionJson(s.connections.all[0]);
    expect(Object.keys(j)).toEqual(['id', 'transport', 'client', 'server', 'tunnel', 'firstTs', 'lastTs', 'packets', 'bytes', 'packetsToServer',
      'packetsToClient', 'payloadBytes', 'state', 'synRetries', 'handshakeRtt', 'rtt', 'retransmissions', 'fastRetransmissions',
      'spuriousRetransmissions', 'outOfOrder', 'lostSegments', 'ackedUnseen', 'duplicateAcks', 'zeroWindows', 'zeroWindowProbes',
      'windowFull', 'keepAlives', 'resets', 'communityId']);
    expect(Object.keys(j.rtt as object)).toEqual(['samples', 'min', 'median', 'p95', 'max']);
    const udp = tapscopeSession(capture('dns-nxdomain.pcapng')).connections.all.find((c) => c.transport === 'udp')!;
    const u = connectionJson(udp);
    expect(u.rtt).toBeNull();
    expect(u.handshakeRtt).toBeNull();
    expect(u.retransmissions).toBe(0);
  });

  it('detail for the UI: counters, per-side facts and chart series, from memory', () => {
    const f = capture('http-206-zerowindow-retx-ooo.pcap');
    const s = tapscopeSession(f, [], true);
    const t = s.connections.tcp!.table;
    const c = s.connections.all.filter((x) => x.transport === 'tcp').sort((a, b) => b.packets - a.packets)[0];
    const d = tcpDetail(t, c.id);
    expect(d.counters.retransmissions).toBe(tcpCount(t, c.id, 'Retransmission'));
    const r = rttSeries(t, c.id);
    const n = (r.toServer?.v.length ?? 0) + (r.toClient?.v.length ?? 0);
    expect(n).toBeGreaterThan(0);
    expect(n).toBeLessThanOrEqual(d.rtt!.samples);
    const seq = d.seqSeries.toClient ?? d.seqSeries.toServer;
    expect(seq!.v.length).toBeGreaterThan(0);
    // Retransmitted segments stay marked in the Stevens series.
    if (d.counters.retransmissions > 0) expect(seq!.mark.some((m) => m & TcpA.Retransmission)).toBe(true);
  });
});

describe('bounded memory', () => {
  it('Series keeps at most cap points, and marks survive downsampling', () => {
    const s = new Series(64);
    for (let i = 0; i < 100_000; i++) s.add({ ts: i }, i % 1000, i === 54_321 ? TcpA.Retransmission : 0);
    const p = s.points();
    expect(p.t.length).toBeLessThanOrEqual(65);
    expect(p.mark.some((m) => m & TcpA.Retransmission)).toBe(true);
    expect(Math.max(...p.v)).toBe(999);
    expect(p.stride).toBeGreaterThan(1);
  });

  it('Column: arena-backed list keeps every value through growth, truncation and shared slabs', () => {
    for (const arena of [new Arena(), new Arena(8)]) {
      const a = new Column(arena);
      const b = new Column(arena);
      const ra: number[] = [];
      const rb: number[] = [];
      for (let i = 0; i < 3000; i++) {
        a.push(i * 1.5);
        ra.push(i * 1.5);
        if (i % 3 === 0) {
          b.push(-i);
          rb.push(-i);
        }
        if (i % 777 === 776) {
          const n = ra.length >> 1;
          a.truncate(n);
          ra.length = n;
        }
      }
      expect(a.toArray()).toEqual(ra);
      expect(b.toArray()).toEqual(rb);
      a.set(5, 42);
      expect(a.get(5)).toBe(42);
      const r = new Column(arena, 3);
      for (let i = 0; i < 500; i++) r.push3(i, -i, i * 2);
      r.truncate(123);
      for (let i = 123; i < 300; i++) r.push3(i, -i, i * 2);
      expect(r.toArray(1)).toEqual(Array.from({ length: 300 }, (_, i) => -i));
      expect(r.toArray(2)).toEqual(Array.from({ length: 300 }, (_, i) => i * 2));
    }
  });

  it('RttSamples: exact up to EXACT_SAMPLES, then a bounded reservoir with exact min/max', () => {
    const r = new RttSamples(128);
    const n = EXACT_SAMPLES * 4;
    for (let i = 0; i < n; i++) r.add({ ts: i }, (i * 7919) % n);
    expect(r.count).toBe(n);
    expect(r.values().length).toBe(EXACT_SAMPLES);
    expect(r.min).toBe(0);
    expect(r.max).toBe(n - 1);
    expect(r.points()!.t.length).toBeLessThanOrEqual(129);
  });
});
