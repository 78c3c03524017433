import { TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN, type Frame } from '../decode/frame.js';
import type { TcpHooks } from './connections.js';
import { DUPACK_MAX, DUPACK_SHIFT, TCP_FLAG_INFO, TcpA, type TcpFlagName } from './tcp-flags.js';
import { Arena, RttSamples, Series, summarize, type RttSummary, type SeriesPoints } from './rtt-stats.js';
import type { Connection } from './types.js';

/*
 * TCP sequence analysis with tshark's (4.x) definitions and order of checks, so a
 * packet earns here exactly the `tcp.analysis.*` marks Wireshark gives it. The rules are
 * those of Wireshark's TCP analysis (User's Guide "TCP Analysis"), restated below one
 * block per rule. All sequence arithmetic is modulo 2^32 (`seqGt` & co survive the wrap).
 *
 * State is per connection and direction ("flow"): next expected sequence number, highest
 * contiguous sequence number the peer may ACK, last ACK/window sent, duplicate-ACK count,
 * and the list of unacknowledged segments (for ACK RTT), capped like tshark's at
 * MAX_UNACKED segments so memory per connection is bounded.
 *
 * Times are kept as integer nanoseconds since the connection's first second, so every
 * difference is exact (tshark uses nanosecond time stamps; thresholds such as the 20 ms
 * fast-retransmission window are compared exactly).
 */

const MAX_UNACKED = 10000;
const FAST_RETX_WINDOW_NS = 20_000_000;
const DEFAULT_OOO_THRESHOLD_NS = 3_000_000;
const SFR = TCP_SYN | TCP_FIN | TCP_RST;
const SEQ_POINTS = 1024;
const RTT_POINTS = 1024;

// Indexes into TcpFlow.d and TcpConnState.d. The hot path indexes the arrays directly:
// accessor calls would exhaust the optimiser's inlining budget in these large functions.
const BASE_SEQ = 0;
const WINDOW = 1;
const NEXT_SEQ = 2;
const NEXT_SEQ_TIME = 3;
const MAX_SEQ_TO_BE_ACKED = 4;
const LAST_ACK = 5;
const LAST_ACK_TIME = 6;
const MRU_SYN = 0;
const FIRST_RTT = 1;

const seqGt = (x: number, y: number): boolean => ((y - x) | 0) < 0;
const seqLt = (x: number, y: number): boolean => ((x - y) | 0) < 0;
const seqLe = (x: number, y: number): boolean => ((x - y) | 0) <= 0;
const seqGe = (x: number, y: number): boolean => ((y - x) | 0) <= 0;

/**
 * The segment's data length from the IP header's length, or -1 when unknown (an IP
 * fragment, or a header longer than the segment). An IP length beyond the packet's wire
 * length is cut to it, as tshark does ("IPv4 total length exceeds packet length"), so
 * snaplen-truncated packets keep their real length and bogus lengths stay bounded.
 */
export function tcpSegmentLength(f: Frame): number {
  if (f.isFragment) return -1;
  const tcpOff = f.payloadOff - f.tcpHdrLen;
  const wire = f.origLen - (tcpOff - (f.end - f.caplen));
  const l4 = f.ipPayloadLen < wire ? f.ipPayloadLen : wire;
  return l4 >= f.tcpHdrLen ? l4 - f.tcpHdrLen : -1;
}

/** One direction of a TCP connection (the packets one side sends). */
export class TcpFlow {
  /*
   * The 32-bit sequence numbers (doubles above 2^31) and nanosecond times live in a
   * Float64Array behind accessors: storing a double into an object field allocates a
   * heap number per store, an element store does not (no garbage per packet).
   */
  readonly d = new Float64Array(7);
  get baseSeq(): number { return this.d[0]; }
  set baseSeq(v: number) { this.d[0] = v; }
  /** Last raw (unscaled) window this side advertised; tshark starts at 0xffffffff. */
  get window(): number { return this.d[1]; }
  set window(v: number) { this.d[1] = v; }
  /** Next expected sequence number (0 = nothing seen yet, as in tshark). */
  get nextSeq(): number { return this.d[2]; }
  set nextSeq(v: number) { this.d[2] = v; }
  get nextSeqTime(): number { return this.d[3]; }
  set nextSeqTime(v: number) { this.d[3] = v; }
  /** Highest contiguous sequence number the peer may acknowledge. */
  get maxSeqToBeAcked(): number { return this.d[4]; }
  set maxSeqToBeAcked(v: number) { this.d[4] = v; }
  get lastAck(): number { return this.d[5]; }
  set lastAck(v: number) { this.d[5] = v; }
  get lastAckTime(): number { return this.d[6]; }
  set lastAckTime(v: number) { this.d[6] = v; }
  baseSeqSet = false;
  /** Window scale shift: -1 unknown (no SYN seen), -2 known not to be used, else 0..14. */
  winScale = -1;
  isFirstAck = false;

