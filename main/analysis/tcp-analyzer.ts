import { TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN, type Frame } from '../decode/frame.js';
import type { TcpHooks } from '../flows/flow-table.js';
import { tcpSegmentLength } from '../flows/tcp-segment.js';
import {
  C_BASE_SEC, C_FIRST_RTT, C_MRU_SYN, CONN_F64, CONN_I32, COUNTS, F_BASE_SEQ, F_DATA_BYTES, F_LAST_ACK_TIME,
  F_NEXT_SEQ_TIME, FLOW_F64, FLOW_I32, FLOW_U32, I_BASE_SEQ_SET, I_DSACKS, I_DUPACK_NUM,
  I_FIN_SEEN, I_IS_FIRST_ACK, I_LAST_SEG_FLAGS, I_PACKETS, I_RST_SEEN, I_SACK_PACKETS, I_WIN_SCALE,
  K_FIN_BOTH_BEFORE_RST, K_HEAVY, K_PURE_SYNS, K_REUSED_PENDING, K_RST_FROM_SERVER_BEFORE_SYNACK, K_SYN_ACK_SEEN,
  S_LAST_ACK, S_MAX_SEQ_TO_BE_ACKED, S_NEXT_SEQ, S_WINDOW, SEG_INLINE, SEG_STRIDE, TcpTable,
} from '../flows/tcp-state.js';
import { DUPACK_MAX, DUPACK_SHIFT, TcpA } from './tcp-flags.js';

export { tcpSegmentLength };

/*
 * TCP sequence analysis with tshark's (4.x) definitions and order of checks, so a
 * packet earns here exactly the `tcp.analysis.*` marks Wireshark gives it. The rules are
 * those of Wireshark's TCP analysis (User's Guide "TCP Analysis"), restated below one
 * block per rule. All sequence arithmetic is modulo 2^32 (`((a - b) | 0) < 0` survives the wrap).
 *
 * State is per connection and direction ("flow"): next expected sequence number, highest
 * contiguous sequence number the peer may ACK, last ACK/window sent, duplicate-ACK count
 * (typed-array columns, flows/tcp-state.ts), and the list of unacknowledged segments (for
 * ACK RTT), capped like tshark's at MAX_UNACKED segments, in the connection's pooled heavy
 * state while it is open. Results for the report: analysis/tcp-report.ts.
 *
 * Times are kept as integer nanoseconds since the connection's first second, so every
 * difference is exact (tshark uses nanosecond time stamps; thresholds such as the 20 ms
 * fast-retransmission window are compared exactly).
 */

const MAX_UNACKED = 10000;
const FAST_RETX_WINDOW_NS = 20_000_000;
const DEFAULT_OOO_THRESHOLD_NS = 3_000_000;
const SFR = TCP_SYN | TCP_FIN | TCP_RST;

// The per-packet rules below write these comparisons out as ((a - b) | 0) < 0 and so on:
// a call that is not inlined (analyzeSequence exhausts V8's inlining budget) boxes each
// sequence number above 2^31 into a heap number, about 20 bytes of garbage a packet.
const seqLt = (x: number, y: number): boolean => ((x - y) | 0) < 0;
const seqLe = (x: number, y: number): boolean => ((x - y) | 0) <= 0;
const seqGe = (x: number, y: number): boolean => ((y - x) | 0) <= 0;

/**
 * The TCP analyser: plugs into the FlowTable (new rows, port reuse, per-packet analysis)
 * and returns for each packet the TcpA bits it earned. Its state is the TcpTable's
 * columns (flows/tcp-state.ts); the rules below index them directly: offsets fw/rv are a
 * flow's Float64 row, fwi/rvi its Int32 row (forward = this packet's sender).
 */
export class TcpAnalyzer implements TcpHooks {
  private reuseNext = false;
  readonly table: TcpTable;
  /** The current packet's time (ns since its connection's base second). */
  private readonly t = new Float64Array(1);

  /** `keepSeries`: keep chart series and per-side samples (a connection's detail view). */
  constructor(keepSeries = false) {
    this.table = new TcpTable(keepSeries);
  }

