import { grown } from './columns.js';
import { Arena, EXACT_SAMPLES, RttSamples, Series, summarizeKept, type RttSummary } from '../analysis/rtt-stats.js';

/*
 * TCP STATE IN COLUMNS: the one layout of the TCP analyser's state (analysis/tcp-analyzer.ts
 * holds the rules). Rows are indexed by flow = connection * 2 + direction (0 client ->
 * server, 1 server -> client) or by connection; each row is a fixed stride of one typed
 * array, so a connection costs about 320 bytes here and no object.
 *
 * Heavy state (the unacknowledged-segment lists that give ACK RTT samples, the samples
 * themselves, and the chart series of a detail session) lives in a TcpHeavy taken from a
 * pool when a connection first puts a segment in sequence space (SYN, data, FIN) and given
 * back when the connection is over: FIN seen both ways (or a RST) with nothing left
 * unacknowledged. Its samples then move to `rttStore`, the compact summary the report
 * reads (8 bytes a sample); a connection that comes back to life takes a heavy again.
 * So the pool holds as many heavies as connections are open at once, not one per
 * connection. A detail session (series on) never releases them: it keeps the charts.
 *
 * The unacknowledged segments of a pooled flow (heavy slot * 2 + direction) are records
 * (seq, next seq, time) in the pool's typed arrays: up to SEG_INLINE of them in the flow's
 * region of `segs`, more in the flow's own array (`segSpill`, kept with the slot once
 * made). Every packet of a connection with heavy state reads this list; as three JS arrays
 * behind two objects per flow it cost a chain of dependent loads, each a cache miss once
 * the rest of the analysis had run, and was the largest part of the TCP analyser's time
 * on captures of many short connections.
 */

// ---- per flow, Float64 (nanosecond times, byte counts) ----
export const F_BASE_SEQ = 0;
export const F_DATA_BYTES = 1;
export const F_NEXT_SEQ_TIME = 2;
export const F_LAST_ACK_TIME = 3;
export const FLOW_F64 = 4;

// ---- per flow, Uint32 (sequence numbers, windows: 4 bytes where a Float64 took 8) ----
/** Last raw (unscaled) window this side advertised; tshark starts at 0xffffffff. */
export const S_WINDOW = 0;
/** Next expected sequence number (0 = nothing seen yet, as in tshark). */
export const S_NEXT_SEQ = 1;
/** Highest contiguous sequence number the peer may acknowledge. */
export const S_MAX_SEQ_TO_BE_ACKED = 2;
export const S_LAST_ACK = 3;
export const FLOW_U32 = 4;

// ---- per flow, Int32 ----
export const I_BASE_SEQ_SET = 0;
/** Window scale shift: -1 unknown (no SYN seen), -2 known not to be used, else 0..14. */
export const I_WIN_SCALE = 1;
export const I_IS_FIRST_ACK = 2;
/** Duplicate ACKs in a row; -1 after an "ACKed unseen" to neutralise the next one. */
export const I_DUPACK_NUM = 3;
export const I_LAST_SEG_FLAGS = 4;
export const I_PACKETS = 5;
export const I_FIN_SEEN = 6;
export const I_RST_SEEN = 7;
export const I_SACK_PACKETS = 8;
export const I_DSACKS = 9;
export const FLOW_I32 = 10;

// ---- per connection, Float64 ----
/** Whole seconds subtracted from time stamps (ns times stay exact integers). */
export const C_BASE_SEC = 0;
/** Time of the most recent pure SYN (ns), NaN before one. */
export const C_MRU_SYN = 1;
/** tshark's initial RTT (`tcp.analysis.initial_rtt`) in ns; 0 until known. */
export const C_FIRST_RTT = 2;
/** Smallest and largest ACK RTT sample released to rttStore (ns). */
export const C_RTT_MIN = 3;
export const C_RTT_MAX = 4;
export const CONN_F64 = 5;

