import { describe, expect, it } from 'vitest';
import type { ConnectionFacts } from '../../main/analysis/findings.js';
import { analyzeFile } from '../../main/engine/analyze-file.js';
import { parseDecodeAs } from '../../main/decode/decoder.js';
import { allCaptures, capture, decodeAsFor } from '../helpers/captures.js';

/*
 * The findings index connections by id in two ways (analysis/findings.ts Facts): the engine's
 * list, numbered 0..n-1, is its own index (no Map, no key per connection); any other list
 * (hand-built facts, tests) goes through a Map. Both must give the same findings. On every
 * corpus capture the engine's facts are run as they are, then with one more connection of
 * an id far outside 0..n-1 (UDP, to an address nothing else uses, so no rule counts it),
 * which sends the whole list through the Map.
 */
describe('findings: connection ids by index and by Map agree', () => {
  for (const name of allCaptures()) {
    it(name, () => {
      const r = analyzeFile(capture(name), { decodeAs: decodeAsFor(name).tapscope.map(parseDecodeAs) });
      const facts = r.session.connections.facts();
      expect(facts.every((c, i) => c.id === i)).toBe(true);
      const stray: ConnectionFacts = {
        id: 1e9, transport: 'udp', client: { ip: '198.51.100.1', port: 5 }, server: { ip: '198.51.100.2', port: 7 },
        firstTs: facts[0]?.firstTs ?? 0, lastTs: facts[0]?.firstTs ?? 0, packets: 1, payloadBytes: 0,
      };
      const { firstTs, lastTs } = r.report.file;
      const byIndex = r.session.app.findings(facts, firstTs, lastTs);
      const byMap = r.session.app.findings([...facts, stray], firstTs, lastTs);
      expect(byMap).toEqual(byIndex);
      // And the report's own findings are these.
      expect(r.report.findings).toEqual(byIndex);
    });
  }
});
