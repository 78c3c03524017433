import { L4, TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN, type Frame } from '../decode/frame.js';
import type { PacketIndex } from '../engine/packet-index.js';
import { TcpStreamReassembler, type StreamSink } from '../reassembly/tcp-stream.js';
import { looksLikeTls, TLS_ALERT, TLS_CHANGE_CIPHER_SPEC, TLS_HANDSHAKE } from '../parsers/tls.js';
import { TcpA } from '../analysis/tcp-flags.js';
import { clientHelloSni, httpHead, type HttpMessage, type TlsRecords } from './app-fields.js';
import { Http2Connection } from '../parsers/http2.js';
import { appByClientFirstBytes, TlsFollow, teeSink } from '../services/follow-tls.js';
import type { KeyLog } from '../decrypt/key-log.js';

/*
 * HTTP/1.x, HTTP/2 (h2c, or inside TLS decrypted with the session's keys) AND TLS FIELDS
 * OVER TCP, AS TSHARK PLACES THEM. A connection's packets are replayed
 * in capture order through the engine's reassembler (both directions); an HTTP message's
 * fields belong to the packet that completes it (head and body: Content-Length, chunked, or
 * up to the FIN), an HTTP/2 frame's and a TLS record's to the packet that completes it, a handshake
 * message's to the record that completes it. The replay moves forward with the filter (the
 * filter visits packets in capture order), one replay per connection, dropped at the
 * connection's last packet; bodies are counted, never kept. A TLS connection is decrypted
 * only when the session has keys (key log, the capture's DSBs) and its ClientHello's random
 * is among them; the decrypted bytes land on the packet completing their TLS record.
 */

const MAX_HEAD = 64 * 1024;
const MAX_HANDSHAKE = 64 * 1024;
/** A request line's method and a URI character, or a status line (RFC 9112 §3, §4). */
const HTTP_START = /^[A-Z][A-Z_-]{2,15} [^ ]|^HTTP\/1\.\d /;
/** Payload packets looked at before a connection is left as neither HTTP nor TLS. */
const MAX_DETECT = 4;
/** Message-completing segments remembered per direction for fast retransmissions. */
const MAX_STARTS = 4096;

export interface TcpAppResult {
  http: HttpMessage[];
  tls: TlsRecords | null;
  /** HTTP/2 frames completed here: type and stream id of each (RFC 9113 §4.1), and the fields of header blocks completed here. */
  http2: Http2Frames | null;
}

export interface Http2Frames { types: number[]; streams: number[]; headerNames: string[]; headerValues: string[] }

type Emit = { http(packet: number, m: HttpMessage): void; tls(packet: number): TlsRecords; http2(): Http2Frames };

const H2_PREFACE = 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n';

/** One direction of HTTP/2 (h2c): the client's connection preface, then frames: length(24) type(8) flags(8) R+stream id(32). */
class Http2Direction implements StreamSink {
  private hdr = new Uint8Array(9);
  private hdrLen = 0;
  private left = 0;
  private preface: number;
  private dead = false;

  constructor(private emit: Emit, client: boolean) {
    this.preface = client ? H2_PREFACE.length : 0;
  }

  data(b: Uint8Array, off: number, len: number): void {
    let i = off;
    const end = off + len;
    while (i < end && !this.dead) {
      if (this.preface > 0) {
        if (b[i] !== H2_PREFACE.charCodeAt(H2_PREFACE.length - this.preface)) return void (this.dead = true);
        this.preface--;
        i++;
        continue;
      }
      if (this.hdrLen < 9) {
        this.hdr[this.hdrLen++] = b[i++];
        if (this.hdrLen === 9) {
          this.left = (this.hdr[0] << 16) | (this.hdr[1] << 8) | this.hdr[2];
          if (this.left === 0) this.frame();
        }
        continue;
      }
      const k = Math.min(this.left, end - i);
      this.left -= k;
      i += k;
      if (this.left === 0) this.frame();
    }
  }

  private frame(): void {
    const h = this.hdr;
    const out = this.emit.http2();
    out.types.push(h[3]);
    out.streams.push(((h[5] & 0x7f) << 24 | (h[6] << 16) | (h[7] << 8) | h[8]) >>> 0);
    this.hdrLen = 0;
  }

