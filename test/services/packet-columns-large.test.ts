import { afterAll, beforeAll, expect, it } from 'vitest';
import { inProcess, type Transport } from './harness';
import { compareProtocols, tapscopeRows, tsharkColumns } from './packet-columns-oracle';

/* The Protocol column of all 82,582 packets of the largest corpus capture, in pages of 200 as the app asks for them. */

const NAME = 'many-conns-loopback-echo.pcap';
let t: Transport;
beforeAll(async () => { t = await inProcess(); });
afterAll(async () => { await t.close(); });

it(`Protocol column of ${NAME} vs tshark`, async () => {
  const ts = tsharkColumns(NAME);
  const { rows, state } = await tapscopeRows(t, NAME, 200);
  const a = compareProtocols(NAME, ts, rows, state);
  console.log(`protocol ${NAME}: ${a.equal}/${a.total} equal`);
  expect(a.unexplained.slice(0, 10)).toEqual([]);
  expect(a.total).toBe(82582);
  expect(a.equal).toBe(a.total);
}, 120_000);
