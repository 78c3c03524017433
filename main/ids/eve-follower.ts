import { GrowingFile } from '../engine/growing-file.js';
import { StringDecoder } from 'node:string_decoder';
import { EveParser, type EveReadResult } from './eve.js';

/*
 * Follows a growing eve.json while a live capture runs (Suricata appends a line per
 * event): each poll reads what was appended, at most MAX_READ_PER_POLL, into one EveParser
 * (so a line split across polls, or a UTF-8 character split across reads, is whole when
 * parsed, and warnings keep their line numbers). A file that shrank was rotated or
 * truncated: it is read again from the start (line numbers continue). Memory: the newest
 * MAX_ALERTS alerts; older ones are counted in `droppedAlerts`.
 */

const MAX_READ_PER_POLL = 4 << 20;
export const MAX_ALERTS = 50_000;

export class EveFollower {
  private readonly file: GrowingFile;
  private decoder = new StringDecoder('utf8');
  private readonly parser = new EveParser();
  private ended: EveReadResult | null = null;
  /** Alerts dropped to keep MAX_ALERTS. */
  droppedAlerts = 0;
  /** Why the file could not be read (missing, unreadable), else null. */
  problem: string | null = null;

  constructor(readonly path: string) {
    this.file = new GrowingFile(path, MAX_READ_PER_POLL);
  }

  /** Reads what was appended; returns the bytes read. Never throws. */
  poll(): number {
    if (this.ended) return 0;
    try {
      const r = this.file.read();
      if (!r) return 0;
      if (r.restarted) this.decoder = new StringDecoder('utf8');
      this.parser.push(this.decoder.write(r.bytes));
      this.bound();
      this.problem = null;
      return r.bytes.length;
    } catch (e) {
      this.problem ??= `cannot read ${this.path}: ${(e as Error).message}`;
      return 0;
    }
  }

  /** The alerts so far (a live view: the last line may still be incomplete and is not in it). */
  get result(): EveReadResult {
    return this.ended ?? this.parser.res;
  }

  /** End of the capture: a last poll, and a last line without its newline is read too. */
  end(): EveReadResult {
    if (!this.ended) {
      this.poll();
      this.parser.push(this.decoder.end());
      this.ended = this.parser.end();
      this.bound();
    }
    return this.ended;
  }

  private bound(): void {
    const a = this.parser.res.alerts;
    if (a.length > MAX_ALERTS) {
      const cut = a.length - MAX_ALERTS;
      a.splice(0, cut);
      this.droppedAlerts += cut;
    }
  }
}