  gap(): void {
    this.dead = true;
  }

  end(): void {
    this.dead = true;
  }
}

/**
 * Both directions of HTTP/2: frames from Http2Direction (on the packet completing each), header
 * fields from the engine's HTTP/2 parser (HPACK, one context per direction), on the packet completing the block.
 */
function http2Sinks(emit: Emit, expectPreface: boolean): [StreamSink, StreamSink] {
  const parser = new Http2Connection({
    headers: (_fromClient, block) => {
      const out = emit.http2();
      for (const f of block.fields) {
        out.headerNames.push(f.name);
        out.headerValues.push(f.value);
      }
    },
    data: () => {}, rstStream: () => {}, goaway: () => {}, error: () => {}, end: () => {},
  }, { expectPreface });
  return [teeSink(new Http2Direction(emit, expectPreface), parser.client), teeSink(new Http2Direction(emit, false), parser.server)];
}

const latin1 = (b: Uint8Array, off: number, len: number): string => Buffer.from(b.buffer, b.byteOffset + off, len).toString('latin1');

/** One direction of HTTP/1.x: head, then a body framed by RFC 9112 §6 (length, chunked, or close-delimited). */
class HttpDirection implements StreamSink {
  private head = new Uint8Array(1024);
  private headLen = 0;
  private msg: HttpMessage | null = null;
  /** Body bytes still to come; -1 close-delimited; -2 chunked. */
  private left = 0;
  private chunk = { state: 'size' as 'size' | 'data' | 'crlf' | 'trailer', line: '', left: 0 };
  private dead = false;

  constructor(private emit: Emit, private methods: string[], private toServer: boolean) {}

  data(b: Uint8Array, off: number, len: number, packet: number): void {
    let i = off;
    const end = off + len;
    while (i < end && !this.dead) {
      if (!this.msg) {
        // Head: up to the empty line.
        if (this.headLen + 1 > this.head.length) {
          if (this.head.length >= MAX_HEAD) return void (this.dead = true);
          const g = new Uint8Array(this.head.length * 4);
          g.set(this.head);
          this.head = g;
        }
        this.head[this.headLen++] = b[i++];
        const h = this.head;
        const n = this.headLen;
        if (n >= 4 && h[n - 1] === 10 && h[n - 2] === 13 && h[n - 3] === 10 && h[n - 4] === 13) this.startBody(packet);
        else if (n === 16 && !HTTP_START.test(latin1(h, 0, 16))) this.dead = true;
        continue;
      }
      if (this.left > 0) {
        const k = Math.min(this.left, end - i);
        this.left -= k;
        i += k;
        if (this.left === 0) this.done(packet);
        continue;
      }
      if (this.left === -1) return; // up to the FIN
      i = this.chunked(b, i, end, packet);
    }
  }

  private startBody(packet: number): void {
    const m = httpHead(this.head, 0, this.headLen);
    this.headLen = 0;
    if (!m) return void (this.dead = true);
    this.msg = m;
    if (m.request) this.methods.push(m.method ?? '');
    const te = (m.headers.get('transfer-encoding') ?? []).join(',').toLowerCase();
    const cl = m.headers.get('content-length')?.[0];
    const code = m.code ?? 0;
    const method = m.request ? null : this.methods.shift();
    if (!m.request && (method === 'HEAD' || (code >= 100 && code < 200) || code === 204 || code === 304)) this.left = 0;
    else if (te.includes('chunked')) {
      this.left = -2;
      this.chunk = { state: 'size', line: '', left: 0 };
    } else if (cl !== undefined && /^\d+$/.test(cl)) this.left = Number(cl);
    else this.left = m.request ? 0 : -1;
    if (this.left === 0) this.done(packet);
  }

