import { HpackDecoder, type HeaderField } from './hpack.js';
import type { StreamEnd, StreamSink } from '../reassembly/tcp-stream.js';

/*
 * HTTP/2 framing (RFC 9113) over the two reassembled directions of one connection: h2c
 * (prior knowledge or after Upgrade) on TCP, or h2 inside decrypted TLS.
 *
 *   +-----------------------------------------------+
 *   |                 Length (24)                   |
 *   +---------------+---------------+---------------+
 *   |   Type (8)    |   Flags (8)   |
 *   +-+-------------+---------------+-------------------------------+
 *   |R|                 Stream Identifier (31)                      |
 *   +=+=============================================================+
 *   |                   Frame Payload (0...)                      ...
 *   +---------------------------------------------------------------+   §4.1
 *
 * Header blocks (HEADERS or PUSH_PROMISE, then CONTINUATION until END_HEADERS, §6.10) are
 * buffered up to MAX_HEADER_BLOCK and decoded with one HPACK context per direction. DATA is
 * counted, never kept. The connection tracks each stream's state (§5.1: open, half-closed,
 * closed by END_STREAM or RST_STREAM), SETTINGS, GOAWAY and the flow-control windows (§6.9):
 * a stream whose sender used up its window waits for WINDOW_UPDATE — a stall.
 *
 * Bad input never throws: a malformed frame is an error message on the connection and the
 * frame is skipped; bytes the capture lost end the framing until a plausible frame header
 * starts a later segment, and end HPACK decoding for that direction (the lost bytes may have
 * changed its dynamic table).
 */

export const FRAME_DATA = 0x0;
export const FRAME_HEADERS = 0x1;
export const FRAME_PRIORITY = 0x2;
export const FRAME_RST_STREAM = 0x3;
export const FRAME_SETTINGS = 0x4;
export const FRAME_PUSH_PROMISE = 0x5;
export const FRAME_PING = 0x6;
export const FRAME_GOAWAY = 0x7;
export const FRAME_WINDOW_UPDATE = 0x8;
export const FRAME_CONTINUATION = 0x9;
/** Frame types this parser knows (extension types are skipped, §4.1 / §5.5). */
export const FRAME_TYPES = 10;

const FLAG_END_STREAM = 0x1;
const FLAG_ACK = 0x1;
const FLAG_END_HEADERS = 0x4;
const FLAG_PADDED = 0x8;
const FLAG_PRIORITY = 0x20;

const SETTINGS_HEADER_TABLE_SIZE = 0x1;
const SETTINGS_INITIAL_WINDOW_SIZE = 0x4;
const SETTINGS_MAX_FRAME_SIZE = 0x5;

/** §3.4: the client connection preface. */
export const CLIENT_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');
const FRAME_HEADER = 9;
/** §6.5.2 initial values. */
const DEFAULT_WINDOW = 65535;
const DEFAULT_MAX_FRAME = 16384;
/** A header block (all its frames) larger than this is not decoded (and ends HPACK for the direction). */
export const MAX_HEADER_BLOCK = 256 * 1024;
/** Control frames are buffered up to this; only GOAWAY may legitimately exceed it (debug data, cut). */
const MAX_CONTROL_PAYLOAD = 4096;
/** Frame and block buffers above this are released after the frame that needed them. */
const SMALL_BUFFER = 16 * 1024;
/** Fields kept from one header block for the exchange layer (all are decoded). */
export const MAX_FIELDS_PER_BLOCK = 256;
/** Streams tracked at once per connection; more are counted, not tracked. */
export const MAX_OPEN_STREAMS = 4096;

/** §7 error codes. */
const ERROR_NAMES = [
  'NO_ERROR', 'PROTOCOL_ERROR', 'INTERNAL_ERROR', 'FLOW_CONTROL_ERROR', 'SETTINGS_TIMEOUT', 'STREAM_CLOSED',
  'FRAME_SIZE_ERROR', 'REFUSED_STREAM', 'CANCEL', 'COMPRESSION_ERROR', 'CONNECT_ERROR', 'ENHANCE_YOUR_CALM',
  'INADEQUATE_SECURITY', 'HTTP_1_1_REQUIRED',
];

export function errorCodeName(code: number): string {
  return ERROR_NAMES[code] ?? `0x${code.toString(16)}`;
}

