import { describe, expect, it } from 'vitest';
import { runAnalysis } from '../../main/engine/analyze-worker.js';
import { SessionData } from '../../main/services/session-data.js';
import { PacketReader } from '../../main/services/packets.js';
import { FilterContext } from '../../main/filter/index.js';
import { fieldDef, fieldNames } from '../../main/filter/fields.js';
import { allCaptures, capture, decodeAsFor } from '../helpers/captures.js';

/*
 * Every field read on every packet of the corpus (malformed, truncated and fuzzed files
 * included): no reader throws, and each value has its field's type.
 */
describe('every field on every corpus packet', () => {
  it.each(allCaptures())('%s', (name) => {
    const path = capture(name);
    const da = decodeAsFor(name);
    const data = new SessionData(name, path);
    runAnalysis({ kind: 'tapscope-analyze', path, decodeAs: da.tapscope, cancel: new SharedArrayBuffer(4) }, (m) => data.apply(m));
    const reader = new PacketReader(data, da.tapscope);
    try {
      const ctx = new FilterContext({ index: data.index, decode: (i) => reader.decode(i), interfaceId: (i) => reader.record(i).interfaceId }).prepare();
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
