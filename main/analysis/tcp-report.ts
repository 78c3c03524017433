import {
  C_FIRST_RTT, C_RTT_MAX, C_RTT_MIN, CONN_I32, COUNTS, F_BASE_SEQ, F_DATA_BYTES, FLOW_F64, FLOW_I32, I_BASE_SEQ_SET, I_DSACKS, I_FIN_SEEN,
  I_PACKETS, I_RST_SEEN, I_SACK_PACKETS, I_WIN_SCALE, K_FIN_BOTH_BEFORE_RST, K_HEAVY, K_PURE_SYNS, K_RST_FROM_SERVER_BEFORE_SYNACK,
  K_RTT_KEPT, K_RTT_N_C2S, K_RTT_N_S2C, K_RTT_OFF, K_SYN_ACK_SEEN, CONN_F64, type HeavyFlow, type TcpTable,
} from '../flows/tcp-state.js';
import { summarize, type RttSummary, type SeriesPoints } from './rtt-stats.js';
import { TCP_FLAG_INFO, TcpA, type TcpFlagName } from './tcp-flags.js';

/*
 * What the TCP analysis says about one connection, read from the TcpTable's columns
 * (flows/tcp-state.ts): state, counters, RTTs for the report, and the detail view's facts.
 */

export type TcpState = 'syn-unanswered' | 'refused' | 'established' | 'closed' | 'reset' | 'open';

/** Every state, for compact encodings (index = code). */
export const TCP_STATES: readonly TcpState[] = ['open', 'syn-unanswered', 'refused', 'established', 'closed', 'reset'];

/** Counters of one connection in the CLI contract's names (README "connections"). */
export interface TcpCounters {
  retransmissions: number;
  fastRetransmissions: number;
  spuriousRetransmissions: number;
  outOfOrder: number;
  lostSegments: number;
  ackedUnseen: number;
  duplicateAcks: number;
  zeroWindows: number;
  zeroWindowProbes: number;
  windowFull: number;
  keepAlives: number;
  resets: number;
}

/** The report's TCP facts of one connection (README "connections"). */
export interface TcpSummary {
  state: TcpState;
  synRetries: number;
  handshakeRtt: number | null;
  rtt: RttSummary | null;
  counters: TcpCounters;
}

const flowI = (c: number, d: number, k: number): number => (c * 2 + d) * FLOW_I32 + k;

/** Packets of connection `c` marked with the flag. */
export function tcpCount(t: TcpTable, c: number, name: TcpFlagName): number {
  return t.counts[c * COUNTS + 31 - Math.clz32(TcpA[name])];
}

export function tcpState(t: TcpTable, c: number): TcpState {
  const fi = t.fi;
  const ci = t.ci;
  const k = c * CONN_I32;
  const rst = fi[flowI(c, 0, I_RST_SEEN)] || fi[flowI(c, 1, I_RST_SEEN)];
  const synSeen = ci[k + K_PURE_SYNS] > 0;
  const synAck = ci[k + K_SYN_ACK_SEEN] !== 0;
  const serverPackets = fi[flowI(c, 1, I_PACKETS)];
  if (rst) {
    if (synSeen && ci[k + K_RST_FROM_SERVER_BEFORE_SYNACK] && serverPackets > 0 && !synAck) return 'refused';
    if (ci[k + K_FIN_BOTH_BEFORE_RST]) return 'closed';
    return 'reset';
  }
  if (fi[flowI(c, 0, I_FIN_SEEN)] && fi[flowI(c, 1, I_FIN_SEEN)]) return 'closed';
  if (synSeen && serverPackets === 0) return 'syn-unanswered';
  if (synSeen || synAck) return 'established';
  return 'open';
}