// ---- per connection, Int32 ----
export const K_SYN_ACK_SEEN = 0;
export const K_RST_FROM_SERVER_BEFORE_SYNACK = 1;
/** FIN seen from both sides before any RST. */
export const K_FIN_BOTH_BEFORE_RST = 2;
export const K_PURE_SYNS = 3;
export const K_REUSED_PENDING = 4;
/** Heavy slot + 1, 0 when the connection holds none. */
export const K_HEAVY = 5;
/** Released samples: offset in rttStore, values kept, samples seen per direction. */
export const K_RTT_OFF = 6;
export const K_RTT_KEPT = 7;
export const K_RTT_N_C2S = 8;
export const K_RTT_N_S2C = 9;
export const CONN_I32 = 10;

/** Packets with each TcpA bit, per connection (index = bit position). */
export const COUNTS = 16;

const MAX_SEQ_POINTS = 1024;
/** Unacknowledged segments a pooled flow keeps in the shared `segs` array before it spills. */
export const SEG_INLINE = 16;
/** Numbers per segment record: seq, next seq, time (ns; NaN marks a deleted record while acking). */
export const SEG_STRIDE = 3;
const SEG_REGION = SEG_INLINE * SEG_STRIDE;
/** ACK RTT samples a pooled flow holds in `rttPending` before they go to its RttSamples. */
export const RTT_INLINE = 8;
const RTT_POINTS = 1024;
const FIRST_ROWS = 1024;

/** One direction's heavy state. */
export class HeavyFlow {
  // (Its unacknowledged segments are in the TcpTable's segN/segs/segSpill, by pooled flow.)
  private readonly samples: RttSamples;
  seqSeries: Series | null = null;

  /** `table` and `fl` (pooled flow): where samples wait before they reach `rtt`. */
  constructor(private readonly arena: Arena, private readonly table: TcpTable | null = null, private readonly fl = 0) {
    this.samples = new RttSamples(RTT_POINTS, 1e-9, arena);
  }

  /** ACK RTT samples of this side's ACKs (ns, with their times for a chart), pending ones included. */
  get rtt(): RttSamples {
    if (this.table !== null && this.table.rttN[this.fl] !== 0) this.table.flushRtt(this.fl);
    return this.samples;
  }

  /** The samples without taking the pending ones in (TcpTable.flushRtt). */
  get rttStored(): RttSamples {
    return this.samples;
  }

  series(): Series {
    return this.seqSeries ?? (this.seqSeries = new Series(MAX_SEQ_POINTS, this.arena));
  }

  reset(): void {
    this.samples.reset();
    this.seqSeries = null;
  }
}

export class TcpHeavy {
  readonly c2s: HeavyFlow;
  readonly s2c: HeavyFlow;
  constructor(arena: Arena, table: TcpTable | null = null, slot = 0) {
    this.c2s = new HeavyFlow(arena, table, slot * 2);
    this.s2c = new HeavyFlow(arena, table, slot * 2 + 1);
  }
}

export class TcpTable {
  private rows = FIRST_ROWS;
  fd = new Float64Array(FIRST_ROWS * 2 * FLOW_F64);
  fs = new Uint32Array(FIRST_ROWS * 2 * FLOW_U32);
  fi = new Int32Array(FIRST_ROWS * 2 * FLOW_I32);
  cd = new Float64Array(FIRST_ROWS * CONN_F64);
  ci = new Int32Array(FIRST_ROWS * CONN_I32);
  counts = new Uint32Array(FIRST_ROWS * COUNTS);

  /** Storage of samples and series (off the JS heap). */
  readonly arena = new Arena();
  /** The pool, by heavy slot (a connection's K_HEAVY - 1). */
  readonly heavies: TcpHeavy[] = [];
  /**
   * Unacknowledged segments, oldest first (tshark keeps them newest first in a list), by
   * pooled flow f = slot * 2 + direction: segN[f] records, in segSpill[f] when the flow has
   * one, else from f * SEG_INLINE * SEG_STRIDE in segs. Storage only grows (a pooled slot
   * reuses it, so a list that empties and refills makes no garbage).
   */
  segN = new Int32Array(64);
  segs = new Float64Array(64 * SEG_REGION);
  readonly segSpill: (Float64Array | null)[] = [];
  /**
   * ACK RTT samples by pooled flow: up to RTT_INLINE wait here as (sample ns, time s)
   * (rttN[f] of them) before they go, in order, to the flow's RttSamples (HeavyFlow.rtt
   * takes them in whenever it is read); rttSpilled[f] = 1 once some went there. A connection
   * that ends with fewer (most short ones) releases them to rttStore from here, without
   * touching its heavy's objects: each of those loads was a cache miss.
   */
  rttN = new Int32Array(64);
  rttSpilled = new Uint8Array(64);
  rttPending = new Float64Array(64 * RTT_INLINE * 2);
  private readonly at = { ts: 0 };
  private readonly free: number[] = [];
  /** Heavies in use now (the pool's high-water mark is heavies.length). */
  heavyInUse = 0;
  /** Released ACK RTT samples (ns), each connection's contiguous (see K_RTT_OFF). */
  rttStore = new Float64Array(4096);
  private rttUsed = 0;

