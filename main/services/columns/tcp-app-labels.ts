import { TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN, type Frame } from '../../decode/frame.js';
import { TcpStreamReassembler, type StreamSink } from '../../reassembly/tcp-stream.js';
import { looksLikeTls } from '../../parsers/tls.js';
import { dnsInfo } from './dns-info.js';
import { http2Labels, httpLabels, TLS_SEGMENT, type Label } from './http-info.js';
import { TlsRecordLabels, TlsSessionState } from './tls-info.js';
import { appByClientFirstBytes, TlsFollow, teeSink } from '../follow-tls.js';
import type { KeyLog } from '../../decrypt/key-log.js';

/*
 * APPLICATION LABELS OF ONE TCP CONNECTION. Its packets are replayed in order through the
 * engine's reassembler (TcpStreamReassembler) into per-protocol framers; the packet whose
 * bytes complete a message (an HTTP message with its body, a TLS record, a length-prefixed
 * DNS message, HTTP/2 frames) gets that message's protocol and text, as tshark's packet
 * list shows it; segments inside a message stay "TCP". The `ts` argument of the stream
 * calls carries the packet index instead of a time, so the framers know which packet
 * delivered the bytes. Nothing survives the page being built: this is re-run per page.
 *
 * A retransmission delivers no new bytes; tshark dissects a fast retransmission again (not
 * other retransmissions): when it starts where a labelled message started it gets that label.
 */

export interface AppLabel {
  protocol: string;
  info: string;
}

const enum App { Unknown, Http, Tls, Dns, Http2, Pptp, None }

const H2_PREFACE = 'PRI * HTTP/2.0';
const METHOD = /^[A-Z][A-Z_-]{2,15} /;
/** Payload packets looked at before the connection is left as plain TCP. */
const MAX_DETECT = 4;
/** Labelled message starts remembered for retransmissions (per direction). */
const MAX_STARTS = 4096;

/**
 * Messages with a 2-byte length in front: DNS over TCP (RFC 1035 §4.2.2, the length leaves
 * itself out) and PPTP control messages (RFC 2637 §2, the length counts the whole message).
 */
class LengthPrefixedLabels implements StreamSink {
  private buf = new Uint8Array(512);
  private len = 0;
  private need = -1;
  private dead = false;
  constructor(private lengthIncludesPrefix: boolean, private describe: (m: Uint8Array, len: number) => [string, string], private label: Label) {}
  data(b: Uint8Array, off: number, n: number, packet: number): void {
    const end = off + n;
    for (let i = off; i < end && !this.dead;) {
      if (this.need < 0) {
        this.buf[this.len++] = b[i++];
        if (this.len < 2) continue;
        this.need = (this.buf[0] << 8) | this.buf[1];
        if (this.lengthIncludesPrefix) this.need = this.need >= 2 ? this.need : 2;
        else this.need += 2;
        if (this.buf.length < this.need) { const g = new Uint8Array(this.need); g.set(this.buf.subarray(0, 2)); this.buf = g; }
      }
      const k = Math.min(this.need - this.len, end - i);
      this.buf.set(b.subarray(i, i + k), this.len);
      this.len += k;
      i += k;
      if (this.len === this.need) {
        const [protocol, info] = this.describe(this.buf, this.need);
        this.label(packet, protocol, info);
        this.need = -1;
        this.len = 0;
      }
    }
  }
  gap(): void { this.dead = true; }
  end(): void { this.dead = true; }
}

const PPTP_TYPES = ['', 'Start-Control-Connection-Request', 'Start-Control-Connection-Reply', 'Stop-Control-Connection-Request',
  'Stop-Control-Connection-Reply', 'Echo-Request', 'Echo-Reply', 'Outgoing-Call-Request', 'Outgoing-Call-Reply', 'Incoming-Call-Request',
  'Incoming-Call-Reply', 'Incoming-Call-Connected', 'Call-Clear-Request', 'Call-Disconnect-Notify', 'WAN-Error-Notify', 'Set-Link-Info'];

