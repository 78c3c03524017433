import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inProcess, overWebSocket, openAndWait, type Transport } from '../services/harness.js';
import { capture, tsharkFields } from '../helpers/captures.js';
import { tsharkMatches } from './filter-oracle.js';

/*
 * Display filters through the contract, over the in-process (validated) and WebSocket
 * transports: checkDisplayFilter, the Packets view and the connection detail's packet list
 * (PacketQuery.displayFilter), and Save (SaveRequest.displayFilter) read back by tshark.
 */
const NAME = 'http-dns-ipv6-wikipedia.pcap';
let tmp: string;
const transports: Transport[] = [];

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'tapscope-filter-svc-'));
  transports.push(await inProcess(), await overWebSocket());
});
afterAll(async () => {
  for (const t of transports) await t.close();
  rmSync(tmp, { recursive: true, force: true });
});

describe.each([0, 1])('transport %i', (k) => {
  it('checkDisplayFilter: ok, or the message, column and length', async () => {
    const { api } = transports[k];
    expect(await api.checkDisplayFilter('tcp.port == 80 && ip.addr == 10.0.0.0/8')).toEqual({ ok: true, message: null, column: null, length: null });
    expect(await api.checkDisplayFilter('tcp.port == 80 && tcp.prot')).toEqual({ ok: false, message: 'tcp.prot is neither a field nor a protocol name.', column: 19, length: 8 });
    await expect(api.checkDisplayFilter(5 as unknown as string)).rejects.toThrow(/invalid argument text/);
  });

  it('packets with a display filter: the page, total and order are tshark\'s; a broken one is a bad-filter error', async () => {
    const { api } = transports[k];
    const { info } = await openAndWait(api, capture(NAME));
    const filter = 'dns.flags.response == 1 || http.request';
    const expected = tsharkMatches(NAME, filter);
    const page = await api.packets({ sessionId: info.sessionId, offset: 0, limit: 1000, displayFilter: filter });
    expect(page.total).toBe(expected.length);
    expect(page.rows.map((r) => r.number)).toEqual(expected);
    const second = await api.packets({ sessionId: info.sessionId, offset: 5, limit: 5, displayFilter: filter });
    expect(second.rows.map((r) => r.number)).toEqual(expected.slice(5, 10));
    await expect(api.packets({ sessionId: info.sessionId, offset: 0, limit: 10, displayFilter: 'tcp.port ==' })).rejects.toThrow(/display filter: Unexpected end of filter expression/);
  });

  it('the connection detail\'s packet list narrows the connection\'s packets', async () => {
    const { api } = transports[k];
    const { info } = await openAndWait(api, capture(NAME));
    const conns = await api.connections({ sessionId: info.sessionId, offset: 0, limit: 100, transport: 'tcp' });
    const c = conns.rows.find((r) => r.server.port === 80)!;
    const all = await api.packets({ sessionId: info.sessionId, offset: 0, limit: 1000, connectionId: c.id });
    const data = await api.packets({ sessionId: info.sessionId, offset: 0, limit: 1000, connectionId: c.id, displayFilter: 'tcp.len > 0' });
    const stream = tsharkFields(capture(NAME), ['tcp.stream'], ['-Y', `frame.number == ${all.rows[0].number}`])[0][0];
    expect(data.rows.map((r) => r.number)).toEqual(tsharkMatches(NAME, `tcp.stream == ${stream} && tcp.len > 0`));
    expect(data.unfiltered).toBe(all.total);
  });

  it('Save writes only the matching packets', async () => {
    const { api } = transports[k];
    const { info } = await openAndWait(api, capture(NAME));
    const filter = 'ipv6 || dns.qry.name contains "wiki"';
    const path = join(tmp, `saved-${k}.pcap`);
    const r = await api.saveCapture({ sessionId: info.sessionId, format: 'pcap', displayFilter: filter, path });
    const expected = tsharkFields(capture(NAME), ['frame.time_epoch', 'frame.len'], ['-Y', filter]);
    expect(r.packets).toBe(expected.length);
    expect(tsharkFields(r.path, ['frame.time_epoch', 'frame.len'])).toEqual(expected);
  });
});