  /** `keepSeries`: a detail session (charts kept, heavies never released). */
  constructor(readonly keepSeries = false) {}

  get pooledHeavies(): number {
    return this.heavies.length;
  }

  /** Makes room for connection `c` and sets its row to the initial state. */
  init(c: number, firstTsSec: number): void {
    while (c >= this.rows) this.grow();
    const fd = this.fd;
    const fi = this.fi;
    for (let d = 0; d < 2; d++) {
      const o = (c * 2 + d) * FLOW_F64;
      this.fs[(c * 2 + d) * FLOW_U32 + S_WINDOW] = 0xffffffff;
      fd[o + F_NEXT_SEQ_TIME] = -Infinity;
      fd[o + F_LAST_ACK_TIME] = -Infinity;
      fi[(c * 2 + d) * FLOW_I32 + I_WIN_SCALE] = -1;
    }
    const co = c * CONN_F64;
    this.cd[co + C_BASE_SEC] = firstTsSec;
    this.cd[co + C_MRU_SYN] = NaN;
    this.cd[co + C_RTT_MIN] = Infinity;
    this.cd[co + C_RTT_MAX] = -Infinity;
  }

  private grow(): void {
    const n = this.rows * 2;
    this.fd = grown(this.fd, n * 2 * FLOW_F64);
    this.fs = grown(this.fs, n * 2 * FLOW_U32);
    this.fi = grown(this.fi, n * 2 * FLOW_I32);
    this.cd = grown(this.cd, n * CONN_F64);
    this.ci = grown(this.ci, n * CONN_I32);
    this.counts = grown(this.counts, n * COUNTS);
    this.rows = n;
  }

  /** The connection's heavy state, or null when it holds none. */
  heavyOf(c: number): TcpHeavy | null {
    const h = this.ci[c * CONN_I32 + K_HEAVY];
    return h === 0 ? null : this.heavies[h - 1];
  }

  /** The connection's heavy state, taken from the pool when it holds none. */
  acquire(c: number): TcpHeavy {
    const k = c * CONN_I32 + K_HEAVY;
    const h = this.ci[k];
    if (h !== 0) return this.heavies[h - 1];
    let slot = this.free.pop();
    if (slot === undefined) {
      slot = this.heavies.length;
      this.heavies.push(new TcpHeavy(this.arena, this, slot));
      this.segSpill.push(null, null);
      if (slot * 2 + 2 > this.segN.length) {
        const n = this.segN.length * 2;
        this.segN = grown(this.segN, n);
        this.segs = grown(this.segs, n * SEG_REGION);
        this.rttN = grown(this.rttN, n);
        this.rttSpilled = grown(this.rttSpilled, n);
        this.rttPending = grown(this.rttPending, n * RTT_INLINE * 2);
      }
    }
    this.ci[k] = slot + 1;
    this.heavyInUse++;
    return this.heavies[slot];
  }

  /** One ACK RTT sample (ns) of pooled flow `fl` at time `ts` (epoch s). */
  addRtt(fl: number, v: number, ts: number): void {
    let k = this.rttN[fl];
    if (k === RTT_INLINE) {
      this.flushRtt(fl);
      k = 0;
    }
    const o = (fl * RTT_INLINE + k) * 2;
    this.rttPending[o] = v;
    this.rttPending[o + 1] = ts;
    this.rttN[fl] = k + 1;
  }

