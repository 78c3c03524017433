import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { capture, tsharkFields } from '../helpers/captures';
import { inProcess, openAndWait, overWebSocket, type Transport } from './harness';

/*
 * The I/O graph (ioGraph) against tshark: for corpus captures and intervals from 1 ms to
 * 10 s, the packets, bytes (frame.len) and retransmissions (tcp.analysis.retransmission) of
 * every bin equal those of tshark's packets binned by frame.time_relative (exact decimal
 * nanoseconds here), unfiltered, under a display filter (tshark -Y) and a time range.
 */

interface Oracle { packets: number[]; bytes: number[]; retransmissions: number[] }

function ns(rel: string): bigint {
  const [s, f = ''] = rel.split('.');
  return BigInt(s) * 1_000_000_000n + BigInt((f + '000000000').slice(0, 9));
}

const rowsCache = new Map<string, string[][]>();
function tsharkRows(file: string, filter: string | null): string[][] {
  const key = `${file}|${filter}`;
  let rows = rowsCache.get(key);
  // frame.time_relative is relative to the first packet even under -Y (tshark references the first frame read).
  if (!rows) rowsCache.set(key, (rows = tsharkFields(file, ['frame.time_relative', 'frame.len', 'tcp.analysis.retransmission'], filter ? ['-Y', filter] : [])));
  return rows;
}

function tsharkBins(file: string, interval: number, bins: number, filter: string | null, keep: (relNs: bigint) => boolean = () => true): Oracle {
  const rows = tsharkRows(file, filter);
  const iv = BigInt(Math.round(interval * 1e9));
  const o: Oracle = { packets: new Array(bins).fill(0), bytes: new Array(bins).fill(0), retransmissions: new Array(bins).fill(0) };
  for (const [rel, len, retx] of rows) {
    const t = ns(rel);
    if (!keep(t)) continue;
    const b = Math.min(bins - 1, Number(t / iv));
    o.packets[b]++;
    o.bytes[b] += Number(len);
    if (retx !== '') o.retransmissions[b]++;
  }
  return o;
}

const CASES: { file: string; intervals: number[]; filter: string }[] = [
  { file: 'http-retx-fastretx-dupack-ooo.pcap', intervals: [0.01, 0.1, 1, 10], filter: 'tcp.analysis.retransmission || tcp.len > 1000' },
  { file: 'many-conns-loopback-echo.pcap', intervals: [0.001, 0.01, 0.1, 1], filter: 'tcp.flags.syn == 1' },
  { file: 'tcp-zerowindow-recovery.pcapng', intervals: [0.01, 0.1, 1, 10], filter: 'tcp.window_size == 0' },
  { file: 'pcap-nsec-tcp-handshake-sll.pcap', intervals: [0.001, 0.1], filter: 'tcp' },
  { file: 'http-post-retx-dupack.pcap', intervals: [0.002, 0.05, 0.5], filter: 'ip.src == 10.0.0.0/8 && tcp.analysis.retransmission' },
];

describe('ioGraph: bins equal tshark\'s per interval', () => {
  let t: Transport;
  beforeAll(async () => {
    t = await inProcess();
  });
  afterAll(async () => t.close());

  for (const c of CASES) {
    it(c.file, async () => {
      const file = capture(c.file);
      const { info } = await openAndWait(t.api, file);
      const sid = info.sessionId;
      const all = tsharkRows(file, null).length;
      let retxSeen = 0;
      for (const interval of c.intervals) {
        const g = await t.api.ioGraph({ sessionId: sid, interval });
        expect(g.interval).toBe(interval);
        expect(g.adjusted).toBeNull();
        expect(g.packets.reduce((a, b) => a + b, 0)).toBe(all);
        const o = tsharkBins(file, interval, g.packets.length, null);
        expect(g.packets).toEqual(o.packets);
        expect(g.bytes).toEqual(o.bytes);
        expect(g.retransmissions).toEqual(o.retransmissions);
        retxSeen += o.retransmissions.reduce((a, b) => a + b, 0);
        // The same display filter tshark -Y applies.
        const f = await t.api.ioGraph({ sessionId: sid, interval, displayFilter: c.filter });
        const fo = tsharkBins(file, interval, f.packets.length, c.filter);
        expect(f.packets).toEqual(fo.packets);
        expect(f.bytes).toEqual(fo.bytes);
        expect(f.retransmissions).toEqual(fo.retransmissions);
      }
      if (c.file.includes('retx')) expect(retxSeen).toBeGreaterThan(0);

      // A time range: only packets inside it count (bins still start at the first packet).
      const g = await t.api.ioGraph({ sessionId: sid, interval: c.intervals[1] });
      const s = await t.api.summary(sid);
      const span = (s.file.lastTs ?? 0) - (s.file.firstTs ?? 0);
      const from = (s.file.firstTs ?? 0) + span / 3;
      const to = (s.file.firstTs ?? 0) + (2 * span) / 3;
      const r = await t.api.ioGraph({ sessionId: sid, interval: c.intervals[1], filter: { timeFrom: from, timeTo: to, tunnel: null, connectionIds: null } });
      const lo = BigInt(Math.ceil((span / 3) * 1e9)), hi = BigInt(Math.floor(((2 * span) / 3) * 1e9));
      const ro = tsharkBins(file, c.intervals[1], g.packets.length, null, (x) => x >= lo && x <= hi);
      expect(r.packets).toEqual(ro.packets);
      await t.api.closeSession(sid);
      rowsCache.clear();
    });
  }

  it('auto picks at most 500 bins; an interval too fine for the capture is widened and says so; bad intervals are refused', async () => {
    const file = capture('tcp-zerowindow-recovery.pcapng');
    const { info } = await openAndWait(t.api, file);
    const s = await t.api.summary(info.sessionId);
    const span = (s.file.lastTs ?? 0) - (s.file.firstTs ?? 0);
    const auto = await t.api.ioGraph({ sessionId: info.sessionId, interval: null });
    expect(auto.packets.length).toBeLessThanOrEqual(500);
    expect(auto.packets.length).toBe(Math.floor(span / auto.interval + 2.5e-7 / auto.interval) + 1);
    const fine = await t.api.ioGraph({ sessionId: info.sessionId, interval: 0.001 });
    if (span / 0.001 > 10_000) {
      expect(fine.interval).toBeGreaterThan(0.001);
      expect(fine.packets.length).toBeLessThanOrEqual(10_000);
      expect(fine.adjusted).toMatch(/at most 10,000/);
    } else expect(fine.adjusted).toBeNull();
    await expect(t.api.ioGraph({ sessionId: info.sessionId, interval: 0 })).rejects.toThrow(/interval/);
    await expect(t.api.ioGraph({ sessionId: info.sessionId, interval: Number.NaN })).rejects.toThrow(/interval/);
    await expect(t.api.ioGraph({ sessionId: info.sessionId, interval: 0.1, displayFilter: 'tcp.prot == 1' })).rejects.toThrow();
  });

  it('answers the same over the WebSocket transport', async () => {
    const file = capture('http-post-retx-dupack.pcap');
    const ws = await overWebSocket();
    try {
      const a = await openAndWait(t.api, file);
      const b = await openAndWait(ws.api, file);
      const q = { interval: 0.01, displayFilter: 'tcp.len > 0' };
      expect(await ws.api.ioGraph({ sessionId: b.info.sessionId, ...q })).toEqual(await t.api.ioGraph({ sessionId: a.info.sessionId, ...q }));
    } finally {
      await ws.close();
    }
  });
});