  created(c: number, f: Frame): void {
    const T = this.table;
    T.init(c, Math.floor(f.ts));
    if (this.reuseNext) {
      T.ci[c * CONN_I32 + K_REUSED_PENDING] = 1;
      this.reuseNext = false;
    }
  }

  /*
   * PORT REUSE: a pure SYN whose sequence number differs from the initial sequence number
   * its sender used on this 5-tuple starts a new conversation (tshark: a new tcp.stream,
   * marked "TCP Port numbers reused"). The same ISN again is a SYN retransmission.
   */
  startsNewConnection(c: number, f: Frame, fromClient: boolean): boolean {
    if ((f.tcpFlags & (TCP_SYN | TCP_ACK)) !== TCP_SYN) return false;
    const flow = c * 2 + (fromClient ? 0 : 1);
    const T = this.table;
    if (T.fi[flow * FLOW_I32 + I_BASE_SEQ_SET] && f.tcpSeq !== T.fd[flow * FLOW_F64 + F_BASE_SEQ]) {
      this.reuseNext = true;
      return true;
    }
    return false;
  }

  onPacket(c: number, f: Frame, toServer: boolean): number {
    const T = this.table;
    const fd = T.fd;
    const fs = T.fs;
    const fi = T.fi;
    const cd = T.cd;
    const ci = T.ci;
    const fwdFlow = c * 2 + (toServer ? 0 : 1);
    const revFlow = c * 2 + (toServer ? 1 : 0);
    const fw = fwdFlow * FLOW_F64;
    const rv = revFlow * FLOW_F64;
    const fwi = fwdFlow * FLOW_I32;
    const rvi = revFlow * FLOW_I32;
    const sw = fwdFlow * FLOW_U32;
    const co = c * CONN_F64;
    const ko = c * CONN_I32;
    const flags = f.tcpFlags;
    const seq = f.tcpSeq;
    const ack = f.tcpAck;
    const now = (f.tsSec - cd[co + C_BASE_SEC]) * 1e9 + f.tsNsec;
    let ta = 0;
    let dupNum = 0;
    fi[fwi + I_PACKETS]++;

    if ((flags & (TCP_SYN | TCP_ACK)) === TCP_SYN) {
      if (ci[ko + K_REUSED_PENDING]) {
        ta |= TcpA.ReusedPorts;
        ci[ko + K_REUSED_PENDING] = 0;
      } else if (fi[fwi + I_BASE_SEQ_SET] && seq === fd[fw + F_BASE_SEQ]) {
        // A repeated SYN (same ISN): forget sequence space advanced by, e.g., a RST
        // sent with the sequence number the peer ACKed, so the SYN reads as a retransmission.
        fs[sw + S_NEXT_SEQ] = fs[sw + S_MAX_SEQ_TO_BE_ACKED];
      }
      ci[ko + K_PURE_SYNS]++;
    }
    if ((flags & (TCP_SYN | TCP_ACK)) === (TCP_SYN | TCP_ACK)) {
      // SYN-ACK with a new ISN on a conversation in use: re-base, mark as reuse.
      if (fi[fwi + I_BASE_SEQ_SET] && seq !== fd[fw + F_BASE_SEQ]) {
        fd[fw + F_BASE_SEQ] = seq;
        ta |= TcpA.ReusedPorts;
      }
    }

    // Segment length comes from the IP header; without a whole TCP header by that
    // length (or for an IP fragment) the segment length is unknown and tshark skips the
    // sequence analysis.
    const seglen = tcpSegmentLength(f);
    const haveSeglen = seglen >= 0;
    if (haveSeglen) {
      if (!fi[fwi + I_BASE_SEQ_SET]) {
        fd[fw + F_BASE_SEQ] = flags & TCP_SYN ? seq : (seq - 1) >>> 0;
        fi[fwi + I_BASE_SEQ_SET] = 1;
      }
      if (!fi[rvi + I_BASE_SEQ_SET] && flags & TCP_ACK) {
        fd[rv + F_BASE_SEQ] = (ack - 1) >>> 0;
        fi[rvi + I_BASE_SEQ_SET] = 1;
      }
      this.t[0] = now;
      ta = this.analyzeSequence(c, toServer, fw, rv, fwi, rvi, f, seglen, ta);
      if (ta & TcpA.DuplicateAck) dupNum = fi[fwi + I_DUPACK_NUM];
      fd[fw + F_DATA_BYTES] += seglen;
      if (seglen > 0 && T.keepSeries) {
        const h = T.acquire(c);
        (toServer ? h.c2s : h.s2c).series().add(f, ((seq + seglen - fd[fw + F_BASE_SEQ]) >>> 0), ta & (TcpA.Retransmission | TcpA.OutOfOrder | TcpA.LostSegment));
      }
    }

    if (flags & TCP_SYN) {
      if (flags & TCP_ACK) ci[ko + K_SYN_ACK_SEEN] = 1;
      else cd[co + C_MRU_SYN] = now;
      fi[fwi + I_IS_FIRST_ACK] = 1;
    }
    if (flags & TCP_FIN) fi[fwi + I_FIN_SEEN] = 1;
    if (flags & TCP_RST) {
      if (!fi[fwi + I_RST_SEEN] && !fi[rvi + I_RST_SEEN]) ci[ko + K_FIN_BOTH_BEFORE_RST] = fi[fwi + I_FIN_SEEN] && fi[rvi + I_FIN_SEEN] ? 1 : 0;
      if (!toServer && !ci[ko + K_SYN_ACK_SEEN]) ci[ko + K_RST_FROM_SERVER_BEFORE_SYNACK] = 1;
      fi[fwi + I_RST_SEEN] = 1;
      ta |= TcpA.Reset;
    }
    /*
     * INITIAL RTT: the first pure ACK after a SYN ends the handshake; the initial RTT is
     * its time minus that of the most recent SYN (so SYN retries do not inflate it).
     */
    if ((flags & (TCP_SYN | TCP_ACK)) === TCP_ACK) {
      if (cd[co + C_MRU_SYN] === cd[co + C_MRU_SYN] && cd[co + C_FIRST_RTT] === 0) cd[co + C_FIRST_RTT] = now - cd[co + C_MRU_SYN];
      fi[fwi + I_IS_FIRST_ACK] = 0;
    }
    // Window scale option (any packet carrying it; shifts above 14 mean 14, RFC 7323 §2.3).
    if (f.tcpWscale >= 0) fi[fwi + I_WIN_SCALE] = f.tcpWscale > 14 ? 14 : f.tcpWscale;
    /*
     * WINDOW SCALING is used only if both SYNs carried the option: a SYN without it
     * settles "not used" (-2) for both sides; a SYN-ACK with it answering a SYN without
     * it is not used either.
     */
    if (flags & TCP_SYN) {
      if (fi[fwi + I_WIN_SCALE] === -1) {
        fi[fwi + I_WIN_SCALE] = -2;
        fi[rvi + I_WIN_SCALE] = -2;
      } else if (flags & TCP_ACK && fi[rvi + I_WIN_SCALE] === -2) {
        fi[fwi + I_WIN_SCALE] = -2;
      }
    }
    if (f.sackCount > 0) {
      fi[fwi + I_SACK_PACKETS]++;
      // D-SACK (RFC 2883 §4): the first block lies below the ACK, or inside the second block.
      if (seqLe(f.sackRight[0], ack) || (f.sackCount > 1 && seqLt(f.sackLeft[1], f.sackRight[0]) && seqGe(f.sackRight[1], f.sackRight[0]))) fi[fwi + I_DSACKS]++;
    }

    // A header longer than the segment (options past its end) makes tshark give up on
    // the packet before it prints the analysis: none of its marks show, so none count.
    if (!haveSeglen && f.tcpHdrLen > 20) ta &= TcpA.Reset;
    if (ta !== 0) {
      const cnt = T.counts;
      const base = c * COUNTS;
      for (let b = ta & 0xffff; b !== 0; b &= b - 1) cnt[base + 31 - Math.clz32(b & -b)]++;
    }
    if (dupNum > 0) ta |= (dupNum > DUPACK_MAX ? DUPACK_MAX : dupNum) << DUPACK_SHIFT;
    // The heavy can go back once the connection is over (releaseIfDone checks the rest):
    // tested here on this packet's rows, so an open connection's packets make no call.
    if (ci[ko + K_HEAVY] !== 0 && flags & (TCP_ACK | TCP_RST) && ((fi[fwi + I_FIN_SEEN] && fi[rvi + I_FIN_SEEN]) || fi[fwi + I_RST_SEEN] || fi[rvi + I_RST_SEEN])) T.releaseIfDone(c);
    return ta >>> 0;
  }

