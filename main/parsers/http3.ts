import { readVarint, varintSize } from '../decode/quic.js';
import type { StreamSink } from '../reassembly/quic-stream.js';
import { decodeQpackSection, type QpackSection, type QpackTable } from './qpack.js';

/*
 * HTTP/3 frames (RFC 9114 §7) on one direction of a request stream, fed in order by the
 * QUIC stream reassembly:  type(i) | length(i) | payload
 * HEADERS (0x01) payloads are collected (bounded) and decoded with QPACK; DATA (0x00) is
 * counted, never stored; PUSH_PROMISE (0x05, §7.2.5: push ID, then a field section) is decoded
 * like HEADERS; other frames (and reserved/grease types) are skipped.
 */

export const H3_DATA = 0x00;
export const H3_HEADERS = 0x01;
export const H3_CANCEL_PUSH = 0x03;
export const H3_SETTINGS = 0x04;
export const H3_PUSH_PROMISE = 0x05;
/** RFC 9204 §5: the decoder's maximum dynamic table capacity. */
export const SETTINGS_QPACK_MAX_TABLE_CAPACITY = 0x01;
/** Unidirectional stream types (RFC 9114 §6.2, RFC 9204 §4.2). */
export const UNI_CONTROL = 0x00;
export const UNI_PUSH = 0x01;
export const UNI_QPACK_ENCODER = 0x02;
const MAX_HEADERS_PAYLOAD = 64 * 1024;

/** RFC 9114 §8.1 and RFC 9204 §6 error codes. */
const H3_ERRORS: Record<number, string> = {
  0x100: 'H3_NO_ERROR', 0x101: 'H3_GENERAL_PROTOCOL_ERROR', 0x102: 'H3_INTERNAL_ERROR', 0x103: 'H3_STREAM_CREATION_ERROR',
  0x104: 'H3_CLOSED_CRITICAL_STREAM', 0x105: 'H3_FRAME_UNEXPECTED', 0x106: 'H3_FRAME_ERROR', 0x107: 'H3_EXCESSIVE_LOAD',
  0x108: 'H3_ID_ERROR', 0x109: 'H3_SETTINGS_ERROR', 0x10a: 'H3_MISSING_SETTINGS', 0x10b: 'H3_REQUEST_REJECTED',
  0x10c: 'H3_REQUEST_CANCELLED', 0x10d: 'H3_REQUEST_INCOMPLETE', 0x10e: 'H3_MESSAGE_ERROR', 0x10f: 'H3_CONNECT_ERROR',
  0x110: 'H3_VERSION_FALLBACK', 0x200: 'QPACK_DECOMPRESSION_FAILED', 0x201: 'QPACK_ENCODER_STREAM_ERROR', 0x202: 'QPACK_DECODER_STREAM_ERROR',
};

export function h3ErrorName(code: number): string {
  return H3_ERRORS[code] ?? `0x${code.toString(16)}`;
}

export interface Http3StreamEvents {
  headers(section: QpackSection, frameBytes: number, ts: number): void;
  data(len: number, ts: number): void;
  /** First byte of the direction (its first frame begins). */
  start(ts: number): void;
  fin(ts: number): void;
  /** Bytes lost in the capture or the framing broke: what follows is not read. */
  broken(why: string): void;
  /** SETTINGS on a control stream: identifier -> value. */
  settings?(values: Map<number, number>): void;
  /** PUSH_PROMISE on a request stream (server to client): the promised request's fields. */
  pushPromise?(pushId: number, section: QpackSection, frameBytes: number, ts: number): void;
  /** CANCEL_PUSH on a control stream (§7.2.3). */
  cancelPush?(pushId: number, ts: number): void;
}

/** Frames whose payload is kept whole (bounded by MAX_HEADERS_PAYLOAD) and read at their end. */
const kept = (type: number) => type === H3_HEADERS || type === H3_SETTINGS || type === H3_PUSH_PROMISE || type === H3_CANCEL_PUSH;

export class Http3StreamParser implements StreamSink {
  private hdr = new Uint8Array(16);
  private hdrLen = 0;
  private type = -1;
  private remaining = 0;
  private payload: Uint8Array | null = null;
  private payloadLen = 0;
  private payloadTotal = 0;
  private started = false;
  private dead = false;

  /** table: the peer encoder's QPACK dynamic table its HEADERS refer to. */
  constructor(private ev: Http3StreamEvents, private table: QpackTable | null = null) {}

  data(b: Uint8Array, off: number, len: number, ts: number): void {
    if (!this.started && len > 0) {
      this.started = true;
      this.ev.start(ts);
    }
    let i = off;
    const end = off + len;
    while (i < end && !this.dead) {
      if (this.type < 0) {
        // Frame header: two varints, read byte by byte (they may span STREAM frames).
        this.hdr[this.hdrLen++] = b[i++];
        const tl = varintSize(this.hdr[0]);
        if (this.hdrLen < tl + 1) continue;
        const ll = varintSize(this.hdr[tl]);
        if (this.hdrLen < tl + ll) continue;
        this.type = readVarint(this.hdr, 0);
        this.remaining = readVarint(this.hdr, tl);
        this.hdrLen = 0;
        this.payloadTotal = this.remaining;
        if (kept(this.type)) {
          if (this.remaining > MAX_HEADERS_PAYLOAD) {
            this.fail(`HEADERS frame of ${this.remaining} bytes`);
            return;
          }
          this.payload = new Uint8Array(this.remaining);
          this.payloadLen = 0;
        }
        if (this.remaining === 0) this.endFrame(ts);
        continue;
      }
      const n = Math.min(this.remaining, end - i);
      if (kept(this.type) && this.payload) {
        this.payload.set(b.subarray(i, i + n), this.payloadLen);
        this.payloadLen += n;
      } else if (this.type === H3_DATA) this.ev.data(n, ts);
      i += n;
      this.remaining -= n;
      if (this.remaining === 0) this.endFrame(ts);
    }
  }

