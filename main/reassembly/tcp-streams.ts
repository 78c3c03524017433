import { L4, TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN, type Frame } from '../decode/frame.js';
import type { Connection, FrameAnalyzer, PacketContext } from '../analysis/types.js';
import { grown, pow2AtLeast } from '../flows/columns.js';
import { TcpStreamReassembler, type StreamSink } from './tcp-stream.js';
import { CausalHold, type HeldSegment } from './causal-hold.js';

/** The two sinks an application protocol attaches to a TCP connection. */
export interface AppStreams {
  client: StreamSink;
  server: StreamSink;
}

/**
 * An application protocol carried over TCP. `detect` sees the first payload packets of a
 * connection (either direction) and returns the sinks for it when the protocol claims it.
 */
export interface StreamProtocol {
  detect(conn: Connection, toServer: boolean, b: Uint8Array, off: number, len: number): AppStreams | null;
}

interface ConnStreams {
  c2s: TcpStreamReassembler;
  s2c: TcpStreamReassembler;
  /** Segments of each direction waiting for the other's bytes they ACK (causal-hold.ts); null until one waits. */
  c2sHeld: CausalHold | null;
  s2cHeld: CausalHold | null;
}

/** Wrap-safe sequence difference a - b. */
const seqDiff = (a: number, b: number): number => (a - b) | 0;

/** The segment ACKs bytes of the peer's stream it has not delivered yet. */
function acksUndelivered(ack: number, peer: TcpStreamReassembler): boolean {
  const next = peer.nextSeq;
  if (ack < 0 || next === -1 || peer.isEnded) return false;
  const d = seqDiff(ack, next);
  return d > 0 && d <= 0x40000000;
}

/** Payload packets looked at before a connection is declared "no protocol we parse". */
const MAX_DETECT_TRIES = 6;
/** `status` values past the try counts. */
const CLAIMED = 254;
const IGNORED = 255;

/*
 * STREAM DISPATCH. Each TCP connection is offered to the protocols in order on its first
 * payload packets; the first that claims it gets both directions reassembled
 * (TcpStreamReassembler) and fed to its sinks. Until then a connection costs three column
 * slots (detection tries, both initial sequence numbers) and no object; connections
 * nobody claims never cost more. A claimed connection's reassemblers and parsers are
 * dropped once both directions have ended (FIN, RST) or at the end of input.
 */
export class TcpStreamDispatcher implements FrameAnalyzer {
  /** Per connection: detection tries so far, CLAIMED or IGNORED. */
  private status = new Uint8Array(1024);
  /** Per connection and direction (conn * 2 + 0 client, + 1 server): SYN sequence number + 1, 0 before a SYN. */
  private isn = new Float64Array(2048);
  /** Claimed connections still open. */
  private conns = new Map<number, ConnStreams>();

  constructor(private protocols: StreamProtocol[]) {}

  /** Connections whose parsing failed with an exception (a bug): they are dropped, not the capture. */
  failures = 0;
  firstFailure: string | null = null;

  onFrame(f: Frame, ctx: PacketContext): void {
    const id = ctx.connId;
    if (id < 0 || f.l4 !== L4.Tcp) return;
    if (id >= this.status.length) {
      const n = pow2AtLeast(id + 1);
      this.status = grown(this.status, n);
      this.isn = grown(this.isn, n * 2);
    }
    if (this.status[id] === IGNORED) return;
    try {
      this.feed(f, id, ctx);
    } catch (e) {
      this.failures++;
      this.firstFailure ??= `packet ${f.index + 1}, connection ${id}: ${(e as Error).message}`;
      this.drop(id);
    }
  }

  private drop(id: number): void {
    this.status[id] = IGNORED;
    this.conns.delete(id);
  }

