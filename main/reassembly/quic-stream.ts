/*
 * One direction of a QUIC stream (RFC 9000 §2.2, §19.8): STREAM frames carry bytes at an
 * offset; data is handed on in order, once. Unlike the CRYPTO stream, a stream can be long
 * (a download), so nothing is buffered in order: only frames that arrive ahead of a hole are
 * copied aside (at most MAX_PENDING frames and MAX_PENDING_BYTES), and delivered when the hole
 * fills. What does not fit is counted in `lost` and the stream's consumer is told of the gap.
 */

const MAX_PENDING = 32;
const MAX_PENDING_BYTES = 256 * 1024;

export interface StreamSink {
  data(b: Uint8Array, off: number, len: number, ts: number): void;
  /** Bytes that will never be delivered (a hole that did not fill). */
  gap(len: number, ts: number): void;
  fin(ts: number): void;
}

export class QuicStreamReassembly {
  /** Bytes [0, delivered) were handed on. */
  delivered = 0;
  private pending: { offset: number; bytes: Uint8Array }[] = [];
  private pendingBytes = 0;
  private finAt = -1;
  private finished = false;
  lost = 0;

  constructor(private sink: StreamSink) {}

  add(offset: number, b: Uint8Array, off: number, len: number, fin: boolean, ts: number): void {
    if (this.finished) return;
    if (fin) this.finAt = offset + len;
    let s = offset;
    if (s + len <= this.delivered) return this.maybeFin(ts);
    if (s < this.delivered) {
      off += this.delivered - s;
      len -= this.delivered - s;
      s = this.delivered;
    }
    if (s === this.delivered) {
      this.delivered += len;
      this.sink.data(b, off, len, ts);
      this.drain(ts);
    } else if (this.pending.length < MAX_PENDING && this.pendingBytes + len <= MAX_PENDING_BYTES) {
      this.pending.push({ offset: s, bytes: b.slice(off, off + len) });
      this.pendingBytes += len;
    } else {
      // No room to wait for the hole: give it up and go on from the earliest data held.
      this.skipToEarliest(ts, s, b, off, len);
    }
    this.maybeFin(ts);
  }

  /** The stream ended without its missing bytes (reset, capture end): report the hole. */
  end(ts: number): void {
    while (this.pending.length > 0) {
      let first = Infinity;
      for (const p of this.pending) first = Math.min(first, p.offset);
      this.skipTo(first, ts);
      this.drain(ts);
    }
  }

  private drain(ts: number): void {
    for (let moved = true; moved;) {
      moved = false;
      for (let i = 0; i < this.pending.length; i++) {
        const p = this.pending[i];
        if (p.offset > this.delivered) continue;
        this.pending.splice(i, 1);
        this.pendingBytes -= p.bytes.length;
        const skip = this.delivered - p.offset;
        if (skip < p.bytes.length) {
          this.delivered += p.bytes.length - skip;
          this.sink.data(p.bytes, skip, p.bytes.length - skip, ts);
        }
        moved = true;
        break;
      }
    }
  }

  private skipToEarliest(ts: number, s: number, b: Uint8Array, off: number, len: number): void {
    // Every island held before this frame is delivered, with the holes between them reported.
    for (;;) {
      let first = Infinity;
      for (const p of this.pending) first = Math.min(first, p.offset);
      if (first >= s) break;
      this.skipTo(first, ts);
      this.drain(ts);
    }
    if (s + len <= this.delivered) return;
    if (s < this.delivered) {
      off += this.delivered - s;
      len -= this.delivered - s;
      s = this.delivered;
    }
    this.skipTo(s, ts);
    this.delivered += len;
    this.sink.data(b, off, len, ts);
    this.drain(ts);
  }

  private skipTo(offset: number, ts: number): void {
    if (offset <= this.delivered) return;
    this.lost += offset - this.delivered;
    this.sink.gap(offset - this.delivered, ts);
    this.delivered = offset;
  }

  private maybeFin(ts: number): void {
    if (!this.finished && this.finAt >= 0 && this.delivered >= this.finAt) {
      this.finished = true;
      this.sink.fin(ts);
    }
  }
}