  /** tshark's sequence-number analysis for one segment; returns the TcpA bits. */
  private analyzeSequence(c: number, toServer: boolean, fw: number, rv: number, fwi: number, rvi: number, f: Frame, seglen: number, ta: number): number {
    // Doubles (sequence numbers above 2^31, times) are read here rather than passed in,
    // so no call boxes them.
    const T = this.table;
    const fd = T.fd;
    const fs = T.fs;
    const fi = T.fi;
    const sw = (c * 2 + (toServer ? 0 : 1)) * FLOW_U32;
    const sv = (c * 2 + (toServer ? 1 : 0)) * FLOW_U32;
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
      if (seglen === 1 && seq === fs[sw + S_NEXT_SEQ] && fs[sv + S_WINDOW] === 0) {
        ta |= TcpA.ZeroWindowProbe;
        break checks;
      }
      /* ZERO WINDOW: the window is 0 and none of SYN, FIN, RST is set. */
      if (window === 0 && notSfr) ta |= TcpA.ZeroWindow;
      /*
       * PREVIOUS SEGMENT NOT CAPTURED: the segment starts beyond the next expected
       * sequence number (once one is known); RSTs are exempt.
       */
      if (fs[sw + S_NEXT_SEQ] !== 0 && ((fs[sw + S_NEXT_SEQ] - seq) | 0) < 0 && !(flags & TCP_RST)) ta |= TcpA.LostSegment;
      /*
       * KEEP-ALIVE: 0 or 1 byte starting one byte before the next expected sequence
       * number; never SYN, FIN or RST.
       */
      if (seglen <= 1 && seq === ((fs[sw + S_NEXT_SEQ] - 1) >>> 0) && notSfr) ta |= TcpA.KeepAlive;
      const sameSeqAck = seq === fs[sw + S_NEXT_SEQ] && ack === fs[sw + S_LAST_ACK];
      /*
       * WINDOW UPDATE: no data, same SEQ and ACK as this side's previous segment, a new
       * non-zero window.
       */
      if (seglen === 0 && window !== 0 && window !== fs[sw + S_WINDOW] && sameSeqAck && notSfr) ta |= TcpA.WindowUpdate;
      /*
       * WINDOW FULL: data reaching exactly the right edge of the window the peer last
       * advertised (scaled; unscaled before the peer's first ACK, never checked while
       * the peer's scale is unknown).
       */
      if (seglen > 0 && fi[rvi + I_WIN_SCALE] !== -1 && notSfr) {
        const shift = fi[rvi + I_IS_FIRST_ACK] || fi[rvi + I_WIN_SCALE] === -2 ? 0 : fi[rvi + I_WIN_SCALE];
        if (((seq + seglen) >>> 0) === ((fs[sv + S_LAST_ACK] + ((fs[sv + S_WINDOW] << shift) >>> 0)) >>> 0)) ta |= TcpA.WindowFull;
      }
      /*
       * KEEP-ALIVE ACK: no data, same window/SEQ/ACK as before, answering a keep-alive.
       */
      if (seglen === 0 && window !== 0 && window === fs[sw + S_WINDOW] && sameSeqAck && fi[rvi + I_LAST_SEG_FLAGS] & TcpA.KeepAlive && notSfr) {
        ta |= TcpA.KeepAliveAck;
        break checks;
      }
      /*
       * ZERO WINDOW PROBE ACK: no data, still a zero window, same SEQ/ACK, answering a
       * zero-window probe.
       */
      if (seglen === 0 && window === 0 && window === fs[sw + S_WINDOW] && sameSeqAck && fi[rvi + I_LAST_SEG_FLAGS] & TcpA.ZeroWindowProbe && notSfr) {
        ta |= TcpA.ZeroWindowProbeAck;
        break checks;
      }
      /*
       * DUPLICATE ACK: no data, same non-zero window, SEQ and ACK as this side's
       * previous segment. The count restarts whenever the ACK moves.
       */
      if (seglen === 0 && window !== 0 && window === fs[sw + S_WINDOW] && sameSeqAck && notSfr) {
        fi[fwi + I_DUPACK_NUM] = fi[fwi + I_DUPACK_NUM] === -1 ? 1 : fi[fwi + I_DUPACK_NUM] + 1;
        ta |= TcpA.DuplicateAck;
      }
    }
    if (ack !== fs[sw + S_LAST_ACK]) fi[fwi + I_DUPACK_NUM] = 0;