export const FRAME_TYPE_NAMES = ['DATA', 'HEADERS', 'PRIORITY', 'RST_STREAM', 'SETTINGS', 'PUSH_PROMISE', 'PING', 'GOAWAY', 'WINDOW_UPDATE', 'CONTINUATION'];

/** A decoded header block. */
export interface HeaderBlock {
  streamId: number;
  /** Up to MAX_FIELDS_PER_BLOCK fields in order; `droppedFields` counts the rest. */
  fields: HeaderField[];
  droppedFields: number;
  /** HPACK could not decode this block (the message says why): `fields` is empty or partial. */
  error: string | null;
  endStream: boolean;
  /** PUSH_PROMISE: the stream it reserves; 0 otherwise. */
  promisedId: number;
  /** All frames of the block, headers included (9 octets each). */
  frameBytes: number;
  frames: number;
  /** The packet carrying the block's first byte, and the one completing it. */
  startTs: number;
  ts: number;
}

/** What an HTTP/2 connection reports; `fromClient` says which side sent the frame. */
export interface Http2Events {
  headers(fromClient: boolean, block: HeaderBlock): void;
  /** A DATA frame: `bytes` of content (padding excluded), `frameBytes` on the wire. */
  data(fromClient: boolean, streamId: number, bytes: number, frameBytes: number, endStream: boolean, startTs: number, ts: number): void;
  rstStream(fromClient: boolean, streamId: number, code: number, ts: number): void;
  goaway(fromClient: boolean, lastStreamId: number, code: number, ts: number): void;
  /** The sender's window (stream or connection) is used up while the stream still has data to send. */
  stallStart?(fromClient: boolean, streamId: number, ts: number): void;
  /** The receiver reopened the window: the stream waited `seconds`. */
  stallEnd?(fromClient: boolean, streamId: number, seconds: number, ts: number): void;
  /** Both directions of the stream are closed (END_STREAM both ways, or RST_STREAM). */
  streamClosed?(streamId: number, ts: number): void;
  /** A protocol or decoding problem, once per kind and direction (the connection carries on). */
  error(fromClient: boolean, message: string, ts: number): void;
  /** One direction ended (its TCP direction or the decrypted stream ended). */
  end(fromClient: boolean, how: StreamEnd, ts: number): void;
  /** Every frame, for tests and counters. */
  frame?(fromClient: boolean, type: number, flags: number, streamId: number, length: number, ts: number): void;
}

/** Per-stream state (§5.1) and send windows (§6.9.1), per direction. */
interface StreamState {
  clientEnded: boolean;
  serverEnded: boolean;
  /** Windows of the client's and the server's sending on this stream. */
  clientWindow: number;
  serverWindow: number;
  /** Stall start time per sender, or -1. */
  clientStalledSince: number;
  serverStalledSince: number;
}

const enum R {
  Preface,
  Header,
  Payload,
  Data,
  Skip,
  Lost,
  Dead,
}

/** One direction's frame reader. */
class FrameReader implements StreamSink {
  private st: R;
  private hdr = new Uint8Array(FRAME_HEADER);
  private hdrLen = 0;
  private prefaceAt = 0;
  private type = 0;
  private flags = 0;
  private streamId = 0;
  private length = 0;
  private remaining = 0;
  private frameStartTs = 0;
  /** Control frame payload being collected. */
  private payload = new Uint8Array(64);
  private payloadLen = 0;
  private keep = 0;
  /** DATA: pad length still to learn (-1), padding octets at the end, content octets so far. */
  private padLen = -1;
  private dataBytes = 0;
  /** Header block in progress (HEADERS/PUSH_PROMISE then CONTINUATIONs). */
  private block = new Uint8Array(0);
  private blockLen = 0;
  private blockOverflow = false;
  private blockInfo: HeaderBlock | null = null;
  readonly hpack = new HpackDecoder();
  frames = 0;
  lostBytes = 0;
  private errorsSeen = new Set<string>();

  constructor(private conn: Http2Connection, readonly fromClient: boolean, expectPreface: boolean) {
    this.st = expectPreface ? R.Preface : R.Header;
  }

