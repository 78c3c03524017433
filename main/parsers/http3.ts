import { readVarint, varintSize } from '../decode/quic.js';
import type { StreamSink } from '../reassembly/quic-stream.js';
import { decodeQpackSection, type QpackSection } from './qpack.js';

/*
 * HTTP/3 frames (RFC 9114 §7) on one direction of a request stream, fed in order by the
 * QUIC stream reassembly:  type(i) | length(i) | payload
 * HEADERS (0x01) payloads are collected (bounded) and decoded with QPACK; DATA (0x00) is
 * counted, never stored; other frames (and reserved/grease types) are skipped.
 */

export const H3_DATA = 0x00;
export const H3_HEADERS = 0x01;
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
}

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

  constructor(private ev: Http3StreamEvents) {}

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
        if (this.type === H3_HEADERS) {
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
      if (this.type === H3_HEADERS && this.payload) {
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
      this.ev.headers(decodeQpackSection(this.payload, 0, this.payloadLen), this.payloadTotal, ts);
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