    /*
     * ACKED UNSEEN SEGMENT: the ACK covers data beyond what the capture saw from the peer
     * (the tap dropped it). Reported once per hole: the peer's "may be ACKed" edge jumps
     * to what was seen, or, when nothing new was seen, a later duplicate is suppressed.
     */
    if (fs[sv + S_MAX_SEQ_TO_BE_ACKED] !== 0 && ((fs[sv + S_MAX_SEQ_TO_BE_ACKED] - ack) | 0) < 0 && flags & TCP_ACK) {
      if (((fs[sv + S_MAX_SEQ_TO_BE_ACKED] - fs[sv + S_NEXT_SEQ]) | 0) < 0) {
        fs[sv + S_MAX_SEQ_TO_BE_ACKED] = fs[sv + S_NEXT_SEQ];
        ta |= TcpA.AckedUnseen;
      } else {
        if (fi[rvi + I_DUPACK_NUM] === 0) ta |= TcpA.AckedUnseen;
        fi[rvi + I_DUPACK_NUM] = -1;
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
      let notAdvanced = fs[sw + S_NEXT_SEQ] !== 0 && ((seq - fs[sw + S_NEXT_SEQ]) | 0) < 0;
      if (seglen > 1 && ((fs[sw + S_NEXT_SEQ] - 1) >>> 0) === seq) notAdvanced = false;
      if (seglen > 0 && fs[sv + S_LAST_ACK] !== 0 && ((seq + seglen - fs[sv + S_LAST_ACK]) | 0) <= 0) {
        ta |= TcpA.SpuriousRetransmission | TcpA.Retransmission;
        break retx;
      }
      const sinceDupAck = now - fd[rv + F_LAST_ACK_TIME];
      // The count is unsigned in tshark, so the -1 left by an "ACKed unseen" counts as many.
      const peerDup = fi[rvi + I_DUPACK_NUM];
      if (notAdvanced && (peerDup >= 2 || peerDup === -1) && fs[sv + S_LAST_ACK] === seq && sinceDupAck >= 0 && sinceDupAck < FAST_RETX_WINDOW_NS) {
        ta |= TcpA.FastRetransmission | TcpA.Retransmission;
        break retx;
      }
      const sinceNext = now - fd[fw + F_NEXT_SEQ_TIME];
      const firstRtt = T.cd[c * CONN_F64 + C_FIRST_RTT];
      const oooThreshold = firstRtt !== 0 ? firstRtt : DEFAULT_OOO_THRESHOLD_NS;
      const end = (seq + seglen + (flags & (TCP_SYN | TCP_FIN) ? 1 : 0)) >>> 0;
      if (notAdvanced && sinceNext >= 0 && sinceNext < oooThreshold && fs[sw + S_NEXT_SEQ] !== end) {
        ta |= TcpA.OutOfOrder;
        break retx;
      }
      if (notAdvanced) ta |= TcpA.Retransmission;
    }

    // Remember the segment (bounded list, in the connection's heavy state) and advance
    // the next expected sequence number; zero-window probes do not advance it.
    let nextSeq = (seq + seglen) >>> 0;
    if (seglen > 0 || flags & (TCP_SYN | TCP_FIN)) {
      T.acquire(c);
      const mine = (T.ci[c * CONN_I32 + K_HEAVY] - 1) * 2 + (toServer ? 0 : 1);
      const n = T.segN[mine];
      if (n < MAX_UNACKED) {
        if (flags & (TCP_SYN | TCP_FIN)) nextSeq = (nextSeq + 1) >>> 0;
        let a: Float64Array = T.segs;
        let o = mine * SEG_INLINE * SEG_STRIDE + n * SEG_STRIDE;
        if (n >= SEG_INLINE || T.segSpill[mine] !== null) {
          a = T.spillRoom(mine, n);
          o = n * SEG_STRIDE;
        }
        a[o] = seq;
        a[o + 1] = nextSeq;
        a[o + 2] = now;
        T.segN[mine] = n + 1;
      }
    }
    const probe = (ta & TcpA.ZeroWindowProbe) !== 0;
    if ((((fs[sw + S_NEXT_SEQ] - nextSeq) | 0) < 0 || fs[sw + S_NEXT_SEQ] === 0) && !probe) {
      fs[sw + S_NEXT_SEQ] = nextSeq;
      fd[fw + F_NEXT_SEQ_TIME] = now;
    }
    if ((seq === fs[sw + S_MAX_SEQ_TO_BE_ACKED] || fs[sw + S_MAX_SEQ_TO_BE_ACKED] === 0) && !probe) fs[sw + S_MAX_SEQ_TO_BE_ACKED] = fs[sw + S_NEXT_SEQ];

    fs[sw + S_WINDOW] = window;
    fs[sw + S_LAST_ACK] = ack;
    fd[fw + F_LAST_ACK_TIME] = now;
    fi[fwi + I_LAST_SEG_FLAGS] = ta;

    const slot = T.ci[c * CONN_I32 + K_HEAVY] - 1;
    if (slot >= 0) this.ackSegments(slot, toServer, f);
    return ta;
  }

