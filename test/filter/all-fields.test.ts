import { describe, expect, it } from 'vitest';
import { fieldDef, fieldNames } from '../../main/filter/fields.js';
import { allCaptures } from '../helpers/captures.js';
import { openCorpus } from './filter-oracle.js';

/*
 * Every field read on every packet of the corpus (malformed, truncated and fuzzed files
 * included): no reader throws, and each value has its field's type.
 */
describe('every field on every corpus packet', () => {
  it.each(allCaptures())('%s', (name) => {
    const { data, reader, ctx } = openCorpus(name);
    try {
      const defs = fieldNames().map((n) => fieldDef(n)!);
      const out: (number | string)[] = [];
      let present = 0;
      for (let i = 0; i < data.index.length; i++) {
        ctx.at(i);
        for (const d of defs) {
          out.length = 0;
          d.get(ctx, out);
          present += out.length;
          for (const v of out) {
            const want = d.type === 'string' || d.type === 'ether' || d.type === 'ipv6' ? 'string' : 'number';
            if (typeof v !== want || (want === 'number' && !Number.isFinite(v))) throw new Error(`${d.name} on packet ${i + 1}: ${String(v)}`);
          }
        }
      }
      expect(present).toBeGreaterThan(0);
    } finally {
      reader.close();
    }
  });
});
