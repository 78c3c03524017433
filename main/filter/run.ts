import type { DisplayFilter } from './compile.js';
import { FilterContext, type PacketSource } from './context.js';

/*
 * Runs a compiled filter over packets of the index. A filter whose fields are all the same in
 * both directions of a connection (ip.addr, tcp.port, tcp.stream, ...) is decided once per
 * plain connection and the answer applied to its packets through the index's connection ids;
 * other filters are evaluated packet by packet, decoding from file offsets only the packets
 * whose fields need it (in file order, so reads are sequential).
 */

const UNKNOWN = 0;
const YES = 1;
const NO = 2;

/** Indices (0-based, ascending) of the packets in `candidates` (default all) that match. */
export function runFilter(filter: DisplayFilter, ctx: FilterContext, candidates?: ArrayLike<number>): number[] {
  const ix = ctx.index;
  if (filter.cost !== 'index') ctx.prepare();
  const n = candidates ? candidates.length : ix.length;
  const out: number[] = [];
  const memo = filter.perConnection ? new Uint8Array(1024) : null;
  let memoOf = memo;
  for (let k = 0; k < n; k++) {
    const i = candidates ? candidates[k] : k;
    const c = ix.connId[i];
    ctx.at(i);
    if (memoOf && c >= 0) {
      if (c >= memoOf.length) {
        const g = new Uint8Array(Math.max(c + 1, memoOf.length * 2));
        g.set(memoOf);
        memoOf = g;
      }
      let m = memoOf[c];
      if (m === UNKNOWN) {
        const facts = ctx.conn();
        const hit = filter.test(ctx);
        // Only plain connections answer for all their packets (tunnelled ones differ per packet).
        if (!facts?.plain) {
          if (hit) out.push(i);
          continue;
        }
        m = memoOf[c] = hit ? YES : NO;
      }
      if (m === YES) out.push(i);
      continue;
    }
    if (filter.test(ctx)) out.push(i);
  }
  return out;
}

export { FilterContext, type PacketSource };