  gap(len: number): void {
    // Inside DATA the loss is harmless (the bytes are counted); elsewhere the framing is lost.
    if (this.type === H3_DATA && len <= this.remaining) {
      this.remaining -= len;
      this.ev.data(len, 0);
      if (this.remaining === 0) this.type = -1;
      return;
    }
    this.fail('bytes of the stream were not captured');
  }

  fin(ts: number): void {
    this.ev.fin(ts);
  }

  private endFrame(ts: number): void {
    if (this.type === H3_HEADERS && this.payload) {
      this.ev.headers(decodeQpackSection(this.payload, 0, this.payloadLen, this.table), this.payloadTotal, ts);
      this.payload = null;
    } else if (this.type === H3_PUSH_PROMISE && this.payload) {
      const pl = this.payload;
      const n = this.payloadLen > 0 ? varintSize(pl[0]) : 1;
      if (n <= this.payloadLen) this.ev.pushPromise?.(readVarint(pl, 0), decodeQpackSection(pl, n, this.payloadLen - n, this.table), this.payloadTotal, ts);
      this.payload = null;
    } else if (this.type === H3_CANCEL_PUSH && this.payload) {
      if (this.payloadLen > 0 && varintSize(this.payload[0]) <= this.payloadLen) this.ev.cancelPush?.(readVarint(this.payload, 0), ts);
      this.payload = null;
    } else if (this.type === H3_SETTINGS && this.payload) {
      const values = new Map<number, number>();
      const pl = this.payload;
      for (let o = 0; o < this.payloadLen;) {
        const a = varintSize(pl[o]);
        if (o + a >= this.payloadLen) break;
        const bl = varintSize(pl[o + a]);
        if (o + a + bl > this.payloadLen) break;
        values.set(readVarint(pl, o), readVarint(pl, o + a));
        o += a + bl;
      }
      this.ev.settings?.(values);
      this.payload = null;
    }
    this.type = -1;
  }

  private fail(why: string): void {
    this.dead = true;
    this.payload = null;
    this.ev.broken(why);
  }
}

/**
 * A unidirectional stream (RFC 9114 §6.2): its type (a varint), then a control stream's frames
 * (SETTINGS and CANCEL_PUSH read), the QPACK encoder stream's instructions (into the table), or a push
 * stream's push ID (a varint, §4.6) and its response frames, handed to the sink `onPush` gives
 * for that push ID; other types (QPACK decoder, reserved) are ignored.
 */
export class Http3UniStream implements StreamSink {
  private typeBuf = new Uint8Array(8);
  private typeLen = 0;
  private kind = -1;
  private control: Http3StreamParser | null = null;
  private idBuf = new Uint8Array(8);
  private idLen = 0;
  private push: StreamSink | null = null;

  constructor(
    private onSettings: (values: Map<number, number>) => void, private encoderTable: QpackTable,
    private onPush: ((pushId: number) => StreamSink | null) | null = null,
    private onCancelPush: ((pushId: number, ts: number) => void) | null = null,
  ) {}

  data(b: Uint8Array, off: number, len: number, ts: number): void {
    let i = off;
    const end = off + len;
    while (this.kind < 0 && i < end) {
      this.typeBuf[this.typeLen++] = b[i++];
      if (this.typeLen === varintSize(this.typeBuf[0])) {
        this.kind = readVarint(this.typeBuf, 0);
        if (this.kind === UNI_CONTROL) {
          this.control = new Http3StreamParser({
            headers() {}, data() {}, start() {}, fin() {}, broken() {},
            settings: (v) => this.onSettings(v),
            cancelPush: (id, t) => this.onCancelPush?.(id, t),
          });
        }
      }
    }
    if (this.kind === UNI_PUSH && this.push === null && this.idLen >= 0) {
      while (i < end) {
        this.idBuf[this.idLen++] = b[i++];
        if (this.idLen === varintSize(this.idBuf[0])) {
          this.push = this.onPush?.(readVarint(this.idBuf, 0)) ?? null;
          this.idLen = -1; // read: a push stream carries one push ID
          break;
        }
      }
    }
    if (i >= end) return;
    if (this.kind === UNI_CONTROL) this.control!.data(b, i, end - i, ts);
    else if (this.kind === UNI_QPACK_ENCODER) this.encoderTable.instructions(b, i, end - i);
    else if (this.push) this.push.data(b, i, end - i, ts);
  }

  gap(len: number, ts: number): void {
    if (this.kind === UNI_CONTROL) this.control!.gap(len);
    else if (this.kind === UNI_QPACK_ENCODER) this.encoderTable.error ??= 'encoder stream bytes not captured';
    else if (this.push) this.push.gap(len, ts);
  }

  fin(ts: number): void {
    this.push?.fin(ts);
  }
}
