import { closeSync, openSync, readSync, statSync } from 'node:fs';
import type { KeyLog } from './key-log.js';

/** Bytes read per poll at most (a browser writes a few hundred bytes per connection). */
const MAX_READ_PER_POLL = 4 * 1024 * 1024;

/*
 * FOLLOWING A GROWING KEY LOG during a live capture, as Wireshark re-reads its key log file:
 * each poll reads what was appended since the last one and adds its complete lines (a line
 * still being written waits for the next poll). A file that shrank was truncated or replaced:
 * it is read again from the start (known secrets stay). A missing or unreadable file is one
 * problem message, and polling goes on (the browser may create it later). Sessions whose keys
 * arrive after their ClientHello are still decrypted: TlsHandshakes looks them up again while
 * the key log grows (`KeyLog.growing`).
 */
export class KeyLogFollower {
  private offset = 0;
  private partial = '';
  problem: string | null = null;

  constructor(readonly path: string, private keys: KeyLog) {
    keys.growing = true;
  }

  /** Follows into another session's key log (the session was re-created), from the start. */
  retarget(keys: KeyLog): void {
    this.keys = keys;
    keys.growing = true;
    this.offset = 0;
    this.partial = '';
  }

  /** Reads what was appended; returns the number of bytes read. Never throws. */
  poll(): number {
    let fd = -1;
    try {
      const size = statSync(this.path).size;
      if (size < this.offset) {
        this.offset = 0;
        this.partial = '';
      }
      if (size === this.offset) return 0;
      const n = Math.min(size - this.offset, MAX_READ_PER_POLL);
      const buf = Buffer.alloc(n);
      fd = openSync(this.path, 'r');
      const got = readSync(fd, buf, 0, n, this.offset);
      this.offset += got;
      const text = this.partial + buf.toString('utf8', 0, got);
      const cut = text.lastIndexOf('\n');
      this.partial = cut < 0 ? text : text.slice(cut + 1);
      if (cut >= 0) this.keys.addText(text.slice(0, cut + 1), this.path);
      this.problem = null;
      return got;
    } catch (e) {
      this.problem ??= `cannot read key log ${this.path}: ${(e as Error).message}`;
      return 0;
    } finally {
      if (fd >= 0) closeSync(fd);
    }
  }
}
