import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allCaptures } from '../helpers/captures';
import { inProcess, type Transport } from './harness';
import { compareProtocols, PROTOCOL_RULES, tapscopeRows, tsharkColumns } from './packet-columns-oracle';

/*
 * The Protocol column of EVERY packet of the corpus against tshark's _ws.col.Protocol
 * (many-conns-loopback-echo.pcap, 82,582 packets, has its own file). A difference must be one
 * of the rules in packet-columns-oracle.ts (docs/packet-columns.md), and each rule must still
 * be needed somewhere in the corpus.
 */

const LARGE = 'many-conns-loopback-echo.pcap';
const names = allCaptures().filter((n) => n !== LARGE);

let t: Transport;
beforeAll(async () => { t = await inProcess(); });
afterAll(async () => { await t.close(); });

describe('Protocol column vs tshark', () => {
  const used = new Map<string, number>();
  let equal = 0;
  let total = 0;
  for (const name of names) {
    it(name, async () => {
      const ts = tsharkColumns(name);
      const { rows, state } = await tapscopeRows(t, name);
      const a = compareProtocols(name, ts, rows, state);
      expect(a.unexplained).toEqual([]);
      const ruled = Object.entries(a.byRule).filter(([k]) => k !== 'pcapng-custom-block').reduce((s, [, v]) => s + v, 0);
      expect(a.equal + ruled).toBe(a.total);
      for (const [k, v] of Object.entries(a.byRule)) used.set(k, (used.get(k) ?? 0) + v);
      equal += a.equal;
      total += a.total;
      console.log(`protocol ${name}: ${a.equal}/${a.total} equal${Object.keys(a.byRule).length ? `; documented: ${JSON.stringify(a.byRule)}` : ''}`);
    });
  }
  it('every documented rule is still needed', () => {
    console.log(`protocol corpus (without ${LARGE}): ${equal}/${total} equal; rules ${JSON.stringify(Object.fromEntries(used))}`);
    expect(total).toBeGreaterThan(3000);
    for (const r of PROTOCOL_RULES) expect(used.get(r.id) ?? 0, r.id).toBeGreaterThan(0);
  });
});