  private chunked(b: Uint8Array, i: number, end: number, packet: number): number {
    const c = this.chunk;
    while (i < end) {
      if (c.state === 'data') {
        const k = Math.min(c.left, end - i);
        c.left -= k;
        i += k;
        if (c.left === 0) c.state = 'crlf';
        continue;
      }
      const ch = b[i++];
      if (ch !== 10) {
        if (ch !== 13 && c.line.length < 256) c.line += String.fromCharCode(ch);
        continue;
      }
      const line = c.line;
      c.line = '';
      if (c.state === 'crlf') c.state = 'size';
      else if (c.state === 'size') {
        const size = parseInt(line, 16);
        if (Number.isNaN(size)) return (this.dead = true), end;
        if (size === 0) c.state = 'trailer';
        else {
          c.state = 'data';
          c.left = size;
        }
      } else if (line === '') {
        this.done(packet);
        return i;
      }
    }
    return i;
  }

  private done(packet: number): void {
    if (this.msg) this.emit.http(packet, this.msg);
    this.msg = null;
    this.left = 0;
  }

  /** Bytes the capture lost: tshark's reassembly of this message never completes, nor do later ones. */
  gap(): void {
    this.dead = true;
  }

  end(packet: number): void {
    if (this.msg && this.left === -1) this.done(packet);
    this.dead = true;
  }
}

/** One direction of TLS records (RFC 8446 §5.1); plaintext handshake messages until this side's ChangeCipherSpec. */
class TlsDirection implements StreamSink {
  private hdr = new Uint8Array(5);
  private hdrLen = 0;
  private type = 0;
  private version = 0;
  private left = 0;
  private alert = new Uint8Array(2);
  private alertLen = 0;
  private hs = new Uint8Array(512);
  private hsLen = 0;
  private encrypted = false;
  private dead = false;

  constructor(private emit: Emit) {}

  data(b: Uint8Array, off: number, len: number, packet: number): void {
    let i = off;
    const end = off + len;
    while (i < end && !this.dead) {
      if (this.hdrLen < 5) {
        this.hdr[this.hdrLen++] = b[i++];
        if (this.hdrLen === 5) {
          const h = this.hdr;
          if (h[0] < 20 || h[0] > 24 || h[1] !== 3) return void (this.dead = true);
          this.type = h[0];
          this.version = (h[1] << 8) | h[2];
          this.left = (h[3] << 8) | h[4];
          this.alertLen = 0;
          if (this.left === 0) this.record(packet);
        }
        continue;
      }
      const k = Math.min(this.left, end - i);
      if (this.type === TLS_HANDSHAKE && !this.encrypted) this.handshakeBytes(b, i, k);
      if (this.type === TLS_ALERT) for (let j = 0; j < k && this.alertLen < 2; j++) this.alert[this.alertLen++] = b[i + j];
      this.left -= k;
      i += k;
      if (this.left === 0) this.record(packet);
    }
  }

  private handshakeBytes(b: Uint8Array, i: number, k: number): void {
    if (this.hsLen + k > this.hs.length) {
      if (this.hsLen + k > MAX_HANDSHAKE) {
        this.hsLen = 0;
        this.encrypted = true; // a message this large is not a hello: stop reading handshakes
        return;
      }
      const g = new Uint8Array(Math.max(this.hs.length * 2, this.hsLen + k));
      g.set(this.hs.subarray(0, this.hsLen));
      this.hs = g;
    }
    this.hs.set(b.subarray(i, i + k), this.hsLen);
    this.hsLen += k;
  }

  private record(packet: number): void {
    const t = this.emit.tls(packet);
    t.contentTypes.push(this.type);
    t.versions.push(this.version);
    if (this.type === TLS_ALERT) {
      t.alerts++;
      // A plaintext alert is two bytes; a longer one is encrypted (level and description unknown).
      if (this.hdr[3] === 0 && this.hdr[4] === 2 && this.alertLen === 2) {
        t.alertLevels.push(this.alert[0]);
        t.alertDescs.push(this.alert[1]);
      }
    }
    if (this.type === TLS_HANDSHAKE && !this.encrypted) {
      // Messages completed by this record: type(8) length(24) body.
      let o = 0;
      while (o + 4 <= this.hsLen) {
        const mlen = (this.hs[o + 1] << 16) | (this.hs[o + 2] << 8) | this.hs[o + 3];
        if (o + 4 + mlen > this.hsLen) break;
        t.handshakeTypes.push(this.hs[o]);
        if (this.hs[o] === 1) {
          const sni = clientHelloSni(this.hs, o + 4, o + 4 + mlen);
          if (sni !== null) t.sni.push(sni);
        }
        o += 4 + mlen;
      }
      this.hs.copyWithin(0, o, this.hsLen);
      this.hsLen -= o;
    }
    if (this.type === TLS_CHANGE_CIPHER_SPEC) this.encrypted = true;
    this.hdrLen = 0;
  }