  data(b: Uint8Array, off: number, len: number, ts: number): void {
    let i = off;
    const end = off + len;
    if (this.st === R.Lost) {
      if (!this.plausibleHeader(b, i, end)) {
        this.lostBytes += len;
        return;
      }
      this.st = R.Header;
      this.hdrLen = 0;
    }
    while (i < end) {
      switch (this.st) {
        case R.Preface: {
          while (i < end && this.prefaceAt < CLIENT_PREFACE.length) {
            if (b[i] !== CLIENT_PREFACE[this.prefaceAt]) {
              this.error('the client did not start with the HTTP/2 connection preface (RFC 9113 §3.4)', ts);
              this.st = R.Dead;
              return;
            }
            i++;
            this.prefaceAt++;
          }
          if (this.prefaceAt === CLIENT_PREFACE.length) {
            this.st = R.Header;
            this.conn.prefaceSeen(ts);
          }
          break;
        }
        case R.Header: {
          if (this.hdrLen === 0) this.frameStartTs = ts;
          while (i < end && this.hdrLen < FRAME_HEADER) this.hdr[this.hdrLen++] = b[i++];
          if (this.hdrLen === FRAME_HEADER) this.startFrame(ts);
          break;
        }
        case R.Payload: {
          const n = Math.min(this.remaining, end - i);
          const k = Math.min(n, this.keep - this.payloadLen);
          if (k > 0) {
            this.payload.set(b.subarray(i, i + k), this.payloadLen);
            this.payloadLen += k;
          }
          i += n;
          this.remaining -= n;
          if (this.remaining === 0) this.endFrame(ts);
          break;
        }
        case R.Data: {
          if (this.padLen < 0) {
            this.padLen = b[i++];
            this.remaining--;
            if (this.padLen > this.remaining) {
              this.error('DATA padding longer than the frame (PROTOCOL_ERROR, §6.1)', ts);
              this.padLen = this.remaining;
            }
            if (this.remaining === 0) this.endFrame(ts);
            break;
          }
          const n = Math.min(this.remaining, end - i);
          this.dataBytes += Math.max(0, Math.min(n, this.remaining - this.padLen));
          i += n;
          this.remaining -= n;
          if (this.remaining === 0) this.endFrame(ts);
          break;
        }
        case R.Skip: {
          const n = Math.min(this.remaining, end - i);
          i += n;
          this.remaining -= n;
          if (this.remaining === 0) this.st = R.Header;
          break;
        }
        case R.Dead:
          return;
      }
    }
  }

  gap(len: number, ts: number): void {
    if (this.st === R.Dead) return;
    this.lostBytes += len;
    // Inside a DATA frame the framing survives: only content is missing.
    if (this.st === R.Data && this.padLen >= 0 && len < this.remaining) {
      this.dataBytes += Math.max(0, Math.min(len, this.remaining - this.padLen));
      this.remaining -= len;
      return;
    }
    if (this.st === R.Skip && len < this.remaining) {
      this.remaining -= len;
      return;
    }
    this.error('bytes lost by the capture: frames resume at the next plausible frame header, header blocks are no longer decoded', ts);
    this.hpack.failed ??= 'HPACK: bytes of this direction were lost by the capture';
    this.blockInfo = null;
    this.st = R.Lost;
  }

  end(ts: number, how: StreamEnd): void {
    this.st = R.Dead;
    this.conn.directionEnded(this.fromClient, how, ts);
  }

  error(message: string, ts: number): void {
    if (this.errorsSeen.has(message) || this.errorsSeen.size >= 16) return;
    this.errorsSeen.add(message);
    this.conn.ev.error(this.fromClient, message, ts);
  }

  /** After lost bytes: does a segment start with a frame header this parser would believe? */
  private plausibleHeader(b: Uint8Array, i: number, end: number): boolean {
    if (end - i < FRAME_HEADER) return false;
    const length = (b[i] << 16) | (b[i + 1] << 8) | b[i + 2];
    const type = b[i + 3];
    const sid = ((b[i + 5] << 24) | (b[i + 6] << 16) | (b[i + 7] << 8) | b[i + 8]) >>> 0;
    if (sid & 0x80000000 || type >= FRAME_TYPES || type === FRAME_CONTINUATION) return false;
    if (length > this.conn.maxFrameSize(!this.fromClient)) return false;
    const connLevel = type === FRAME_SETTINGS || type === FRAME_PING || type === FRAME_GOAWAY;
    if (connLevel !== (sid === 0) && type !== FRAME_WINDOW_UPDATE) return false;
    return true;
  }