  /** Moves pooled flow `fl`'s pending samples, in order, to its RttSamples. */
  flushRtt(fl: number): void {
    const k = this.rttN[fl];
    if (k === 0) return;
    const h = this.heavies[fl >> 1];
    const r = (fl & 1 ? h.s2c : h.c2s).rttStored;
    const p = this.rttPending;
    const at = this.at;
    for (let i = 0, o = fl * RTT_INLINE * 2; i < k; i++, o += 2) {
      at.ts = p[o + 1];
      r.add(at, p[o]);
    }
    this.rttN[fl] = 0;
    this.rttSpilled[fl] = 1;
  }

  /**
   * Room for record n (0-based) of pooled flow `fl` once it is beyond the inline region: the
   * flow's own array (made from the inline records, or doubled), with the records so far.
   */
  spillRoom(fl: number, n: number): Float64Array {
    let a = this.segSpill[fl];
    if (a === null) {
      a = new Float64Array(SEG_REGION * 4);
      a.set(this.segs.subarray(fl * SEG_REGION, fl * SEG_REGION + n * SEG_STRIDE));
      this.segSpill[fl] = a;
    } else if ((n + 1) * SEG_STRIDE > a.length) {
      a = grown(a, a.length * 2);
      this.segSpill[fl] = a;
    }
    return a;
  }

  /**
   * Gives the connection's heavy back to the pool when nothing can need it any more:
   * FIN both ways or a RST, and no segment left unacknowledged. Its samples go to rttStore.
   */
  releaseIfDone(c: number): void {
    if (this.keepSeries) return;
    const k = c * CONN_I32 + K_HEAVY;
    const h = this.ci[k];
    if (h === 0) return;
    if (this.segN[(h - 1) * 2] !== 0 || this.segN[(h - 1) * 2 + 1] !== 0) return;
    const fi = this.fi;
    const a = c * 2 * FLOW_I32;
    const b = a + FLOW_I32;
    const over = (fi[a + I_FIN_SEEN] && fi[b + I_FIN_SEEN]) || fi[a + I_RST_SEEN] || fi[b + I_RST_SEEN];
    if (!over) return;
    const fl = (h - 1) * 2;
    if (this.rttSpilled[fl] === 0 && this.rttSpilled[fl + 1] === 0) {
      // Every sample is still pending (and a released heavy has no series): nothing in the heavy's objects to reset.
      this.storePending(c, fl);
    } else {
      const heavy = this.heavies[h - 1];
      this.storeSamples(c, heavy);
      heavy.c2s.reset();
      heavy.s2c.reset();
      this.rttSpilled[fl] = 0;
      this.rttSpilled[fl + 1] = 0;
    }
    this.rttN[fl] = 0;
    this.rttN[fl + 1] = 0;
    this.ci[k] = 0;
    this.free.push(h - 1);
    this.heavyInUse--;
  }

  /**
   * storeSamples for a heavy whose samples are all pending (pooled flows fl, fl + 1): the
   * same run in rttStore (client's ACKs first), counts, min and max.
   */
  private storePending(c: number, fl: number): void {
    const n1 = this.rttN[fl];
    const n2 = this.rttN[fl + 1];
    if (n1 === 0 && n2 === 0) return;
    const at = this.openRun(c, n1 + n2);
    let o = at + this.ci[c * CONN_I32 + K_RTT_KEPT];
    let mn = Infinity;
    let mx = -Infinity;
    const p = this.rttPending;
    for (let i = 0, q = fl * RTT_INLINE * 2; i < n1 + n2; i++, q += 2) {
      // The two flows' pending regions are adjacent: fl's RTT_INLINE records, then fl + 1's.
      if (i === n1) q = (fl + 1) * RTT_INLINE * 2;
      const v = p[q];
      this.rttStore[o++] = v;
      if (v < mn) mn = v;
      if (v > mx) mx = v;
    }
    this.closeRun(c, at, o, n1, n2, mn, mx);
  }

  /** Appends the heavy's kept samples to the connection's released ones (one contiguous run). */
  private storeSamples(c: number, heavy: TcpHeavy): void {
    const n1 = heavy.c2s.rtt.count;
    const n2 = heavy.s2c.rtt.count;
    if (n1 === 0 && n2 === 0) return;
    const at = this.openRun(c, heavy.c2s.rtt.kept + heavy.s2c.rtt.kept);
    let o = at + this.ci[c * CONN_I32 + K_RTT_KEPT];
    o = heavy.c2s.rtt.copyKept(this.rttStore, o);
    o = heavy.s2c.rtt.copyKept(this.rttStore, o);
    const mn = Math.min(heavy.c2s.rtt.rawMin, heavy.s2c.rtt.rawMin);
    const mx = Math.max(heavy.c2s.rtt.rawMax, heavy.s2c.rtt.rawMax);
    this.closeRun(c, at, o, n1, n2, mn, mx);
  }

