import { L4, TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN } from '../decode/frame.js';
import { TcpStreamReassembler, type StreamSink } from '../reassembly/tcp-stream.js';
import type { FollowChunk, FollowStream } from '../../preload/api.js';
import type { PacketIndex } from '../engine/packet-index.js';
import type { Frame } from '../decode/frame.js';
import type { KeyLog } from '../decrypt/key-log.js';
import { TlsFollow, teeSink } from './follow-tls.js';
import { Http2Follow, startsHttp2 } from './follow-http2.js';
import { followHttp3 } from './follow-http3.js';
import type { PacketRecord } from '../pcap/record.js';

/*
 * FOLLOW STREAM. A connection's payload as text, both directions in the order the bytes were
 * delivered: TCP through the engine's reassembler (retransmissions once, out-of-order data in
 * sequence order, lost bytes as "[N bytes missing]"), UDP datagram by datagram. Captured bytes
 * are hostile: the text keeps printable ASCII, tab and line feed; a backslash is doubled,
 * carriage returns are left out, every other byte is written \xNN. The renderer shows the
 * text as text (never HTML). Bounded by maxBytes of payload: the rest is "truncated".
 * With the session's keys a TLS connection is followed decrypted (follow-tls.ts): the
 * application data instead of the records, `decrypted` true. An HTTP/2 connection lists its
 * streams (`h2Streams`); with `h2Stream` one stream is followed: its headers and DATA (follow-http2.ts).
 * A QUIC conversation with keys lists its HTTP/3 request streams (`h3Streams`); `h3Stream` follows one.
 */

export const DEFAULT_FOLLOW_BYTES = 1 << 20;
export const MAX_FOLLOW_BYTES = 16 << 20;
/** Packets of one connection read at most. */
const MAX_FOLLOW_PACKETS = 2_000_000;

/** Payload bytes as safe text (see above). */
export function escapePayload(b: Uint8Array, off: number, len: number): string {
  let s = '';
  for (let i = off; i < off + len; i++) {
    const c = b[i];
    if (c === 0x5c) s += '\\\\';
    else if ((c >= 0x20 && c < 0x7f) || c === 0x0a || c === 0x09) s += String.fromCharCode(c);
    else if (c === 0x0d) continue;
    else s += `\\x${c.toString(16).padStart(2, '0')}`;
  }
  return s;
}

class Collector {
  chunks: FollowChunk[] = [];
  bytes = [0, 0];
  missing = 0;
  truncated = false;
  constructor(private max: number) {}
  get full(): boolean {
    return this.truncated;
  }
  add(dir: 0 | 1, packet: number, b: Uint8Array, off: number, len: number): void {
    if (this.truncated) return;
    const room = this.max - this.bytes[0] - this.bytes[1];
    if (len > room) {
      len = room;
      this.truncated = true;
    }
    if (len <= 0) return;
    this.bytes[dir] += len;
    const text = escapePayload(b, off, len);
    const last = this.chunks[this.chunks.length - 1];
    const d = dir === 0 ? 'c2s' : 's2c';
    if (last && last.dir === d) last.text += text;
    else this.chunks.push({ dir: d, packet: packet + 1, text });
  }
  gap(dir: 0 | 1, packet: number, len: number): void {
    if (this.truncated) return;
    this.missing += len;
    this.chunks.push({ dir: dir === 0 ? 'c2s' : 's2c', packet: packet + 1, text: `[${len} bytes missing]` });
  }
}

function sink(c: Collector, dir: 0 | 1): StreamSink {
  return {
    data: (b, off, len, packet) => c.add(dir, packet, b, off, len),
    gap: (len, packet) => c.gap(dir, packet, len),
    end: () => {},
  };
}

/** Decides on the client's first bytes whether the stream is HTTP/2, then feeds an Http2Follow. */
class Http2Tap {
  follow: Http2Follow | null = null;
  private decided = false;
  readonly out: Collector;
  constructor(private want: number | null, limit: number) {
    this.out = new Collector(limit);
  }
  sink(dir: 0 | 1): StreamSink {
    return {
      data: (b, off, len, packet) => {
        if (!this.decided && dir === 0) {
          this.decided = true;
          if (startsHttp2(b, off, len)) this.follow = new Http2Follow(this.want, (d, p, x, o, n) => this.out.add(d, p, x, o, n));
        }
        const f = this.follow;
        if (f) (dir === 0 ? f.client : f.server).data(b, off, len, packet);
      },
      gap: (len, packet) => { const f = this.follow; if (f) (dir === 0 ? f.client : f.server).gap(len, packet); },
      end: (packet, how) => { const f = this.follow; if (f) (dir === 0 ? f.client : f.server).end(packet, how); },
    };
  }
}