  private feed(f: Frame, id: number, ctx: PacketContext): void {
    const toServer = ctx.toServer;
    const flags = f.tcpFlags;
    let st = this.status[id] === CLAIMED ? this.conns.get(id) : undefined;
    if (flags & TCP_SYN) {
      this.isn[id * 2 + (toServer ? 0 : 1)] = f.tcpSeq + 1;
      if (st) (toServer ? st.c2s : st.s2c).syn(f.tcpSeq);
    }
    if (!st) {
      if (f.payloadCapLen === 0) return;
      const conn = ctx.flows.view(id);
      let app: AppStreams | null = null;
      for (const p of this.protocols) {
        app = p.detect(conn, toServer, f.data, f.payloadOff, f.payloadCapLen);
        if (app) break;
      }
      if (!app) {
        if (++this.status[id] >= MAX_DETECT_TRIES) this.status[id] = IGNORED;
        return;
      }
      st = { c2s: new TcpStreamReassembler(app.client), s2c: new TcpStreamReassembler(app.server), c2sHeld: null, s2cHeld: null };
      const ci = this.isn[id * 2];
      const si = this.isn[id * 2 + 1];
      if (ci !== 0) st.c2s.syn(ci - 1);
      if (si !== 0) st.s2c.syn(si - 1);
      this.status[id] = CLAIMED;
      this.conns.set(id, st);
    }
    const mine = toServer ? st.c2s : st.s2c;
    const peer = toServer ? st.s2c : st.c2s;
    let mineHeld = toServer ? st.c2sHeld : st.s2cHeld;
    const peerHeld = toServer ? st.s2cHeld : st.c2sHeld;
    if (flags & TCP_RST) {
      // Bytes of a RST segment are not stream data (RFC 9293 §3.5.3 diagnostic text).
      this.release(mineHeld, mine, peer, false);
      this.release(peerHeld, peer, mine, false);
      mine.close(f.ts, 'reset');
      peer.close(f.ts, 'reset');
    } else {
      // Data on a SYN (TCP Fast Open, RFC 7413) starts after the SYN's sequence number.
      const seq = flags & TCP_SYN ? (f.tcpSeq + 1) >>> 0 : f.tcpSeq;
      const fin = (flags & TCP_FIN) !== 0;
      const ack = flags & TCP_ACK ? f.tcpAck >>> 0 : -1;
      // The peer waits for bytes of this direction; data starting past them means they were
      // lost, not late: the peer stops waiting first.
      if (peerHeld !== null && !peerHeld.isEmpty && f.payloadLen > 0 && mine.nextSeq !== -1 && seqDiff(seq, mine.nextSeq) > 0) this.release(peerHeld, peer, mine, false);
      if ((mineHeld !== null && !mineHeld.isEmpty) || ((f.payloadLen > 0 || fin) && acksUndelivered(ack, peer))) {
        if (mineHeld === null) {
          mineHeld = new CausalHold();
          if (toServer) st.c2sHeld = mineHeld;
          else st.s2cHeld = mineHeld;
        }
        mineHeld.hold(seq, f.data, f.payloadOff, f.payloadCapLen, f.payloadLen, fin, ack, f.ts);
      } else {
        mine.segment(seq, f.data, f.payloadOff, f.payloadCapLen, f.payloadLen, fin, f.ts);
        if (ack >= 0) peer.acked(ack, f.ts);
      }
      if (peerHeld !== null && !peerHeld.isEmpty) this.release(peerHeld, peer, mine, true);
      if (mineHeld !== null && mineHeld.tick()) this.release(mineHeld, mine, peer, false);
      if (peerHeld !== null && peerHeld.tick()) this.release(peerHeld, peer, mine, false);
    }
    // Both directions done: drop the state.
    if (mine.isEnded && peer.isEnded && (mineHeld === null || mineHeld.isEmpty) && (peerHeld === null || peerHeld.isEmpty)) this.drop(id);
  }

  /**
   * Feeds `held`'s segments to their direction `into` in order; with `onlyReady`, only while
   * the first one's ACK is covered by what `other` has delivered.
   */
  private release(held: CausalHold | null, into: TcpStreamReassembler, other: TcpStreamReassembler, onlyReady: boolean): void {
    if (held === null) return;
    let s: HeldSegment | undefined;
    while ((s = held.segments[0]) !== undefined) {
      if (onlyReady && acksUndelivered(s.ack, other)) return;
      held.shift();
      into.segment(s.seq, s.bytes, 0, s.bytes.length, s.wireLen, s.fin, s.ts);
      if (s.ack >= 0) other.acked(s.ack, s.ts);
    }
  }

  finish(lastTs: number): void {
    for (const [id, st] of this.conns) {
      try {
        this.release(st.c2sHeld, st.c2s, st.s2c, false);
        this.release(st.s2cHeld, st.s2c, st.c2s, false);
        st.c2s.close(lastTs, 'eof');
        st.s2c.close(lastTs, 'eof');
      } catch (e) {
        this.failures++;
        this.firstFailure ??= `end of capture, connection ${id}: ${(e as Error).message}`;
      }
    }
    this.conns.clear();
  }
}