  private startFrame(ts: number): void {
    const h = this.hdr;
    this.length = (h[0] << 16) | (h[1] << 8) | h[2];
    this.type = h[3];
    this.flags = h[4];
    this.streamId = (((h[5] & 0x7f) << 24) | (h[6] << 16) | (h[7] << 8) | h[8]) >>> 0;
    this.hdrLen = 0;
    this.remaining = this.length;
    this.frames++;
    this.conn.ev.frame?.(this.fromClient, this.type, this.flags, this.streamId, this.length, ts);
    // §6.10: a header block's frames are contiguous; anything else in between is a PROTOCOL_ERROR.
    if (this.blockInfo && (this.type !== FRAME_CONTINUATION || this.streamId !== this.blockInfo.streamId)) {
      this.error('header block interrupted before END_HEADERS (PROTOCOL_ERROR, §6.10)', ts);
      this.hpack.failed ??= 'HPACK: a header block was cut by another frame';
      this.blockInfo = null;
    }
    switch (this.type) {
      case FRAME_DATA:
        this.padLen = this.flags & FLAG_PADDED ? -1 : 0;
        this.dataBytes = 0;
        this.st = R.Data;
        if (this.length === 0) this.endFrame(ts);
        return;
      case FRAME_HEADERS:
      case FRAME_PUSH_PROMISE:
      case FRAME_CONTINUATION:
        this.collect(MAX_HEADER_BLOCK + 64, ts);
        return;
      case FRAME_PRIORITY:
      case FRAME_RST_STREAM:
      case FRAME_SETTINGS:
      case FRAME_PING:
      case FRAME_GOAWAY:
      case FRAME_WINDOW_UPDATE:
        this.collect(MAX_CONTROL_PAYLOAD, ts);
        return;
      default:
        // §5.5: unknown frame types are ignored.
        this.st = this.length > 0 ? R.Skip : R.Header;
        return;
    }
  }

  private collect(limit: number, ts: number): void {
    this.keep = Math.min(this.length, limit);
    // A buffer grown for one large frame is not kept for the small ones after it.
    if (this.payload.length > SMALL_BUFFER && this.keep <= SMALL_BUFFER) this.payload = new Uint8Array(SMALL_BUFFER);
    if (this.payload.length < this.keep) this.payload = new Uint8Array(Math.max(this.keep, Math.min(limit, this.payload.length * 2)));
    this.payloadLen = 0;
    this.st = R.Payload;
    if (this.length === 0) this.endFrame(ts);
  }