  /** `arena`: the session's storage for samples and series (see rtt-stats.ts). */
  constructor(readonly arena: Arena) {
    this.rtt = new RttSamples(RTT_POINTS, 1e-9, arena); // stored in ns (integers), reported in s
    this.window = 0xffffffff;
    this.nextSeqTime = -Infinity;
    this.lastAckTime = -Infinity;
  }

  /** Duplicate ACKs in a row; -1 after an "ACKed unseen" to neutralise the next one. */
  dupAckNum = 0;
  lastSegmentFlags = 0;

  // Unacknowledged segments, oldest first (tshark keeps them newest first in a list):
  // the first segCount entries of three plain arrays that only ever grow (shrinking a
  // JS array's length reallocates it; a list that empties and refills on every ACK would
  // make garbage per packet). At most MAX_UNACKED entries.
  segCount = 0;
  readonly segSeq: number[] = [];
  readonly segNext: number[] = [];
  readonly segTime: number[] = [];

  // Facts for state and counters.
  packets = 0;
  synSeen = 0;
  finSeen = false;
  rstSeen = false;
  dataBytes = 0;
  sackPackets = 0;
  dsacks = 0;
  /** ACK RTT samples of this side's ACKs (seconds, with their times for the chart). */
  readonly rtt: RttSamples;
  seqSeries: Series | null = null;
}

/** TCP analysis state of one connection (Connection.tcp). */
export class TcpConnState {
  readonly c2s: TcpFlow;
  readonly s2c: TcpFlow;
  /** Whole seconds subtracted from time stamps (see the header comment). */
  readonly baseSec: number;
  // Times (ns doubles) in a Float64Array behind accessors, as in TcpFlow.
  readonly d = new Float64Array([NaN, 0]);
  /** Time of the most recent SYN (pure), NaN before one is seen. */
  get mruSyn(): number { return this.d[0]; }
  set mruSyn(v: number) { this.d[0] = v; }
  /** tshark's initial RTT (`tcp.analysis.initial_rtt`) in ns; 0 until known. */
  get firstRtt(): number { return this.d[1]; }
  set firstRtt(v: number) { this.d[1] = v; }
  synAckSeen = false;
  rstFromServerBeforeSynAck = false;
  /** FIN seen from both sides before any RST. */
  finBothBeforeRst = false;
  pureSyns = 0;
  /** Packets with each TcpA bit (index = bit position). */
  readonly counts = new Uint32Array(16);
  reusedPending = false;

  constructor(firstTsSec: number, arena: Arena) {
    this.baseSec = firstTsSec;
    this.c2s = new TcpFlow(arena);
    this.s2c = new TcpFlow(arena);
  }

  count(name: TcpFlagName): number {
    return this.counts[31 - Math.clz32(TcpA[name])];
  }
}

export type TcpState = 'syn-unanswered' | 'refused' | 'established' | 'closed' | 'reset' | 'open';

/**
 * The TCP analyser: plugs into ConnectionTable (port reuse, per-packet analysis) and
 * returns for each packet the TcpA bits it earned.
 */
export class TcpAnalyzer implements TcpHooks {
  private reuseNext = false;
  /** Storage of every connection's RTT samples and chart series (off the JS heap). */
  readonly arena = new Arena();
  /** The current packet's time (ns since its connection's base second), see TcpFlow. */
  private readonly t = new Float64Array(1);

  create(conn: Connection): TcpConnState {
    const s = new TcpConnState(Math.floor(conn.firstTs), this.arena);
    if (this.reuseNext) {
      s.reusedPending = true;
      this.reuseNext = false;
    }
    return s;
  }

