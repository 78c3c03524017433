import { L4, TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN, type Frame } from '../decode/frame.js';
import type { Connection, FrameAnalyzer, PacketContext } from '../analysis/types.js';
import { TcpStreamReassembler, type StreamSink } from './tcp-stream.js';

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
  c2s: TcpStreamReassembler | null;
  s2c: TcpStreamReassembler | null;
  clientIsn: number;
  serverIsn: number;
  tries: number;
}

/** Payload packets looked at before a connection is declared "no protocol we parse". */
const MAX_DETECT_TRIES = 6;
const IGNORED = null;

/*
 * STREAM DISPATCH. Each TCP connection is offered to the protocols in order on its first
 * payload packets; the first that claims it gets both directions reassembled
 * (TcpStreamReassembler) and fed to its sinks. Connections nobody claims cost one map
 * entry and no reassembly. State is dropped once both directions have ended.
 */
export class TcpStreamDispatcher implements FrameAnalyzer {
  private conns = new Map<Connection, ConnStreams | typeof IGNORED>();

  constructor(private protocols: StreamProtocol[]) {}

  /** Connections whose parsing failed with an exception (a bug): they are dropped, not the capture. */
  failures = 0;
  firstFailure: string | null = null;

  onFrame(f: Frame, ctx: PacketContext): void {
    const conn = ctx.conn;
    if (!conn || f.l4 !== L4.Tcp) return;
    try {
      this.feed(f, conn, ctx.toServer);
    } catch (e) {
      this.failures++;
      this.firstFailure ??= `packet ${f.index + 1}, connection ${conn.id}: ${(e as Error).message}`;
      this.conns.set(conn, IGNORED);
    }
  }

  private feed(f: Frame, conn: Connection, toServer: boolean): void {
    let st = this.conns.get(conn);
    if (st === IGNORED) return;
    if (st === undefined) {
      st = { c2s: null, s2c: null, clientIsn: -1, serverIsn: -1, tries: 0 };
      this.conns.set(conn, st);
    }
    const flags = f.tcpFlags;
    if (flags & TCP_SYN) {
      if (toServer) st.clientIsn = f.tcpSeq;
      else st.serverIsn = f.tcpSeq;
      (toServer ? st.c2s : st.s2c)?.syn(f.tcpSeq);
    }
    if (!st.c2s) {
      if (f.payloadCapLen === 0) return;
      let app: AppStreams | null = null;
      for (const p of this.protocols) {
        app = p.detect(conn, toServer, f.data, f.payloadOff, f.payloadCapLen);
        if (app) break;
      }
      if (!app) {
        if (++st.tries >= MAX_DETECT_TRIES) this.conns.set(conn, IGNORED);
        return;
      }
      st.c2s = new TcpStreamReassembler(app.client);
      st.s2c = new TcpStreamReassembler(app.server);
      if (st.clientIsn !== -1) st.c2s.syn(st.clientIsn);
      if (st.serverIsn !== -1) st.s2c.syn(st.serverIsn);
    }
    const mine = toServer ? st.c2s : st.s2c;
    const peer = toServer ? st.s2c : st.c2s;
    if (!mine || !peer) return;
    if (flags & TCP_RST) {
      // Bytes of a RST segment are not stream data (RFC 9293 §3.5.3 diagnostic text).
      mine.close(f.ts, 'reset');
      peer.close(f.ts, 'reset');
    } else {
      // Data on a SYN (TCP Fast Open, RFC 7413) starts after the SYN's sequence number.
      const seq = flags & TCP_SYN ? (f.tcpSeq + 1) >>> 0 : f.tcpSeq;
      mine.segment(seq, f.data, f.payloadOff, f.payloadCapLen, f.payloadLen, (flags & TCP_FIN) !== 0, f.ts);
      if (flags & TCP_ACK) peer.acked(f.tcpAck, f.ts);
    }
    if (mine.isEnded && peer.isEnded) {
      this.conns.set(conn, IGNORED); // both directions done: drop the state
    }
  }

  finish(lastTs: number): void {
    for (const [conn, st] of this.conns) {
      if (!st || !st.c2s || !st.s2c) continue;
      try {
        st.c2s.close(lastTs, 'eof');
        st.s2c.close(lastTs, 'eof');
      } catch (e) {
        this.failures++;
        this.firstFailure ??= `end of capture, connection ${conn.id}: ${(e as Error).message}`;
      }
    }
    this.conns.clear();
  }
}