const dnsMessage = (m: Uint8Array, len: number): [string, string] => ['DNS', dnsInfo(m, 2, len - 2, false) ?? 'Unknown DNS message'];
// PPTP header: length(16) message type(16) magic cookie(32) control message type(16)
const pptpMessage = (m: Uint8Array, len: number): [string, string] => ['PPTP', len >= 10 ? PPTP_TYPES[(m[8] << 8) | m[9]] || `Unknown control type (${(m[8] << 8) | m[9]})` : 'Malformed'];

/** Detects the protocol on the first payload bytes and forwards to its framer. */
class DirectionSink implements StreamSink {
  target: StreamSink | null = null;
  constructor(private conn: TcpConnectionLabels, readonly toServer: boolean) {}
  data(b: Uint8Array, off: number, len: number, packet: number): void {
    if (!this.target) this.conn.detect(this.toServer, b, off, len);
    this.target?.data(b, off, len, packet);
  }
  gap(len: number, packet: number): void { this.target?.gap(len, packet); }
  end(packet: number, how: 'fin' | 'reset' | 'eof'): void { this.target?.end(packet, how); }
}

export class TcpConnectionLabels {
  private app = App.Unknown;
  private tries = 0;
  private c2s: TcpStreamReassembler;
  private s2c: TcpStreamReassembler;
  private sinks: [DirectionSink, DirectionSink];
  /** Labels of wanted packets; others are not kept. */
  private parts = new Map<number, AppLabel>();
  /** Labels given while the current packet is fed (every label belongs to the packet fed). */
  private current: { protocol: string; info: string[]; inner?: boolean; tls?: string; segment?: boolean } | null = null;
  /** Per direction: labels of segments that started a message, by sequence number. */
  private starts: [Map<number, AppLabel>, Map<number, AppLabel>] = [new Map(), new Map()];
  /** Per direction: the last data segment ended a message, so the next one starts one. */
  private aligned = [true, true];

  constructor(
    private serverPort: number,
    private clientPort: number,
    private wanted: (packet: number) => boolean,
    /** Retransmissions tshark dissects again (its fast retransmissions). */
    private redissected: (packet: number) => boolean = () => false,
    /** The session's TLS keys, asked for only when the connection is TLS. */
    private keys: () => KeyLog | null = () => null,
  ) {
    this.sinks = [new DirectionSink(this, true), new DirectionSink(this, false)];
    this.c2s = new TcpStreamReassembler(this.sinks[0]);
    this.s2c = new TcpStreamReassembler(this.sinks[1]);
  }

  detect(toServer: boolean, b: Uint8Array, off: number, len: number): void {
    if (this.app === App.Unknown) {
      const head = Buffer.from(b.buffer, b.byteOffset + off, Math.min(len, 16)).toString('latin1');
      if (this.serverPort === 53 || this.clientPort === 53) this.app = App.Dns;
      else if (this.serverPort === 1723) this.app = App.Pptp;
      else if (head.startsWith(H2_PREFACE) || (!toServer && len >= 9 && b[off + 3] === 4 && (b[off + 4] & ~1) === 0 && b[off + 5] === 0 && b[off + 6] === 0 && b[off + 7] === 0 && b[off + 8] === 0)) this.app = App.Http2;
      else if (looksLikeTls(b, off, len)) this.app = App.Tls;
      else if ((toServer && METHOD.test(head)) || (!toServer && head.startsWith('HTTP/1.'))) this.app = App.Http;
      else if (++this.tries >= MAX_DETECT) this.app = App.None;
      if (this.app !== App.Unknown) this.attach();
    }
  }