  /*
   * PORT REUSE: a pure SYN whose sequence number differs from the initial sequence number
   * its sender used on this 5-tuple starts a new conversation (tshark: a new tcp.stream,
   * marked "TCP Port numbers reused"). The same ISN again is a SYN retransmission.
   */
  startsNewConnection(conn: Connection, f: Frame, fromClient: boolean): boolean {
    if ((f.tcpFlags & (TCP_SYN | TCP_ACK)) !== TCP_SYN) return false;
    const s = conn.tcp as TcpConnState | null;
    if (!s) return false;
    const fwd = fromClient ? s.c2s : s.s2c;
    if (fwd.baseSeqSet && f.tcpSeq !== fwd.d[BASE_SEQ]) {
      this.reuseNext = true;
      return true;
    }
    return false;
  }

  onPacket(conn: Connection, f: Frame, toServer: boolean): number {
    const s = conn.tcp as TcpConnState;
    const fwd = toServer ? s.c2s : s.s2c;
    const rev = toServer ? s.s2c : s.c2s;
    const flags = f.tcpFlags;
    const seq = f.tcpSeq;
    const ack = f.tcpAck;
    const now = (f.tsSec - s.baseSec) * 1e9 + f.tsNsec;
    let ta = 0;
    let dupNum = 0;
    fwd.packets++;

    if ((flags & (TCP_SYN | TCP_ACK)) === TCP_SYN) {
      if (s.reusedPending) {
        ta |= TcpA.ReusedPorts;
        s.reusedPending = false;
      } else if (fwd.baseSeqSet && seq === fwd.d[BASE_SEQ]) {
        // A repeated SYN (same ISN): forget sequence space advanced by, e.g., a RST
        // sent with the sequence number the peer ACKed, so the SYN reads as a retransmission.
        fwd.d[NEXT_SEQ] = fwd.d[MAX_SEQ_TO_BE_ACKED];
      }
      s.pureSyns++;
    }
    if ((flags & (TCP_SYN | TCP_ACK)) === (TCP_SYN | TCP_ACK)) {
      // SYN-ACK with a new ISN on a conversation in use: re-base, mark as reuse.
      if (fwd.baseSeqSet && seq !== fwd.d[BASE_SEQ]) {
        fwd.d[BASE_SEQ] = seq;
        ta |= TcpA.ReusedPorts;
      }
    }

    // Segment length comes from the IP header; without a whole TCP header by that
    // length (or for an IP fragment) the segment length is unknown and tshark skips the
    // sequence analysis.
    const seglen = tcpSegmentLength(f);
    const haveSeglen = seglen >= 0;
    if (haveSeglen) {
      if (!fwd.baseSeqSet) {
        fwd.d[BASE_SEQ] = flags & TCP_SYN ? seq : (seq - 1) >>> 0;
        fwd.baseSeqSet = true;
      }
      if (!rev.baseSeqSet && flags & TCP_ACK) {
        rev.d[BASE_SEQ] = (ack - 1) >>> 0;
        rev.baseSeqSet = true;
      }
      this.t[0] = now;
      ta = this.analyzeSequence(s, fwd, rev, f, seglen, ta);
      if (ta & TcpA.DuplicateAck) dupNum = fwd.dupAckNum;
      fwd.dataBytes += seglen;
      if (seglen > 0) {
        const series = fwd.seqSeries ?? (fwd.seqSeries = new Series(SEQ_POINTS, fwd.arena));
        series.add(f, ((seq + seglen - fwd.d[BASE_SEQ]) >>> 0), ta & (TcpA.Retransmission | TcpA.OutOfOrder | TcpA.LostSegment));
      }
    }

    if (flags & TCP_SYN) {
      if (flags & TCP_ACK) s.synAckSeen = true;
      else s.d[MRU_SYN] = now;
      fwd.isFirstAck = true;
      fwd.synSeen++;
    }
    if (flags & TCP_FIN) fwd.finSeen = true;
    if (flags & TCP_RST) {
      if (!fwd.rstSeen && !rev.rstSeen) s.finBothBeforeRst = fwd.finSeen && rev.finSeen;
      if (!toServer && !s.synAckSeen) s.rstFromServerBeforeSynAck = true;
      fwd.rstSeen = true;
      ta |= TcpA.Reset;
    }
    /*
     * INITIAL RTT: the first pure ACK after a SYN ends the handshake; the initial RTT is
     * its time minus that of the most recent SYN (so SYN retries do not inflate it).
     */
    if ((flags & (TCP_SYN | TCP_ACK)) === TCP_ACK) {
      if (s.d[MRU_SYN] === s.d[MRU_SYN] && s.d[FIRST_RTT] === 0) s.d[FIRST_RTT] = now - s.d[MRU_SYN];
      fwd.isFirstAck = false;
    }
    // Window scale option (any packet carrying it; shifts above 14 mean 14, RFC 7323 §2.3).
    if (f.tcpWscale >= 0) fwd.winScale = f.tcpWscale > 14 ? 14 : f.tcpWscale;
    /*
     * WINDOW SCALING is used only if both SYNs carried the option: a SYN without it
     * settles "not used" (-2) for both sides; a SYN-ACK with it answering a SYN without
     * it is not used either.
     */
    if (flags & TCP_SYN) {
      if (fwd.winScale === -1) {
        fwd.winScale = -2;
        rev.winScale = -2;
      } else if (flags & TCP_ACK && rev.winScale === -2) {
        fwd.winScale = -2;
      }
    }
    if (f.sackCount > 0) {
      fwd.sackPackets++;
      // D-SACK (RFC 2883 §4): the first block lies below the ACK, or inside the second block.
      if (seqLe(f.sackRight[0], ack) || (f.sackCount > 1 && seqLt(f.sackLeft[1], f.sackRight[0]) && seqGe(f.sackRight[1], f.sackRight[0]))) fwd.dsacks++;
    }

    // A header longer than the segment (options past its end) makes tshark give up on
    // the packet before it prints the analysis: none of its marks show, so none count.
    if (!haveSeglen && f.tcpHdrLen > 20) ta &= TcpA.Reset;
    if (ta !== 0) {
      const c = s.counts;
      for (let b = ta & 0xffff; b !== 0; b &= b - 1) c[31 - Math.clz32(b & -b)]++;
    }
    if (dupNum > 0) ta |= (dupNum > DUPACK_MAX ? DUPACK_MAX : dupNum) << DUPACK_SHIFT;
    return ta >>> 0;
  }

