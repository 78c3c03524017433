/*
 * One QUIC CRYPTO stream (RFC 9000 §19.6, RFC 9001 §4.1.3): frames carry handshake bytes
 * at an offset, in any order, possibly repeated (retransmissions) or overlapping. Bytes are
 * handed on in order, once, as soon as they are contiguous from offset 0. Chromium spreads
 * its ClientHello over several Initials and shuffles the frames.
 *
 * Bounded: bytes beyond MAX_CRYPTO_BYTES and holes beyond MAX_RANGES are dropped (counted in
 * `dropped`); the buffer grows by doubling up to that size and is released by `release()`.
 */

export const MAX_CRYPTO_BYTES = 64 * 1024;
const MAX_RANGES = 32;

export type CryptoSink = (b: Uint8Array, off: number, len: number) => void;

export class QuicCryptoStream {
  private buf = new Uint8Array(0);
  /** Received ranges past `delivered`, sorted, disjoint: [start0, end0, start1, end1, ...]. */
  private ranges: number[] = [];
  /** Bytes [0, delivered) were handed to the sink. */
  delivered = 0;
  dropped = 0;
  private released = false;

  constructor(private sink: CryptoSink) {}

  add(offset: number, b: Uint8Array, off: number, len: number): void {
    if (this.released || len <= 0) return;
    let s = offset;
    let e = offset + len;
    if (e <= this.delivered) return; // a duplicate of delivered bytes
    if (s < this.delivered) {
      off += this.delivered - s;
      s = this.delivered;
    }
    if (e > MAX_CRYPTO_BYTES) {
      this.dropped += e - Math.max(s, MAX_CRYPTO_BYTES);
      e = MAX_CRYPTO_BYTES;
      if (s >= e) return;
    }
    if (!this.merge(s, e)) {
      this.dropped += e - s;
      return;
    }
    if (e > this.buf.length) {
      const g = new Uint8Array(Math.min(MAX_CRYPTO_BYTES, Math.max(e, this.buf.length * 2, 2048)));
      g.set(this.buf);
      this.buf = g;
    }
    this.buf.set(b.subarray(off, off + (e - s)), s);
    const r = this.ranges;
    if (r.length > 0 && r[0] <= this.delivered && r[1] > this.delivered) {
      const from = this.delivered;
      this.delivered = r[1];
      r.splice(0, 2);
      this.sink(this.buf, from, this.delivered - from);
    }
  }

  /** Records [s, e) in the range list; false when a new hole would exceed MAX_RANGES. */
  private merge(s: number, e: number): boolean {
    const r = this.ranges;
    let i = 0;
    while (i < r.length && r[i + 1] < s) i += 2;
    let j = i;
    while (j < r.length && r[j] <= e) j += 2;
    if (i === j) {
      if (r.length >= MAX_RANGES * 2) return false;
      r.splice(i, 0, s, e);
      return true;
    }
    const ns = Math.min(s, r[i]);
    const ne = Math.max(e, r[j - 1]);
    r.splice(i, j - i, ns, ne);
    return true;
  }

  /** Gaps remain: bytes arrived past a hole that never filled. */
  get incomplete(): boolean {
    return this.ranges.length > 0;
  }

  /** Frees the buffer (the handshake message it was for has been read). */
  release(): void {
    this.released = true;
    this.buf = new Uint8Array(0);
    this.ranges.length = 0;
  }
}