/** The flag each contract counter counts. */
export const TCP_FLAG_NAME_OF_COUNTER: Readonly<Record<keyof TcpCounters, TcpFlagName>> = {
  retransmissions: 'Retransmission',
  fastRetransmissions: 'FastRetransmission',
  spuriousRetransmissions: 'SpuriousRetransmission',
  outOfOrder: 'OutOfOrder',
  lostSegments: 'LostSegment',
  ackedUnseen: 'AckedUnseen',
  duplicateAcks: 'DuplicateAck',
  zeroWindows: 'ZeroWindow',
  zeroWindowProbes: 'ZeroWindowProbe',
  windowFull: 'WindowFull',
  keepAlives: 'KeepAlive',
  resets: 'Reset',
};

/** The counters in the contract's order. */
export const COUNTER_KEYS = Object.keys(TCP_FLAG_NAME_OF_COUNTER) as (keyof TcpCounters)[];

export function tcpCounters(t: TcpTable, c: number): TcpCounters {
  const out = {} as TcpCounters;
  for (const k of COUNTER_KEYS) out[k] = tcpCount(t, c, TCP_FLAG_NAME_OF_COUNTER[k]);
  return out;
}

/** ACK RTT over both directions (seconds), or null without samples. */
export function ackRtt(t: TcpTable, c: number): RttSummary | null {
  return t.rttSummary(c);
}

/** Sorting room for releasedAckRtt (grown to the largest sample count seen). */
let rttScratch = new Float64Array(64);

/**
 * ackRtt without allocating, for the report writer: when every sample of connection `c`
 * was released to the table's rttStore (no heavy state left, at least one value kept),
 * writes samples, min, median, p95, max into out[0..4] (the numbers ackRtt gives) and
 * returns 1; returns 0 when the connection has no samples; -1 when it still has heavy
 * state or kept nothing (ask ackRtt).
 */
export function releasedAckRtt(t: TcpTable, c: number, out: Float64Array): number {
  const ci = t.ci;
  const ko = c * CONN_I32;
  if (ci[ko + K_HEAVY] !== 0) return -1;
  const count = ci[ko + K_RTT_N_C2S] + ci[ko + K_RTT_N_S2C];
  if (count === 0) return 0;
  const n = ci[ko + K_RTT_KEPT];
  if (n === 0) return -1;
  if (rttScratch.length < n) rttScratch = new Float64Array(Math.max(n, rttScratch.length * 2));
  const all = rttScratch;
  const store = t.rttStore;
  const off = ci[ko + K_RTT_OFF];
  if (n <= 32) {
    // Insertion sort: ascending as Float64Array.sort (which orders -0 before +0; the JSON text is the same).
    for (let i = 0; i < n; i++) {
      const x = store[off + i] * 1e-9;
      if (x !== x) return -1; // NaN: leave the ordering to ackRtt
      let j = i - 1;
      while (j >= 0 && all[j] > x) {
        all[j + 1] = all[j];
        j--;
      }
      all[j + 1] = x;
    }
  } else {
    for (let i = 0; i < n; i++) all[i] = store[off + i] * 1e-9;
    all.subarray(0, n).sort();
  }
  const co = c * CONN_F64;
  out[0] = count;
  out[1] = t.cd[co + C_RTT_MIN] * 1e-9;
  out[2] = n % 2 ? all[(n - 1) / 2] : (all[n / 2 - 1] + all[n / 2]) / 2;
  out[3] = all[Math.max(0, Math.ceil(0.95 * n) - 1)];
  out[4] = t.cd[co + C_RTT_MAX] * 1e-9;
  return 1;
}

export function handshakeRtt(t: TcpTable, c: number): number | null {
  const r = t.cd[c * CONN_F64 + C_FIRST_RTT];
  return r !== 0 ? r / 1e9 : null;
}

export function synRetries(t: TcpTable, c: number): number {
  const n = t.ci[c * CONN_I32 + K_PURE_SYNS];
  return n > 1 ? n - 1 : 0;
}

export function tcpSummary(t: TcpTable, c: number): TcpSummary {
  return { state: tcpState(t, c), synRetries: synRetries(t, c), handshakeRtt: handshakeRtt(t, c), rtt: ackRtt(t, c), counters: tcpCounters(t, c) };
}