  private endFrame(ts: number): void {
    this.st = R.Header;
    const p = this.payload;
    const n = this.payloadLen;
    const sid = this.streamId;
    const c = this.conn;
    switch (this.type) {
      case FRAME_DATA: {
        if (sid === 0) return this.error('DATA on stream 0 (PROTOCOL_ERROR, §6.1)', ts);
        c.dataFrame(this.fromClient, sid, this.dataBytes, this.length, (this.flags & FLAG_END_STREAM) !== 0, this.frameStartTs, ts);
        return;
      }
      case FRAME_HEADERS:
      case FRAME_PUSH_PROMISE: {
        if (sid === 0) {
          this.error(`${FRAME_TYPE_NAMES[this.type]} on stream 0 (PROTOCOL_ERROR)`, ts);
          this.hpack.failed ??= 'HPACK: a header block could not be read';
          return;
        }
        let o = 0;
        let end = this.length;
        let pad = 0;
        if (this.flags & FLAG_PADDED) {
          if (n < 1) return this.badBlock('padded frame without a pad length', ts);
          pad = p[o++];
        }
        let promised = 0;
        if (this.type === FRAME_HEADERS && this.flags & FLAG_PRIORITY) o += 5; // §6.2 stream dependency + weight
        if (this.type === FRAME_PUSH_PROMISE) {
          if (n < o + 4) return this.badBlock('PUSH_PROMISE without a promised stream id', ts);
          promised = (((p[o] & 0x7f) << 24) | (p[o + 1] << 16) | (p[o + 2] << 8) | p[o + 3]) >>> 0;
          o += 4;
        }
        end -= pad;
        if (end < o) return this.badBlock(`${FRAME_TYPE_NAMES[this.type]} padding longer than the frame (PROTOCOL_ERROR)`, ts);
        this.blockInfo = {
          streamId: sid, fields: [], droppedFields: 0, error: null, endStream: this.type === FRAME_HEADERS && (this.flags & FLAG_END_STREAM) !== 0,
          promisedId: promised, frameBytes: FRAME_HEADER + this.length, frames: 1, startTs: this.frameStartTs, ts,
        };
        this.blockLen = 0;
        this.blockOverflow = false;
        if (n < this.length) this.blockOverflow = true; // a frame larger than what is buffered
        this.appendBlock(p, o, Math.min(end, n) - o);
        if (this.flags & FLAG_END_HEADERS) this.finishBlock(ts);
        return;
      }
      case FRAME_CONTINUATION: {
        const info = this.blockInfo;
        if (!info) return this.error('CONTINUATION without a header block (PROTOCOL_ERROR, §6.10)', ts);
        info.frameBytes += FRAME_HEADER + this.length;
        info.frames++;
        info.ts = ts;
        if (n < this.length) this.blockOverflow = true;
        this.appendBlock(p, 0, n);
        if (this.flags & FLAG_END_HEADERS) this.finishBlock(ts);
        return;
      }
      case FRAME_PRIORITY:
        if (this.length !== 5) this.error('PRIORITY of a length other than 5 (FRAME_SIZE_ERROR, §6.3)', ts);
        return;
      case FRAME_RST_STREAM:
        if (this.length !== 4 || sid === 0) return this.error('malformed RST_STREAM (§6.4)', ts);
        c.rstStream(this.fromClient, sid, u32(p, 0), ts);
        return;
      case FRAME_SETTINGS:
        if (sid !== 0 || this.length % 6 !== 0 || (this.flags & FLAG_ACK && this.length !== 0)) return this.error('malformed SETTINGS (§6.5)', ts);
        if (this.flags & FLAG_ACK) return;
        for (let k = 0; k + 6 <= n; k += 6) c.setting(this.fromClient, (p[k] << 8) | p[k + 1], u32(p, k + 2), ts);
        return;
      case FRAME_PING:
        if (this.length !== 8 || sid !== 0) this.error('malformed PING (§6.7)', ts);
        return;
      case FRAME_GOAWAY:
        if (this.length < 8 || sid !== 0) return this.error('malformed GOAWAY (§6.8)', ts);
        c.goaway(this.fromClient, u32(p, 0) & 0x7fffffff, u32(p, 4), ts);
        return;
      case FRAME_WINDOW_UPDATE: {
        if (this.length !== 4) return this.error('WINDOW_UPDATE of a length other than 4 (FRAME_SIZE_ERROR, §6.9)', ts);
        const inc = u32(p, 0) & 0x7fffffff;
        if (inc === 0) this.error('WINDOW_UPDATE with an increment of 0 (PROTOCOL_ERROR, §6.9)', ts);
        c.windowUpdate(this.fromClient, sid, inc, ts);
        return;
      }
    }
  }

  private badBlock(message: string, ts: number): void {
    this.error(message, ts);
    this.hpack.failed ??= 'HPACK: a header block could not be read';
  }

  private appendBlock(b: Uint8Array, off: number, len: number): void {
    if (len <= 0 || this.blockOverflow) return;
    if (this.blockLen + len > MAX_HEADER_BLOCK) {
      this.blockOverflow = true;
      return;
    }
    if (this.block.length < this.blockLen + len) {
      const nb = new Uint8Array(Math.min(MAX_HEADER_BLOCK, Math.max(this.blockLen + len, this.block.length * 2, 1024)));
      nb.set(this.block.subarray(0, this.blockLen));
      this.block = nb;
    }
    this.block.set(b.subarray(off, off + len), this.blockLen);
    this.blockLen += len;
  }

  private finishBlock(ts: number): void {
    const info = this.blockInfo!;
    this.blockInfo = null;
    info.ts = ts;
    if (this.blockOverflow) {
      this.hpack.failed ??= `HPACK: a header block over ${MAX_HEADER_BLOCK} octets was not decoded`;
      this.error(`header block over ${MAX_HEADER_BLOCK} octets not decoded`, ts);
    }
    info.error = this.hpack.decode(this.block, 0, this.blockLen, (name, value) => {
      if (info.fields.length < MAX_FIELDS_PER_BLOCK) info.fields.push({ name, value });
      else info.droppedFields++;
    });
    if (info.error) this.error(info.error, ts);
    // Keep the buffer only while it is small; a rare large block does not stay allocated.
    if (this.block.length > SMALL_BUFFER) this.block = new Uint8Array(0);
    this.conn.headerBlock(this.fromClient, info);
  }
}

function u32(b: Uint8Array, o: number): number {
  return ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0;
}

