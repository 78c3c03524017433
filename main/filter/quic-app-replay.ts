import { L4 } from '../decode/frame.js';
import type { Frame } from '../decode/frame.js';
import { readVarint, varintSize } from '../decode/quic.js';
import type { KeyLog } from '../decrypt/key-log.js';
import type { PacketIndex } from '../engine/packet-index.js';
import { QuicConnections } from '../analysis/quic-connections.js';
import type { PacketContext } from '../analysis/types.js';

/*
 * QUIC STREAM AND HTTP/3 FIELDS of one packet, for filters (docs/display-filters.md "HTTP/3").
 * The packet's UDP connection is replayed once, from its first packet, through the engine's
 * QUIC analyser with the session's keys (as Follow HTTP/3 does); every decrypted STREAM frame
 * is kept per packet (`quic.stream.stream_id`). HTTP/3 is placed as tshark 4.0 places it: the
 * application protocol of a QUIC connection is fixed once, at the first short-header packet
 * after the ServerHello (1-RTT keys set up; bytes after the long-header packets of a datagram,
 * such as a padding run, count as one), to HTTP/3 when by then a server Handshake packet (its
 * EncryptedExtensions, the ALPN) was read and the ClientHello offered h3; from then on every
 * STREAM frame is HTTP/3. Before that (0-RTT data, say) STREAM frames are bare stream data.
 * Each STREAM frame's bytes are read for HTTP/3 frames on their own, from the frame header the
 * stream's previous bytes point at (a repeat from offset 0 is read again, as tshark does);
 * a frame's type counts in the packet that holds its header.
 */

const MAX_PACKETS_REPLAYED = 200_000;
const MAX_STREAMS_TRACKED = 4096;
/** Connections whose results are kept (they are small: only packets with STREAM frames); without any are remembered apart. */
const CONNECTIONS_CACHED = 64;
const UNI_CONTROL = 0x00;

export interface QuicStreamFields {
  streamIds: number[];
  /** Null when the packet has no HTTP/3 (no STREAM frame once HTTP/3 was chosen). */
  http3: { frameTypes: number[]; streamTypes: number[] } | null;
}

interface StreamCursor {
  uniType: number;
  /** Stream offset of the next HTTP/3 frame header, -1 unknown. */
  next: number;
}

interface Tap { id: number; fromClient: boolean; offset: number; bytes: Uint8Array }

export class QuicAppFields {
  private cache = new Map<number, Map<number, QuicStreamFields>>();
  /** Connections replayed without any STREAM frame (not QUIC, or not decrypted). */
  private empty = new Set<number>();
  private firstPacket: Int32Array | null = null;

  constructor(private index: PacketIndex, private decode: (i: number) => Frame, private keys: () => KeyLog | null) {}

  /** The fields of packet i (0-based), null when it has no decrypted STREAM frame. */
  at(i: number): QuicStreamFields | null {
    const c = this.index.connId[i];
    if (c < 0 || this.empty.has(c)) return null;
    let m = this.cache.get(c);
    if (!m) {
      const keys = this.keys();
      if (!keys || keys.size === 0) return null;
      m = this.replay(c, keys);
      if (m.size === 0) {
        this.empty.add(c);
        return null;
      }
      if (this.cache.size >= CONNECTIONS_CACHED) this.cache.delete(this.cache.keys().next().value!);
      this.cache.set(c, m);
    }
    return m.get(i) ?? null;
  }

  private replay(connId: number, keys: KeyLog): Map<number, QuicStreamFields> {
    const out = new Map<number, QuicStreamFields>();
    const quic = new QuicConnections(keys);
    let pending: Tap[] = [];
    let packet = -1;
    let app: 'undecided' | 'h3' | 'none' = 'undecided';
    let serverHandshake = false;
    const cursors = new Map<string, StreamCursor>();
    quic.streamTap = (id, fromClient, offset, b, off, len) => {
      pending.push({ id, fromClient, offset, bytes: b.slice(off, off + len) });
    };
    quic.packetLog = (e) => {
      const q = quic.connections[e.quic];
      if (e.type === 'Handshake' && !e.fromClient && e.decryption === 'decrypted') serverHandshake = true;
      if (e.type === '1-RTT' && app === 'undecided' && q.serverHelloTs !== null) {
        app = serverHandshake && q.alpn.some((a) => a === 'h3' || a.startsWith('h3-')) ? 'h3' : 'none';
      }
      if (!pending.length) return;
      let r = out.get(packet);
      if (!r) out.set(packet, (r = { streamIds: [], http3: null }));
      for (const t of pending) {
        r.streamIds.push(t.id);
        if (app !== 'h3') continue;
        r.http3 ??= { frameTypes: [], streamTypes: [] };
        const key = `${t.id}:${t.fromClient ? 0 : 1}`;
        let cur = cursors.get(key);
        if (!cur) {
          cur = { uniType: -1, next: -1 };
          if (cursors.size < MAX_STREAMS_TRACKED) cursors.set(key, cur);
        }
        readHttp3Frames(t, cur, r.http3);
      }
      pending = [];
    };
    const ctx = { connId: connId, toServer: true, tcpFlags: 0, conn: null, flows: null } as unknown as PacketContext;
    let n = 0;
    for (let i = this.firstOf(connId); i < this.index.length && n < MAX_PACKETS_REPLAYED; i++) {
      if (this.index.connId[i] !== connId) continue;
      n++;
      packet = i;
      const f = this.decode(i);
      if (f.l4 !== L4.Udp) continue;
      ctx.toServer = this.index.dir[i] !== 2;
      quic.onFrame(f, ctx);
      pending = [];
    }
    quic.finish();
    return out;
  }

  /** The connection's first packet (one pass over the index, the first time). */
  private firstOf(connId: number): number {
    if (!this.firstPacket) {
      const ix = this.index;
      let max = -1;
      for (let i = 0; i < ix.length; i++) if (ix.connId[i] > max) max = ix.connId[i];
      const first = new Int32Array(max + 1).fill(-1);
      for (let i = ix.length - 1; i >= 0; i--) if (ix.connId[i] >= 0) first[ix.connId[i]] = i;
      this.firstPacket = first;
    }
    return Math.max(0, this.firstPacket[connId] ?? 0);
  }
}

/** RFC 9114 §6.2 stream type (unidirectional streams), §7.1 frame type and length varints. */
function readHttp3Frames(t: Tap, cur: StreamCursor, out: { frameTypes: number[]; streamTypes: number[] }): void {
  const b = t.bytes;
  const uni = (t.id & 0x02) !== 0;
  let p = 0;
  if (t.offset === 0) {
    if (uni) {
      if (b.length < 1 || varintSize(b[0]) > b.length) return;
      cur.uniType = readVarint(b, 0);
      out.streamTypes.push(cur.uniType);
      p = varintSize(b[0]);
    }
    cur.next = p;
  } else {
    if (cur.next < t.offset || cur.next >= t.offset + b.length) return;
    p = cur.next - t.offset;
  }
  if (uni && cur.uniType !== UNI_CONTROL) return; // QPACK encoder/decoder, push and unknown streams: no frames read
  while (p < b.length) {
    const s1 = varintSize(b[p]);
    if (p + s1 >= b.length) return;
    const s2 = varintSize(b[p + s1]);
    if (p + s1 + s2 > b.length) return;
    out.frameTypes.push(readVarint(b, p));
    p += s1 + s2 + readVarint(b, p + s1);
    cur.next = t.offset + p;
  }
}