  /** tshark's sequence-number analysis for one segment; returns the TcpA bits. */
  private analyzeSequence(s: TcpConnState, fwd: TcpFlow, rev: TcpFlow, f: Frame, seglen: number, ta: number): number {
    // Doubles (sequence numbers above 2^31, times) are read here rather than passed in,
    // so no call boxes them.
    const seq = f.tcpSeq;
    const ack = f.tcpAck;
    const flags = f.tcpFlags;
    const now = this.t[0];
    const window = f.tcpWindow;
    const notSfr = (flags & SFR) === 0;
    checks: {
      /*
       * ZERO WINDOW PROBE: exactly one byte at the next expected sequence number while
       * the peer advertises a zero window. Nothing else is checked for it.
       */
      if (seglen === 1 && seq === fwd.d[NEXT_SEQ] && rev.d[WINDOW] === 0) {
        ta |= TcpA.ZeroWindowProbe;
        break checks;
      }
      /* ZERO WINDOW: the window is 0 and none of SYN, FIN, RST is set. */
      if (window === 0 && notSfr) ta |= TcpA.ZeroWindow;
      /*
       * PREVIOUS SEGMENT NOT CAPTURED: the segment starts beyond the next expected
       * sequence number (once one is known); RSTs are exempt.
       */
      if (fwd.d[NEXT_SEQ] !== 0 && seqGt(seq, fwd.d[NEXT_SEQ]) && !(flags & TCP_RST)) ta |= TcpA.LostSegment;
      /*
       * KEEP-ALIVE: 0 or 1 byte starting one byte before the next expected sequence
       * number; never SYN, FIN or RST.
       */
      if (seglen <= 1 && seq === ((fwd.d[NEXT_SEQ] - 1) >>> 0) && notSfr) ta |= TcpA.KeepAlive;
      const sameSeqAck = seq === fwd.d[NEXT_SEQ] && ack === fwd.d[LAST_ACK];
      /*
       * WINDOW UPDATE: no data, same SEQ and ACK as this side's previous segment, a new
       * non-zero window.
       */
      if (seglen === 0 && window !== 0 && window !== fwd.d[WINDOW] && sameSeqAck && notSfr) ta |= TcpA.WindowUpdate;
      /*
       * WINDOW FULL: data reaching exactly the right edge of the window the peer last
       * advertised (scaled; unscaled before the peer's first ACK, never checked while
       * the peer's scale is unknown).
       */
      if (seglen > 0 && rev.winScale !== -1 && notSfr) {
        const shift = rev.isFirstAck || rev.winScale === -2 ? 0 : rev.winScale;
        if (((seq + seglen) >>> 0) === ((rev.d[LAST_ACK] + ((rev.d[WINDOW] << shift) >>> 0)) >>> 0)) ta |= TcpA.WindowFull;
      }
      /*
       * KEEP-ALIVE ACK: no data, same window/SEQ/ACK as before, answering a keep-alive.
       */
      if (seglen === 0 && window !== 0 && window === fwd.d[WINDOW] && sameSeqAck && rev.lastSegmentFlags & TcpA.KeepAlive && notSfr) {
        ta |= TcpA.KeepAliveAck;
        break checks;
      }
      /*
       * ZERO WINDOW PROBE ACK: no data, still a zero window, same SEQ/ACK, answering a
       * zero-window probe.
       */
      if (seglen === 0 && window === 0 && window === fwd.d[WINDOW] && sameSeqAck && rev.lastSegmentFlags & TcpA.ZeroWindowProbe && notSfr) {
        ta |= TcpA.ZeroWindowProbeAck;
        break checks;
      }
      /*
       * DUPLICATE ACK: no data, same non-zero window, SEQ and ACK as this side's
       * previous segment. The count restarts whenever the ACK moves.
       */
      if (seglen === 0 && window !== 0 && window === fwd.d[WINDOW] && sameSeqAck && notSfr) {
        fwd.dupAckNum = fwd.dupAckNum === -1 ? 1 : fwd.dupAckNum + 1;
        ta |= TcpA.DuplicateAck;
      }
    }
    if (ack !== fwd.d[LAST_ACK]) fwd.dupAckNum = 0;

    /*
     * ACKED UNSEEN SEGMENT: the ACK covers data beyond what the capture saw from the peer
     * (the tap dropped it). Reported once per hole: the peer's "may be ACKed" edge jumps
     * to what was seen, or, when nothing new was seen, a later duplicate is suppressed.
     */
    if (rev.d[MAX_SEQ_TO_BE_ACKED] !== 0 && seqGt(ack, rev.d[MAX_SEQ_TO_BE_ACKED]) && flags & TCP_ACK) {
      if (seqLt(rev.d[MAX_SEQ_TO_BE_ACKED], rev.d[NEXT_SEQ])) {
        rev.d[MAX_SEQ_TO_BE_ACKED] = rev.d[NEXT_SEQ];
        ta |= TcpA.AckedUnseen;
      } else {
        if (rev.dupAckNum === 0) ta |= TcpA.AckedUnseen;
        rev.dupAckNum = -1;
      }
    }

    /*
     * RETRANSMISSION / FAST RETRANSMISSION / SPURIOUS / OUT-OF-ORDER for segments that
     * occupy sequence space (data, SYN or FIN) and start below the next expected
     * sequence number. Keep-alives are none of these. In order:
     *  - SPURIOUS: all of its data was already ACKed by the peer;
     *  - FAST: the peer sent >= 2 duplicate ACKs for exactly this sequence number, the
     *    last one less than 20 ms ago;
     *  - OUT-OF-ORDER: less than the initial RTT (3 ms when unknown) after the segment
     *    that advanced the next expected sequence number, and not ending exactly there;
     *  - otherwise a RETRANSMISSION.
     * A segment of more than one byte starting one byte before the next expected
     * sequence number (after a zero-window probe) adds new data and is not resent.
     */
    retx: if (seglen > 0 || flags & (TCP_SYN | TCP_FIN)) {
      if (ta & TcpA.KeepAlive) break retx;
      let notAdvanced = fwd.d[NEXT_SEQ] !== 0 && seqLt(seq, fwd.d[NEXT_SEQ]);
      if (seglen > 1 && ((fwd.d[NEXT_SEQ] - 1) >>> 0) === seq) notAdvanced = false;
      if (seglen > 0 && rev.d[LAST_ACK] !== 0 && seqLe((seq + seglen) >>> 0, rev.d[LAST_ACK])) {
        ta |= TcpA.SpuriousRetransmission | TcpA.Retransmission;
        break retx;
      }
      const sinceDupAck = now - rev.d[LAST_ACK_TIME];
      // The count is unsigned in tshark, so the -1 left by an "ACKed unseen" counts as many.
      if (notAdvanced && (rev.dupAckNum >= 2 || rev.dupAckNum === -1) && rev.d[LAST_ACK] === seq && sinceDupAck >= 0 && sinceDupAck < FAST_RETX_WINDOW_NS) {
        ta |= TcpA.FastRetransmission | TcpA.Retransmission;
        break retx;
      }
      const sinceNext = now - fwd.d[NEXT_SEQ_TIME];
      const oooThreshold = s.d[FIRST_RTT] !== 0 ? s.d[FIRST_RTT] : DEFAULT_OOO_THRESHOLD_NS;
      const end = (seq + seglen + (flags & (TCP_SYN | TCP_FIN) ? 1 : 0)) >>> 0;
      if (notAdvanced && sinceNext >= 0 && sinceNext < oooThreshold && fwd.d[NEXT_SEQ] !== end) {
        ta |= TcpA.OutOfOrder;
        break retx;
      }
      if (notAdvanced) ta |= TcpA.Retransmission;
    }

    // Remember the segment (bounded list) and advance the next expected sequence number;
    // zero-window probes do not advance it.
    let nextSeq = (seq + seglen) >>> 0;
    if ((seglen > 0 || flags & (TCP_SYN | TCP_FIN)) && fwd.segCount < MAX_UNACKED) {
      if (flags & (TCP_SYN | TCP_FIN)) nextSeq = (nextSeq + 1) >>> 0;
      const i = fwd.segCount++;
      if (i === fwd.segSeq.length) {
        fwd.segSeq.push(seq);
        fwd.segNext.push(nextSeq);
        fwd.segTime.push(now);
      } else {
        fwd.segSeq[i] = seq;
        fwd.segNext[i] = nextSeq;
        fwd.segTime[i] = now;
      }
    }
    const probe = (ta & TcpA.ZeroWindowProbe) !== 0;
    if ((seqGt(nextSeq, fwd.d[NEXT_SEQ]) || fwd.d[NEXT_SEQ] === 0) && !probe) {
      fwd.d[NEXT_SEQ] = nextSeq;
      fwd.d[NEXT_SEQ_TIME] = now;
    }
    if ((seq === fwd.d[MAX_SEQ_TO_BE_ACKED] || fwd.d[MAX_SEQ_TO_BE_ACKED] === 0) && !probe) fwd.d[MAX_SEQ_TO_BE_ACKED] = fwd.d[NEXT_SEQ];

    fwd.d[WINDOW] = window;
    fwd.d[LAST_ACK] = ack;
    fwd.d[LAST_ACK_TIME] = now;
    fwd.lastSegmentFlags = ta;

    this.ackSegments(fwd, rev, f);
    return ta;
  }