  /**
   * Starts connection c's run at the end of rttStore with room for `adding` more samples:
   * a connection released before has its earlier run moved there (rare: packets after the
   * close). Returns where the run starts; the new samples go after the earlier ones.
   */
  private openRun(c: number, adding: number): number {
    const ko = c * CONN_I32;
    const oldOff = this.ci[ko + K_RTT_OFF];
    const oldKept = this.ci[ko + K_RTT_KEPT];
    const need = this.rttUsed + oldKept + adding;
    if (need > this.rttStore.length) {
      let size = this.rttStore.length * 2;
      while (size < need) size *= 2;
      this.rttStore = grown(this.rttStore, size);
    }
    const at = this.rttUsed;
    if (oldKept > 0) this.rttStore.copyWithin(at, oldOff, oldOff + oldKept);
    return at;
  }

  /** Ends the run openRun started at `at` (written up to `end`): counts per side, min and max. */
  private closeRun(c: number, at: number, end: number, n1: number, n2: number, mn: number, mx: number): void {
    const ko = c * CONN_I32;
    const co = c * CONN_F64;
    const ci = this.ci;
    this.rttUsed = end;
    ci[ko + K_RTT_OFF] = at;
    ci[ko + K_RTT_KEPT] = end - at;
    ci[ko + K_RTT_N_C2S] += n1;
    ci[ko + K_RTT_N_S2C] += n2;
    if (mn < this.cd[co + C_RTT_MIN]) this.cd[co + C_RTT_MIN] = mn;
    if (mx > this.cd[co + C_RTT_MAX]) this.cd[co + C_RTT_MAX] = mx;
  }

  /** ACK RTT over both directions (seconds): released samples plus any the heavy holds. */
  rttSummary(c: number): RttSummary | null {
    const ko = c * CONN_I32;
    const co = c * CONN_F64;
    const ci = this.ci;
    const heavy = this.heavyOf(c);
    const n1 = ci[ko + K_RTT_N_C2S] + (heavy ? heavy.c2s.rtt.count : 0);
    const n2 = ci[ko + K_RTT_N_S2C] + (heavy ? heavy.s2c.rtt.count : 0);
    if (n1 + n2 === 0) return null;
    const stored = ci[ko + K_RTT_KEPT];
    const live = heavy ? heavy.c2s.rtt.kept + heavy.s2c.rtt.kept : 0;
    const all = new Float64Array(stored + live);
    const off = ci[ko + K_RTT_OFF];
    for (let i = 0; i < stored; i++) all[i] = this.rttStore[off + i] * 1e-9;
    let min = this.cd[co + C_RTT_MIN];
    let max = this.cd[co + C_RTT_MAX];
    if (heavy) {
      let o = heavy.c2s.rtt.copyKept(all, stored);
      o = heavy.s2c.rtt.copyKept(all, o);
      for (let i = stored; i < o; i++) all[i] *= 1e-9;
      min = Math.min(min, heavy.c2s.rtt.rawMin, heavy.s2c.rtt.rawMin);
      max = Math.max(max, heavy.c2s.rtt.rawMax, heavy.s2c.rtt.rawMax);
    }
    return summarizeKept(all, n1 + n2, min * 1e-9, max * 1e-9, n1 <= EXACT_SAMPLES && n2 <= EXACT_SAMPLES);
  }

  /** Bytes held by the columns, the pool's arena and the sample store (for measurements). */
  get bytesHeld(): number {
    let spilled = 0;
    for (const a of this.segSpill) if (a) spilled += a.byteLength;
    return this.fd.byteLength + this.fs.byteLength + this.fi.byteLength + this.cd.byteLength + this.ci.byteLength + this.counts.byteLength + this.arena.bytes + this.rttStore.byteLength
      + this.segN.byteLength + this.segs.byteLength + spilled + this.rttN.byteLength + this.rttSpilled.byteLength + this.rttPending.byteLength;
  }
}