  gap(): void {
    this.dead = true;
  }

  end(): void {
    this.dead = true;
  }
}

const enum App { Unknown, Http, Tls, Http2, None }

/** Picks HTTP or TLS on the first payload bytes of either direction. */
class Detect implements StreamSink {
  target: StreamSink | null = null;
  constructor(private conn: TcpConnectionReplay, private toServer: boolean) {}
  data(b: Uint8Array, off: number, len: number, packet: number): void {
    if (!this.target) this.conn.detect(this.toServer, b, off, len);
    this.target?.data(b, off, len, packet);
  }
  gap(len: number, packet: number): void {
    this.target?.gap(len, packet);
  }
  end(packet: number, how: 'fin' | 'reset' | 'eof'): void {
    this.target?.end(packet, how);
  }
}

/** The replay of one TCP connection. */
class TcpConnectionReplay {
  private app = App.Unknown;
  private tries = 0;
  private readonly c2s: TcpStreamReassembler;
  private readonly s2c: TcpStreamReassembler;
  private readonly sinks: [Detect, Detect];
  /** The packet fed last and what it completed. */
  current: TcpAppResult = { http: [], tls: null, http2: null };
  /** Per direction: what segments starting at a sequence number completed (for fast retransmissions). */
  private starts: [Map<number, TcpAppResult>, Map<number, TcpAppResult>] = [new Map(), new Map()];
  /** Per direction: the last new data ended a message, so the next segment starts one. */
  private aligned = [true, true];
  private readonly emit: Emit;

  constructor(private keys: () => KeyLog | null) {
    this.sinks = [new Detect(this, true), new Detect(this, false)];
    this.c2s = new TcpStreamReassembler(this.sinks[0]);
    this.s2c = new TcpStreamReassembler(this.sinks[1]);
    this.emit = {
      http: (_p, m) => this.current.http.push(m),
      tls: () => (this.current.tls ??= { contentTypes: [], versions: [], handshakeTypes: [], sni: [], alerts: 0, alertLevels: [], alertDescs: [] }),
      http2: () => (this.current.http2 ??= { types: [], streams: [], headerNames: [], headerValues: [] }),
    };
  }

  detect(toServer: boolean, b: Uint8Array, off: number, len: number): void {
    if (this.app !== App.Unknown) return;
    const head = latin1(b, off, Math.min(len, 24));
    // h2c: the client's preface, or the server's SETTINGS frame (type 4 on stream 0) first.
    if (head.startsWith('PRI * HTTP/2.0') || (!toServer && len >= 9 && b[off + 3] === 4 && (b[off + 5] | b[off + 6] | b[off + 7] | b[off + 8]) === 0)) this.app = App.Http2;
    else if (looksLikeTls(b, off, len)) this.app = App.Tls;
    else if (HTTP_START.test(head)) this.app = App.Http;
    else if (++this.tries >= MAX_DETECT) this.app = App.None;
    const [c, s] = this.sinks;
    if (this.app === App.Tls) {
      c.target = new TlsDirection(this.emit);
      s.target = new TlsDirection(this.emit);
      const keys = this.keys();
      if (keys && keys.size > 0) {
        // With keys, as tshark: the decrypted HTTP/HTTP2 fields beside the TLS records' own.
        // Decrypted HTTP/2 (the client's connection preface) or HTTP/1.x, decided on the client's first bytes.
        const app = appByClientFirstBytes((head) => {
          if (head.startsWith('PRI * HTTP/2.0')) return http2Sinks(this.emit, true);
          if (!HTTP_START.test(head)) return null;
          const methods: string[] = [];
          return [new HttpDirection(this.emit, methods, true), new HttpDirection(this.emit, methods, false)];
        });
        const tls = new TlsFollow(keys, app);
        c.target = teeSink(tls.client, c.target);
        s.target = teeSink(tls.server, s.target);
      }
    } else if (this.app === App.Http2) {
      [c.target, s.target] = http2Sinks(this.emit, true);
    } else if (this.app === App.Http) {
      const methods: string[] = [];
      c.target = new HttpDirection(this.emit, methods, true);
      s.target = new HttpDirection(this.emit, methods, false);
    }
  }