  /*
   * ACK RTT: the ACK that acknowledges exactly the end of an unacknowledged segment of
   * the peer gives the RTT sample (ACK time minus segment time; for several such
   * segments, the oldest, as tshark; a zero RTT is no sample). Acknowledged segments
   * leave the list; a partial ACK trims the segment's start.
   */
  private ackSegments(fwd: TcpFlow, rev: TcpFlow, f: Frame): void {
    const ack = f.tcpAck;
    const now = this.t[0];
    const sq = rev.segSeq;
    const n = rev.segCount;
    if (n === 0) return;
    const nx = rev.segNext;
    const tm = rev.segTime;
    let rtt = NaN;
    let acked = false;
    let deleted = 0;
    // Newest first (tshark's list order), so the oldest exact match sets the sample last.
    for (let i = n - 1; i >= 0; i--) {
      const next = nx[i];
      if (ack === next) {
        rtt = now - tm[i];
        acked = true;
        tm[i] = NaN; // deleted
        deleted++;
      } else if (seqGt(ack, sq[i]) && seqLe(ack, next)) {
        sq[i] = ack;
      } else if (!seqGt(next, ack)) {
        tm[i] = NaN; // old: deleted without a sample
        deleted++;
      }
    }
    if (deleted > 0) {
      let o = 0;
      for (let i = 0; i < n; i++) {
        if (tm[i] !== tm[i]) continue;
        if (o !== i) {
          sq[o] = sq[i];
          nx[o] = nx[i];
          tm[o] = tm[i];
        }
        o++;
      }
      rev.segCount = o;
    }
    if (acked && rtt !== 0) {
      fwd.rtt.add(f, rtt);
    }
  }
}