/**
 * One HTTP/2 connection: a sink per direction (`client` for the bytes the client sent,
 * `server` for the server's), in order, with the timestamp of the packet that carried them.
 *
 * Use (TCP h2c, or decrypted TLS whose ALPN is h2):
 *   const h2 = new Http2Connection(events, { expectPreface: true });
 *   h2.client.data(bytes, off, len, ts); h2.server.data(...); ...gap(len, ts); ...end(ts, how)
 * Most callers want `Http2Exchanges.connection()` (main/analysis/http2-exchanges.ts), which
 * builds the events that turn streams into `http[]` exchanges.
 */
export class Http2Connection {
  readonly client: FrameReader;
  readonly server: FrameReader;
  private streams = new Map<number, StreamState>();
  /** Highest stream id seen per initiator (§5.1.1: ids only grow). */
  private lastClientStream = 0;
  private lastServerStream = 0;
  /** SETTINGS each side sent (they govern what the other side may send). */
  private clientInitialWindow = DEFAULT_WINDOW;
  private serverInitialWindow = DEFAULT_WINDOW;
  private clientMaxFrame = DEFAULT_MAX_FRAME;
  private serverMaxFrame = DEFAULT_MAX_FRAME;
  /** Connection-level send windows of the client's and the server's DATA. */
  clientConnWindow = DEFAULT_WINDOW;
  serverConnWindow = DEFAULT_WINDOW;
  /** Streams waiting for a connection-level WINDOW_UPDATE, per sender. */
  private connStalled = { client: new Set<number>(), server: new Set<number>() };
  untrackedStreams = 0;
  preface = false;

  constructor(readonly ev: Http2Events, readonly opts: { expectPreface: boolean } = { expectPreface: true }) {
    this.client = new FrameReader(this, true, opts.expectPreface);
    this.server = new FrameReader(this, false, false);
  }

  get expectPreface(): boolean {
    return this.opts.expectPreface;
  }

  /** Largest frame a side may receive (its SETTINGS_MAX_FRAME_SIZE): `toClient` for frames the server sends. */
  maxFrameSize(toClient: boolean): number {
    return toClient ? this.clientMaxFrame : this.serverMaxFrame;
  }

  /** Frames of each direction so far, and bytes lost by the capture. */
  get framesFromClient(): number {
    return this.client.frames;
  }

  get framesFromServer(): number {
    return this.server.frames;
  }

  /** Called once the client's connection preface has been read. */
  onPreface: ((ts: number) => void) | null = null;

  prefaceSeen(ts: number): void {
    this.preface = true;
    this.onPreface?.(ts);
  }

  /**
   * The stream a frame refers to, created on first sight when the initiator may open it
   * (client: odd ids; server: even ids through PUSH_PROMISE).
   */
  private stream(id: number, create: boolean): StreamState | undefined {
    let s = this.streams.get(id);
    if (s || !create) return s;
    if (this.streams.size >= MAX_OPEN_STREAMS) {
      this.untrackedStreams++;
      return undefined;
    }
    s = {
      clientEnded: false, serverEnded: false,
      clientWindow: this.serverInitialWindow, serverWindow: this.clientInitialWindow,
      clientStalledSince: -1, serverStalledSince: -1,
    };
    this.streams.set(id, s);
    if (id & 1) this.lastClientStream = Math.max(this.lastClientStream, id);
    else this.lastServerStream = Math.max(this.lastServerStream, id);
    return s;
  }

  headerBlock(fromClient: boolean, b: HeaderBlock): void {
    if (b.promisedId) {
      // §8.4: the promised stream is reserved; its request is the promise, its response follows.
      const p = this.stream(b.promisedId, true);
      if (p) p.clientEnded = true;
      this.ev.headers(fromClient, b);
      return;
    }
    const s = this.stream(b.streamId, true);
    this.ev.headers(fromClient, b);
    if (s && b.endStream) this.endSide(s, b.streamId, fromClient, b.ts);
  }

