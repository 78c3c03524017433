import { GrowingFile } from '../engine/growing-file.js';
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
  private readonly file: GrowingFile;
  private partial = '';
  problem: string | null = null;

  constructor(readonly path: string, private keys: KeyLog) {
    keys.growing = true;
    this.file = new GrowingFile(path, MAX_READ_PER_POLL);
  }

  /** Follows into another session's key log (the session was re-created), from the start. */
  retarget(keys: KeyLog): void {
    this.keys = keys;
    keys.growing = true;
    this.file.rewind();
    this.partial = '';
  }

  /** Reads what was appended; returns the number of bytes read. Never throws. */
  poll(): number {
    try {
      const r = this.file.read();
      if (!r) return 0;
      if (r.restarted) this.partial = '';
      const text = this.partial + r.bytes.toString('utf8');
      const cut = text.lastIndexOf('\n');
      this.partial = cut < 0 ? text : text.slice(cut + 1);
      if (cut >= 0) this.keys.addText(text.slice(0, cut + 1), this.path);
      this.problem = null;
      return r.bytes.length;
    } catch (e) {
      this.problem ??= `cannot read key log ${this.path}: ${(e as Error).message}`;
      return 0;
    }
  }
}
