import { ApiError } from '../../preload/api.js';
import { compileDisplayFilter, FilterContext, runFilter } from '../filter/index.js';
import type { PacketReader } from './packets.js';
import type { SessionData } from './session-data.js';

/*
 * Display filters over one session: the packet list, the connection detail's packet list and
 * Save narrow their packet indices through here. The FilterContext (connection facts: the
 * decoded first packets) is rebuilt when the session changed (a file still being read), and
 * the last few results are kept so scrolling a filtered list does not run the filter again.
 */

const MAX_CACHED = 8;

/** FNV-1a over the candidate indices: two candidate lists of one length differ in the key. */
function hashIndices(a: number[]): number {
  let h = 0x811c9dc5;
  for (let k = 0; k < a.length; k++) h = Math.imul(h ^ a[k], 0x01000193);
  return h >>> 0;
}

export class PacketFilter {
  private ctx: FilterContext | null = null;
  private ctxVersion = -1;
  private results = new Map<string, number[]>();

  constructor(private readonly data: SessionData, private readonly reader: PacketReader) {}

  /** checkDisplayFilter's answer (preload/api.ts DisplayFilterCheck). */
  static check(text: string): { ok: boolean; message: string | null; column: number | null; length: number | null } {
    const r = compileDisplayFilter(text);
    return r.ok ? { ok: true, message: null, column: null, length: null } : { ok: false, message: r.error.message, column: r.error.column, length: r.error.length };
  }

  /** The indices of `candidates` the display filter keeps (all of them without one); a broken filter is an ApiError 'bad-filter'. */
  apply(candidates: number[], text: string | null | undefined): number[] {
    if (!text || !text.trim()) return candidates;
    const r = compileDisplayFilter(text);
    if (!r.ok) throw new ApiError(`display filter: ${r.error.message} (column ${r.error.column})`, 'bad-filter');
    if (this.ctxVersion !== this.data.version) {
      this.ctx = new FilterContext({
        index: this.data.index,
        decode: (i) => this.reader.decode(i),
        interfaceId: (i) => (this.data.format === 'pcapng' ? this.reader.record(i).interfaceId : -1),
        keys: () => this.reader.keys?.() ?? null,
      });
      this.ctxVersion = this.data.version;
      this.results.clear();
    }
    const key = `${candidates.length}:${hashIndices(candidates)}|${text}`;
    const hit = this.results.get(key);
    if (hit) return hit;
    const out = runFilter(r.filter, this.ctx!, candidates);
    if (this.results.size >= MAX_CACHED) this.results.delete(this.results.keys().next().value!);
    this.results.set(key, out);
    return out;
  }
}
