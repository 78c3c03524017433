import { closeSync, fstatSync, openSync, readSync } from 'node:fs';

// 1 MiB: measured slightly faster than 4 MiB on the bench capture (the buffer stays in cache).
const DEFAULT_CHUNK = 1024 * 1024;

/**
 * Sequential reads of a file into one reusable buffer. `ensure(n)` makes n bytes
 * available at `pos` (compacting or growing the buffer as needed); `skip`/`consume`
 * advance. The file is never loaded whole, so files larger than RAM stream through.
 */
export class ChunkedFile {
  buf: Uint8Array;
  view: DataView;
  /** Index in buf of the next unread byte. */
  pos = 0;
  /** Index in buf one past the last valid byte. */
  end = 0;
  /** File offset of buf[0]. */
  base = 0;
  readonly size: number;
  private eof = false;
  private fd: number;

  constructor(readonly path: string, private chunk = DEFAULT_CHUNK) {
    this.fd = openSync(path, 'r');
    this.size = fstatSync(this.fd).size;
    this.buf = new Uint8Array(chunk);
    this.view = new DataView(this.buf.buffer);
  }

  /** File offset of the next unread byte. */
  get offset(): number {
    return this.base + this.pos;
  }

  get available(): number {
    return this.end - this.pos;
  }

  /** Make n bytes readable at buf[pos..]. False when the file ends first. */
  ensure(n: number): boolean {
    if (this.end - this.pos >= n) return true;
    if (this.eof) return false;
    // Move the unread tail to the front, growing the buffer if one record needs more.
    if (n > this.buf.length) {
      let len = this.buf.length;
      while (len < n) len *= 2;
      const grown = new Uint8Array(len);
      grown.set(this.buf.subarray(this.pos, this.end));
      this.buf = grown;
      this.view = new DataView(grown.buffer);
    } else if (this.pos > 0) {
      this.buf.copyWithin(0, this.pos, this.end);
    }
    this.base += this.pos;
    this.end -= this.pos;
    this.pos = 0;
    while (this.end < n && !this.eof) {
      const want = Math.max(this.buf.length - this.end, 0);
      const got = want === 0 ? 0 : readSync(this.fd, this.buf, this.end, want, this.base + this.end);
      if (got === 0) this.eof = true;
      this.end += got;
    }
    return this.end - this.pos >= n;
  }

  consume(n: number): void {
    this.pos += n;
  }

  /** Advance n bytes, which may lie beyond what is buffered (large unknown blocks). */
  skip(n: number): void {
    if (n <= this.end - this.pos) {
      this.pos += n;
      return;
    }
    this.base += this.pos + n;
    this.pos = 0;
    this.end = 0;
    if (this.base >= this.size) this.eof = true;
  }

  close(): void {
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
  }
}
