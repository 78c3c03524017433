import { closeSync, openSync, readSync, statSync } from 'node:fs';

/*
 * A file another program appends to while a live capture runs (a browser's key log,
 * Suricata's eve.json): each read returns the bytes appended since the previous one, at
 * most `maxRead`. A file that shrank was truncated or replaced (log rotation): reading
 * starts again at its beginning and says so, so the caller drops a partial line it held.
 */
export class GrowingFile {
  private offset = 0;

  constructor(readonly path: string, private readonly maxRead = 4 << 20) {}

  /** The appended bytes (null when none), and whether the file restarted. Throws what the file system throws. */
  read(): { bytes: Buffer; restarted: boolean } | null {
    const size = statSync(this.path).size;
    let restarted = false;
    if (size < this.offset) {
      this.offset = 0;
      restarted = true;
    }
    if (size === this.offset) return restarted ? { bytes: Buffer.alloc(0), restarted } : null;
    const buf = Buffer.alloc(Math.min(size - this.offset, this.maxRead));
    const fd = openSync(this.path, 'r');
    try {
      const got = readSync(fd, buf, 0, buf.length, this.offset);
      this.offset += got;
      return { bytes: buf.subarray(0, got), restarted };
    } finally {
      closeSync(fd);
    }
  }

  /** Reads from the start again (the reader's target changed). */
  rewind(): void {
    this.offset = 0;
  }
}