// ---- Results for the JSON output and the UI ----

export function tcpState(c: Connection): TcpState {
  const s = c.tcp as TcpConnState | null;
  if (!s) return 'open';
  const rst = s.c2s.rstSeen || s.s2c.rstSeen;
  const synSeen = s.pureSyns > 0;
  if (rst) {
    if (synSeen && s.rstFromServerBeforeSynAck && s.s2c.packets > 0 && !s.synAckSeen) return 'refused';
    if (s.finBothBeforeRst) return 'closed';
    return 'reset';
  }
  if (s.c2s.finSeen && s.s2c.finSeen) return 'closed';
  if (synSeen && s.s2c.packets === 0) return 'syn-unanswered';
  if (synSeen || s.synAckSeen) return 'established';
  return 'open';
}

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

export function tcpCounters(s: TcpConnState): TcpCounters {
  return {
    retransmissions: s.count('Retransmission'),
    fastRetransmissions: s.count('FastRetransmission'),
    spuriousRetransmissions: s.count('SpuriousRetransmission'),
    outOfOrder: s.count('OutOfOrder'),
    lostSegments: s.count('LostSegment'),
    ackedUnseen: s.count('AckedUnseen'),
    duplicateAcks: s.count('DuplicateAck'),
    zeroWindows: s.count('ZeroWindow'),
    zeroWindowProbes: s.count('ZeroWindowProbe'),
    windowFull: s.count('WindowFull'),
    keepAlives: s.count('KeepAlive'),
    resets: s.count('Reset'),
  };
}