// ---- The detail view (a detail session: TcpAnalyzer with series kept) ----

/**
 * ACK RTT over time for a chart: `toServer` holds samples from ACKs the client sent (the
 * RTT of the server's data), `toClient` those from the server's ACKs. Seconds. Null
 * outside a detail session once the connection's heavy state was released.
 */
export function rttSeries(t: TcpTable, c: number): { toServer: SeriesPoints | null; toClient: SeriesPoints | null } {
  const h = t.heavyOf(c);
  return { toServer: h?.c2s.rtt.points() ?? null, toClient: h?.s2c.rtt.points() ?? null };
}

/**
 * Sequence number over time (Stevens graph) for data sent in one direction: value =
 * relative sequence number of the segment's end; `mark` has the TcpA bits
 * Retransmission / OutOfOrder / LostSegment of the segment (kept through downsampling).
 * Detail sessions only (null otherwise).
 */
export function seqSeries(t: TcpTable, c: number, toServer: boolean): SeriesPoints | null {
  const h = t.heavyOf(c);
  if (!h) return null;
  return (toServer ? h.c2s : h.s2c).seqSeries?.points() ?? null;
}

export interface TcpFlowDetail {
  packets: number;
  payloadBytes: number;
  /** Window scale shift; -1 unknown (no SYN seen), -2 scaling not in use. */
  windowScale: number;
  /** Initial sequence number (relative 0); tshark's base for relative numbers. */
  baseSeq: number | null;
  sackPackets: number;
  dsacks: number;
  /** RTT of this side's ACKs (the peer's data); null outside a detail session. */
  rtt: RttSummary | null;
  finSeen: boolean;
  rstSeen: boolean;
}

/** Everything the UI's connection view needs, from memory (no re-reading of the file). */
export interface TcpDetail {
  state: TcpState;
  handshakeRtt: number | null;
  synRetries: number;
  rtt: RttSummary | null;
  counters: TcpCounters;
  /** Packets per TcpA flag name (includes window updates, keep-alive ACKs, probe ACKs, reused ports). */
  flagCounts: Record<TcpFlagName, number>;
  client: TcpFlowDetail;
  server: TcpFlowDetail;
  rttSeries: { toServer: SeriesPoints | null; toClient: SeriesPoints | null };
  seqSeries: { toServer: SeriesPoints | null; toClient: SeriesPoints | null };
}

function flowDetail(t: TcpTable, c: number, d: number, heavy: HeavyFlow | null): TcpFlowDetail {
  const fi = t.fi;
  const o = (c * 2 + d) * FLOW_F64;
  return {
    packets: fi[flowI(c, d, I_PACKETS)],
    payloadBytes: t.fd[o + F_DATA_BYTES],
    windowScale: fi[flowI(c, d, I_WIN_SCALE)],
    baseSeq: fi[flowI(c, d, I_BASE_SEQ_SET)] ? t.fd[o + F_BASE_SEQ] : null,
    sackPackets: fi[flowI(c, d, I_SACK_PACKETS)],
    dsacks: fi[flowI(c, d, I_DSACKS)],
    rtt: heavy ? summarize([heavy.rtt]) : null,
    finSeen: fi[flowI(c, d, I_FIN_SEEN)] !== 0,
    rstSeen: fi[flowI(c, d, I_RST_SEEN)] !== 0,
  };
}

export function tcpDetail(t: TcpTable, c: number): TcpDetail {
  const flagCounts = {} as Record<TcpFlagName, number>;
  for (const i of TCP_FLAG_INFO) flagCounts[i.name] = tcpCount(t, c, i.name);
  const h = t.heavyOf(c);
  return {
    ...tcpSummary(t, c),
    flagCounts,
    client: flowDetail(t, c, 0, h?.c2s ?? null),
    server: flowDetail(t, c, 1, h?.s2c ?? null),
    rttSeries: rttSeries(t, c),
    seqSeries: { toServer: seqSeries(t, c, true), toClient: seqSeries(t, c, false) },
  };
}