  /**
   * Feeds one packet (in capture order); `current` then holds what it completed. tshark
   * dissects a fast retransmission again (not other retransmissions): one that repeats a
   * segment that completed messages shows them again.
   */
  feed(f: Frame, toServer: boolean, index: number, last: boolean, fastRetransmission: boolean): void {
    this.current = { http: [], tls: null, http2: null };
    const mine = toServer ? this.c2s : this.s2c;
    const peer = toServer ? this.s2c : this.c2s;
    const flags = f.tcpFlags;
    if (flags & TCP_SYN) mine.syn(f.tcpSeq);
    if (!(flags & TCP_RST)) {
      const seq = flags & TCP_SYN ? (f.tcpSeq + 1) >>> 0 : f.tcpSeq >>> 0;
      const before = mine.delivered + mine.gapBytes;
      mine.segment(seq, f.data, f.payloadOff, f.payloadCapLen, f.payloadLen, (flags & TCP_FIN) !== 0, index);
      // tshark does not wait for a hole to be filled (out-of-order reassembly is off by default).
      if (f.payloadLen > 0) mine.acked(seq, index);
      if (flags & TCP_ACK) peer.acked(f.tcpAck >>> 0, index);
      const d = toServer ? 0 : 1;
      const starts = this.starts[d];
      const got = this.current.http.length > 0 || this.current.tls !== null || this.current.http2 !== null;
      if (f.payloadLen > 0 && mine.delivered + mine.gapBytes > before) {
        // New bytes. Only a segment that starts a message (the previous one ended one) is remembered.
        if (got && this.aligned[d] && starts.size < MAX_STARTS) starts.set(seq, this.current);
        this.aligned[d] = got;
      } else if (f.payloadLen > 0 && !got && fastRetransmission) this.current = starts.get(seq) ?? this.current;
    }
    if (last) {
      this.c2s.close(index, 'eof');
      this.s2c.close(index, 'eof');
    }
  }
}

/**
 * The replays of a filter run. `at(i)` answers for TCP packet i, feeding its connection's
 * packets up to i (decoding them: the caller's Frame is overwritten, decode i again after).
 */
export class TcpAppFields {
  private next: Int32Array | null = null;
  private first = new Map<number, number>();
  private replays = new Map<number, { conn: TcpConnectionReplay; next: number }>();

  constructor(private index: PacketIndex, private decode: (i: number) => Frame, private keys: () => KeyLog | null = () => null) {}

  private links(): Int32Array {
    if (this.next) return this.next;
    const ix = this.index;
    const next = new Int32Array(ix.length).fill(-1);
    const last = new Map<number, number>();
    for (let i = 0; i < ix.length; i++) {
      const c = ix.connId[i];
      if (c < 0) continue;
      const p = last.get(c);
      if (p === undefined) this.first.set(c, i);
      else next[p] = i;
      last.set(c, i);
    }
    this.next = next;
    return next;
  }

  at(i: number): TcpAppResult | null {
    const c = this.index.connId[i];
    if (c < 0) return null;
    const next = this.links();
    let r = this.replays.get(c);
    if (!r || r.next < 0 || r.next > i) {
      r = { conn: new TcpConnectionReplay(this.keys), next: this.first.get(c) ?? -1 };
      this.replays.set(c, r);
    }
    let result: TcpAppResult | null = null;
    while (r.next >= 0 && r.next <= i) {
      const k = r.next;
      const f = this.decode(k);
      r.next = next[k];
      if (f.l4 === L4.Tcp) r.conn.feed(f, this.index.dir[k] !== 2, k, r.next < 0, (this.index.flags[k] & TcpA.FastRetransmission) !== 0);
      if (k === i) result = r.conn.current;
    }
    if (r.next < 0) this.replays.delete(c);
    return result;
  }
}