/** ACK RTT over both directions (seconds), or null without samples. */
export function ackRtt(c: Connection): RttSummary | null {
  const s = c.tcp as TcpConnState | null;
  return s ? summarize([s.c2s.rtt, s.s2c.rtt]) : null;
}

export function handshakeRtt(c: Connection): number | null {
  const s = c.tcp as TcpConnState | null;
  return s && s.firstRtt !== 0 ? s.firstRtt / 1e9 : null;
}

export function synRetries(c: Connection): number {
  const s = c.tcp as TcpConnState | null;
  return s && s.pureSyns > 1 ? s.pureSyns - 1 : 0;
}

/**
 * ACK RTT over time for a chart: `toServer` holds samples from ACKs the client sent (the
 * RTT of the server's data), `toClient` those from the server's ACKs. Seconds.
 */
export function rttSeries(c: Connection): { toServer: SeriesPoints | null; toClient: SeriesPoints | null } {
  const s = c.tcp as TcpConnState | null;
  return { toServer: s?.c2s.rtt.points() ?? null, toClient: s?.s2c.rtt.points() ?? null };
}

/**
 * Sequence number over time (Stevens graph) for data sent in one direction: value =
 * relative sequence number of the segment's end; `mark` has the TcpA bits
 * Retransmission / OutOfOrder / LostSegment of the segment (kept through downsampling).
 */
export function seqSeries(c: Connection, toServer: boolean): SeriesPoints | null {
  const s = c.tcp as TcpConnState | null;
  if (!s) return null;
  return (toServer ? s.c2s : s.s2c).seqSeries?.points() ?? null;
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
  /** RTT of this side's ACKs (the peer's data). */
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

function flowDetail(f: TcpFlow): TcpFlowDetail {
  return {
    packets: f.packets,
    payloadBytes: f.dataBytes,
    windowScale: f.winScale,
    baseSeq: f.baseSeqSet ? f.baseSeq : null,
    sackPackets: f.sackPackets,
    dsacks: f.dsacks,
    rtt: summarize([f.rtt]),
    finSeen: f.finSeen,
    rstSeen: f.rstSeen,
  };
}

export function tcpDetail(c: Connection): TcpDetail | null {
  const s = c.tcp as TcpConnState | null;
  if (!s) return null;
  const flagCounts = {} as Record<TcpFlagName, number>;
  for (const i of TCP_FLAG_INFO) flagCounts[i.name] = s.count(i.name);
  return {
    state: tcpState(c),
    handshakeRtt: handshakeRtt(c),
    synRetries: synRetries(c),
    rtt: ackRtt(c),
    counters: tcpCounters(s),
    flagCounts,
    client: flowDetail(s.c2s),
    server: flowDetail(s.s2c),
    rttSeries: rttSeries(c),
    seqSeries: { toServer: seqSeries(c, true), toClient: seqSeries(c, false) },
  };
}
