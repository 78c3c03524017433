import { CLIENT_PREFACE, FRAME_DATA, Http2Connection, type Http2Events } from '../parsers/http2.js';
import type { StreamSink } from '../reassembly/tcp-stream.js';

/*
 * Follow one HTTP/2 stream (h2c, or TLS decrypted with the session's keys): its header blocks
 * as "name: value" lines (HPACK decoded by the engine's Http2Connection, both directions so
 * the dynamic tables stay right) and its DATA frames' content (padding left out), in order.
 * The ids of the streams that sent headers are listed for the stream picker.
 */

const FLAG_PADDED = 0x8;
const MAX_STREAMS_LISTED = 1000;

export type Emit = (dir: 0 | 1, packet: number, b: Uint8Array, off: number, len: number) => void;

/** Splits one direction's frames and hands the wanted stream's DATA content on. */
class DataFrames implements StreamSink {
  private hdr = new Uint8Array(9);
  private hdrLen = 0;
  private remaining = 0;
  private skip: number;
  private padLeft = -1;
  private pad = 0;
  private mine = false;
  constructor(private dir: 0 | 1, private want: number, private emit: Emit, client: boolean) {
    this.skip = client ? CLIENT_PREFACE.length : 0;
  }
  data(b: Uint8Array, off: number, len: number, packet: number): void {
    const end = off + len;
    let i = off;
    if (this.skip > 0) {
      const n = Math.min(this.skip, len);
      this.skip -= n;
      i += n;
    }
    while (i < end) {
      if (this.remaining === 0) {
        const n = Math.min(9 - this.hdrLen, end - i);
        this.hdr.set(b.subarray(i, i + n), this.hdrLen);
        this.hdrLen += n;
        i += n;
        if (this.hdrLen < 9) return;
        this.hdrLen = 0;
        const h = this.hdr;
        this.remaining = (h[0] << 16) | (h[1] << 8) | h[2];
        const stream = (((h[5] & 0x7f) << 24) | (h[6] << 16) | (h[7] << 8) | h[8]) >>> 0;
        this.mine = h[3] === FRAME_DATA && stream === this.want;
        this.padLeft = this.mine && h[4] & FLAG_PADDED ? -1 : 0;
        this.pad = 0;
        continue;
      }
      if (this.mine && this.padLeft === -1) {
        // RFC 9113 §6.1: Pad Length (8), then the data, then that many octets of padding.
        this.pad = b[i++];
        this.remaining--;
        this.padLeft = this.pad;
        continue;
      }
      const n = Math.min(this.remaining, end - i);
      const content = Math.max(0, Math.min(n, this.remaining - this.pad));
      if (this.mine && content > 0) this.emit(this.dir, packet, b, i, content);
      this.remaining -= n;
      i += n;
    }
  }
  gap(): void {
    this.remaining = Number.MAX_SAFE_INTEGER; // framing lost: nothing more of this direction
    this.mine = false;
  }
  end(): void {}
}

export class Http2Follow {
  readonly streams: number[] = [];
  readonly client: StreamSink;
  readonly server: StreamSink;

  constructor(want: number | null, emit: Emit) {
    const seen = new Set<number>();
    const text = (dir: 0 | 1, packet: number, s: string): void => {
      const b = Buffer.from(s, 'latin1');
      emit(dir, packet, b, 0, b.length);
    };
    const ev: Http2Events = {
      headers: (fromClient, block) => {
        if (!seen.has(block.streamId) && seen.size < MAX_STREAMS_LISTED) {
          seen.add(block.streamId);
          this.streams.push(block.streamId);
        }
        if (block.streamId !== want) return;
        text(fromClient ? 0 : 1, block.ts, `${block.fields.map((f) => `${f.name}: ${f.value}\n`).join('')}${block.error ? `[headers not decoded: ${block.error}]\n` : ''}\n`);
      },
      data: () => {}, rstStream: () => {}, goaway: () => {}, error: () => {}, end: () => {},
    };
    const h2 = new Http2Connection(ev, { expectPreface: true });
    const frames = want === null ? null : [new DataFrames(0, want, emit, true), new DataFrames(1, want, emit, false)];
    const both = (a: StreamSink, b: StreamSink | undefined): StreamSink => (b ? {
      data: (buf, off, len, ts) => { a.data(buf, off, len, ts); b.data(buf, off, len, ts); },
      gap: (len, ts) => { a.gap(len, ts); b.gap(len, ts); },
      end: (ts, how) => { a.end(ts, how); b.end(ts, how); },
    } : a);
    this.client = both(h2.client, frames?.[0]);
    this.server = both(h2.server, frames?.[1]);
  }
}

/** Does the client's first bytes start the HTTP/2 connection preface (RFC 9113 §3.4)? */
export function startsHttp2(b: Uint8Array, off: number, len: number): boolean {
  const n = Math.min(len, CLIENT_PREFACE.length);
  for (let i = 0; i < n; i++) if (b[off + i] !== CLIENT_PREFACE[i]) return false;
  return n >= 4;
}