  dataFrame(fromClient: boolean, id: number, bytes: number, frameBytes: number, endStream: boolean, startTs: number, ts: number): void {
    const s = this.stream(id, false);
    this.ev.data(fromClient, id, bytes, frameBytes, endStream, startTs, ts);
    // §6.9.1: the whole payload (padding included) counts against both windows.
    if (fromClient) this.clientConnWindow -= frameBytes;
    else this.serverConnWindow -= frameBytes;
    if (!s) return;
    if (fromClient) s.clientWindow -= frameBytes;
    else s.serverWindow -= frameBytes;
    if (endStream) return this.endSide(s, id, fromClient, ts);
    const win = fromClient ? s.clientWindow : s.serverWindow;
    const conn = fromClient ? this.clientConnWindow : this.serverConnWindow;
    if ((win <= 0 || conn <= 0) && (fromClient ? s.clientStalledSince : s.serverStalledSince) < 0) {
      if (fromClient) s.clientStalledSince = ts;
      else s.serverStalledSince = ts;
      if (conn <= 0) (fromClient ? this.connStalled.client : this.connStalled.server).add(id);
      this.ev.stallStart?.(fromClient, id, ts);
    }
  }

  rstStream(fromClient: boolean, id: number, code: number, ts: number): void {
    this.ev.rstStream(fromClient, id, code, ts);
    const s = this.streams.get(id);
    if (s) this.close(id, ts);
  }

  goaway(fromClient: boolean, lastStreamId: number, code: number, ts: number): void {
    this.ev.goaway(fromClient, lastStreamId, code, ts);
  }

  setting(fromClient: boolean, id: number, value: number, _ts: number): void {
    switch (id) {
      case SETTINGS_HEADER_TABLE_SIZE:
        // Limits the table of the encoder sending *to* this side.
        (fromClient ? this.server : this.client).hpack.setAllowedMax(value);
        break;
      case SETTINGS_INITIAL_WINDOW_SIZE: {
        // §6.9.2: applies to the peer's sending on every stream, by the difference.
        const old = fromClient ? this.clientInitialWindow : this.serverInitialWindow;
        const delta = value - old;
        if (fromClient) this.clientInitialWindow = value;
        else this.serverInitialWindow = value;
        for (const s of this.streams.values()) {
          if (fromClient) s.serverWindow += delta;
          else s.clientWindow += delta;
        }
        break;
      }
      case SETTINGS_MAX_FRAME_SIZE:
        if (fromClient) this.clientMaxFrame = value;
        else this.serverMaxFrame = value;
        break;
    }
  }

  /** A WINDOW_UPDATE from one side opens the window of the other side's sending. */
  windowUpdate(fromClient: boolean, id: number, inc: number, ts: number): void {
    const senderIsClient = !fromClient;
    if (id === 0) {
      if (senderIsClient) this.clientConnWindow += inc;
      else this.serverConnWindow += inc;
      const waiting = senderIsClient ? this.connStalled.client : this.connStalled.server;
      for (const sid of waiting) {
        // (Deleting the entry being visited is safe while iterating a Set.)
        const s = this.streams.get(sid);
        if (!s) waiting.delete(sid);
        else this.maybeUnstall(s, sid, senderIsClient, ts);
      }
      return;
    }
    const s = this.streams.get(id);
    if (!s) return;
    if (senderIsClient) s.clientWindow += inc;
    else s.serverWindow += inc;
    this.maybeUnstall(s, id, senderIsClient, ts);
  }

  private maybeUnstall(s: StreamState, id: number, senderIsClient: boolean, ts: number): void {
    const since = senderIsClient ? s.clientStalledSince : s.serverStalledSince;
    if (since < 0) return;
    const win = senderIsClient ? s.clientWindow : s.serverWindow;
    const conn = senderIsClient ? this.clientConnWindow : this.serverConnWindow;
    if (win <= 0 || conn <= 0) return;
    if (senderIsClient) s.clientStalledSince = -1;
    else s.serverStalledSince = -1;
    (senderIsClient ? this.connStalled.client : this.connStalled.server).delete(id);
    this.ev.stallEnd?.(senderIsClient, id, ts - since, ts);
  }

  private endSide(s: StreamState, id: number, fromClient: boolean, ts: number): void {
    if (fromClient) s.clientEnded = true;
    else s.serverEnded = true;
    if (s.clientEnded && s.serverEnded) this.close(id, ts);
  }

  private close(id: number, ts: number): void {
    this.streams.delete(id);
    this.connStalled.client.delete(id);
    this.connStalled.server.delete(id);
    this.ev.streamClosed?.(id, ts);
  }

  /** Streams still open (tracked). */
  get openStreams(): number {
    return this.streams.size;
  }

  directionEnded(fromClient: boolean, how: StreamEnd, ts: number): void {
    this.ev.end(fromClient, how, ts);
  }
}