  private attach(): void {
    const label: Label = (packet, protocol, info) => this.add(packet, protocol, info);
    const [c, s] = this.sinks;
    if (this.app === App.Dns) {
      c.target = new LengthPrefixedLabels(false, dnsMessage, label);
      s.target = new LengthPrefixedLabels(false, dnsMessage, label);
    } else if (this.app === App.Pptp) {
      c.target = new LengthPrefixedLabels(true, pptpMessage, label);
      s.target = new LengthPrefixedLabels(true, pptpMessage, label);
    } else if (this.app === App.Http2) {
      const h = http2Labels(label);
      c.target = h.client;
      s.target = h.server;
    } else if (this.app === App.Tls) {
      const session = new TlsSessionState();
      c.target = new TlsRecordLabels(true, session, label);
      s.target = new TlsRecordLabels(false, session, label);
      const keys = this.keys();
      if (keys) {
        // With keys, as tshark: a packet completing decrypted HTTP messages or HTTP/2 frames
        // shows them instead of its TLS records.
        const inner: Label = (packet, protocol, info) => this.add(packet, protocol, info, true);
        // HTTP/2 (the client preface) or HTTP/1.x labels, decided on the client's first bytes.
        const app = appByClientFirstBytes((head) => {
          const h = head.startsWith(H2_PREFACE) ? http2Labels(inner, true) : METHOD.test(head) ? httpLabels(inner, () => {}) : null;
          return h ? [h.client, h.server] : null;
        });
        const tls = new TlsFollow(keys, app);
        c.target = teeSink(tls.client, c.target);
        s.target = teeSink(tls.server, s.target);
      }
    } else if (this.app === App.Http) {
      const h = httpLabels(label, () => {});
      c.target = h.client;
      s.target = h.server;
    }
  }

  private add(_packet: number, protocol: string, info: string, inner = false): void {
    if (protocol === TLS_SEGMENT) {
      // A packet that completes decrypted content and starts a TLS record or frame it does not
      // complete: tshark's row is the TLS record's, "[TLS segment of a reassembled PDU]" first.
      const k = this.current;
      if (!k) this.current = { protocol: 'TLS', info: [info], inner: true, segment: true };
      else if (k.inner && !k.segment) {
        k.info.unshift(info);
        k.segment = true;
      }
      return;
    }
    const c = this.current;
    if (!c) this.current = inner ? { protocol, info: [info], inner: true } : { protocol, info: [info], tls: protocol };
    else if (inner && !c.inner) this.current = { protocol, info: [info], inner: true, tls: c.tls };
    else if (inner || !c.inner) {
      c.protocol = protocol;
      c.info.push(info);
    } else c.tls = protocol; // a record's label under decrypted content: kept for its version
  }

  /** Feeds packet `index` (its Frame) of this connection, in capture order. */
  feed(f: Frame, toServer: boolean, index: number): void {
    const mine = toServer ? this.c2s : this.s2c;
    const peer = toServer ? this.s2c : this.c2s;
    const flags = f.tcpFlags;
    this.current = null;
    if (flags & TCP_SYN) mine.syn(f.tcpSeq);
    // tshark goes on dissecting data sent after a RST; a RST's own bytes are not stream data.
    if (!(flags & TCP_RST)) {
      const seq = flags & TCP_SYN ? (f.tcpSeq + 1) >>> 0 : f.tcpSeq >>> 0;
      const d = toServer ? 0 : 1;
      const before = mine.delivered + mine.gapBytes;
      mine.segment(seq, f.data, f.payloadOff, f.payloadCapLen, f.payloadLen, (flags & TCP_FIN) !== 0, index);
      // tshark does not wait for a hole to be filled (tcp.reassemble_out_of_order is off by
      // default): a segment past a hole is dissected at once, the hole is lost. Acknowledging
      // the segment's own start makes the reassembler give the hole up now.
      if (f.payloadLen > 0) mine.acked(seq, index);
      if (flags & TCP_ACK) peer.acked(f.tcpAck >>> 0, index);
      const cur = this.current as { protocol: string; info: string[] } | null;
      if (f.payloadLen > 0 && mine.delivered + mine.gapBytes > before) {
        if (cur && this.aligned[d] && this.starts[d].size < MAX_STARTS) this.starts[d].set(seq, { protocol: cur.protocol, info: cur.info.join(', ') });
        this.aligned[d] = cur !== null;
      } else if (f.payloadLen > 0 && !cur) {
        // Nothing new: a retransmission. It repeats a labelled message: tshark dissects it again.
        const s = this.redissected(index) ? this.starts[d].get(seq) : undefined;
        if (s) this.current = { protocol: s.protocol, info: [s.info] };
      }
    }
    const c = this.current as { protocol: string; info: string[]; tls?: string; segment?: boolean } | null;
    if (c && this.wanted(index)) this.parts.set(index, { protocol: c.segment ? c.tls ?? 'TLS' : c.protocol, info: c.info.join(', ') });
    this.current = null;
  }

  label(index: number): AppLabel | null {
    return this.parts.get(index) ?? null;
  }
}