  /*
   * ACK RTT: the ACK that acknowledges exactly the end of an unacknowledged segment of
   * the peer gives the RTT sample (ACK time minus segment time; for several such
   * segments, the oldest, as tshark; a zero RTT is no sample). Acknowledged segments
   * leave the list; a partial ACK trims the segment's start.
   */
  private ackSegments(slot: number, toServer: boolean, f: Frame): void {
    const T = this.table;
    // The peer's list: its records are (seq, next seq, time).
    const rev = slot * 2 + (toServer ? 1 : 0);
    const n = T.segN[rev];
    if (n === 0) return;
    const ack = f.tcpAck;
    const now = this.t[0];
    const spill = T.segSpill[rev];
    const a = spill !== null ? spill : T.segs;
    const base = spill !== null ? 0 : rev * SEG_INLINE * SEG_STRIDE;
    const end = base + n * SEG_STRIDE;
    let rtt = NaN;
    let acked = false;
    let deleted = 0;
    // Newest first (tshark's list order), so the oldest exact match sets the sample last.
    for (let r = end - SEG_STRIDE; r >= base; r -= SEG_STRIDE) {
      const next = a[r + 1];
      if (ack === next) {
        rtt = now - a[r + 2];
        acked = true;
        a[r + 2] = NaN; // deleted
        deleted++;
      } else if (((a[r] - ack) | 0) < 0 && ((ack - next) | 0) <= 0) {
        a[r] = ack;
      } else if (((ack - next) | 0) >= 0) {
        a[r + 2] = NaN; // old: deleted without a sample
        deleted++;
      }
    }
    if (deleted > 0) {
      let o = base;
      for (let r = base; r < end; r += SEG_STRIDE) {
        if (a[r + 2] !== a[r + 2]) continue;
        if (o !== r) {
          a[o] = a[r];
          a[o + 1] = a[r + 1];
          a[o + 2] = a[r + 2];
        }
        o += SEG_STRIDE;
      }
      T.segN[rev] = (o - base) / SEG_STRIDE;
    }
    if (acked && rtt !== 0) T.addRtt(slot * 2 + (toServer ? 0 : 1), rtt, f.ts);
  }
}