export interface FollowSource {
  index: PacketIndex;
  decode(i: number): Frame;
  /** The record of packet i and the session's Decode As (HTTP/3 re-reads the conversation). */
  record?(i: number): PacketRecord;
  decodeAs?: string[];
}

export function followStream(
  src: FollowSource, connectionId: number, maxBytes = DEFAULT_FOLLOW_BYTES, keys: KeyLog | null = null, h2Stream: number | null = null, h3Stream: number | null = null,
): FollowStream {
  const ix = src.index;
  const limit = Math.min(maxBytes, MAX_FOLLOW_BYTES);
  const raw = new Collector(limit);
  // HTTP/2 (h2c on the raw stream, or in the decrypted one): its streams, and one followed.
  const rawH2 = new Http2Tap(h2Stream, limit);
  const plainH2 = new Http2Tap(h2Stream, limit);
  // With keys, the TLS parser and decryptor read the same stream beside the raw bytes.
  const plain = keys ? new Collector(limit) : null;
  const tls = keys && plain ? new TlsFollow(keys, { client: teeSink(sink(plain, 0), plainH2.sink(0)), server: teeSink(sink(plain, 1), plainH2.sink(1)) }) : null;
  const rawSink = (d: 0 | 1): StreamSink => teeSink(sink(raw, d), rawH2.sink(d));
  const r = [
    new TcpStreamReassembler(tls ? teeSink(rawSink(0), tls.client) : rawSink(0)),
    new TcpStreamReassembler(tls ? teeSink(rawSink(1), tls.server) : rawSink(1)),
  ];
  const c = raw;
  let seen = 0;
  let last = 0;
  const out: FollowStream = { connectionId, transport: 'tcp', client: '', server: '', chunks: [], clientBytes: 0, serverBytes: 0, missingBytes: 0, truncated: false, decrypted: false, h2Streams: [], h3Streams: [] };
  for (let i = 0; i < ix.length && !c.full && !plain?.full; i++) {
    if (ix.connId[i] !== connectionId) continue;
    if (++seen > MAX_FOLLOW_PACKETS) {
      c.truncated = true;
      break;
    }
    const f = src.decode(i);
    const dir: 0 | 1 = ix.dir[i] === 2 ? 1 : 0;
    if (seen === 1) {
      const a = (ip: string, port: number): string => (ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`);
      out.transport = f.l4 === L4.Udp ? 'udp' : 'tcp';
      out.client = dir === 0 ? a(f.src, f.srcPort) : a(f.dst, f.dstPort);
      out.server = dir === 0 ? a(f.dst, f.dstPort) : a(f.src, f.srcPort);
    }
    last = i;
    if (f.l4 === L4.Udp) {
      c.add(dir, i, f.data, f.payloadOff, f.payloadCapLen);
      continue;
    }
    if (f.l4 !== L4.Tcp) continue;
    const flags = f.tcpFlags;
    if (flags & TCP_SYN) r[dir].syn(f.tcpSeq);
    if (flags & TCP_RST) continue;
    const seq = flags & TCP_SYN ? (f.tcpSeq + 1) >>> 0 : f.tcpSeq >>> 0;
    r[dir].segment(seq, f.data, f.payloadOff, f.payloadCapLen, f.payloadLen, (flags & TCP_FIN) !== 0, i);
    if (flags & TCP_ACK) r[1 - dir].acked(f.tcpAck >>> 0, i);
  }
  r[0].close(last, 'eof');
  r[1].close(last, 'eof');
  // QUIC with keys: its HTTP/3 request streams, and one followed (follow-http3.ts).
  if (out.transport === 'udp' && keys && src.record) {
    const h3 = new Collector(limit);
    const r3 = followHttp3(ix, (i) => src.record!(i), connectionId, keys, src.decodeAs ?? [], h3Stream, (d, p, b, o, n) => h3.add(d, p, b, o, n));
    out.h3Streams = r3.streams;
    if (h3Stream !== null && r3.quic) {
      out.decrypted = true;
      out.chunks = h3.chunks;
      out.clientBytes = h3.bytes[0];
      out.serverBytes = h3.bytes[1];
      out.truncated = h3.truncated;
      return out;
    }
  }
  const decrypted = !!(tls?.decrypted && plain);
  const h2 = decrypted ? plainH2 : rawH2;
  out.h2Streams = h2.follow?.streams ?? [];
  const shown = h2Stream !== null && h2.follow ? h2.out : decrypted ? plain! : c;
  out.decrypted = decrypted;
  out.chunks = shown.chunks;
  out.clientBytes = shown.bytes[0];
  out.serverBytes = shown.bytes[1];
  out.missingBytes = shown.missing;
  out.truncated = shown.truncated || c.truncated;
  return out;
}
