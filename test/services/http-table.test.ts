import { describe, expect, it } from 'vitest';
import { analyzeFile } from '../../main/engine/analyze-file';
import { httpRow } from '../../main/services/rows';
import type { HttpRow } from '../../preload/api';
import { capture } from '../helpers/captures';
import { makeService, openAndWait } from './harness';

/*
 * The HTTP table of an opened file is served page by page from the worker's exchange store
 * (services/http-table.ts), not from an array of rows. Its pages, sorted and filtered, must
 * be the engine report's http array (analyzeFile) put through the same row shape: HTTP/1.x
 * exchanges settled into columns, HTTP/2 and HTTP/3 ones kept as objects, decrypted ones.
 */
const CAPTURES = [
  'http-dns-ipv6-wikipedia.pcap', 'http-retx-fastretx-dupack-ooo.pcap', 'http2-cleartext-hpack-headers-port3000.pcapng',
  'quic-v2-http3-keys-in-pcapng-dsb.pcapng', 'tls12-http-keys-in-pcapng-dsb.pcapng', 'http-snaplen96-truncated.pcap',
];

/** Positions sorted by one numeric key, nulls last, ties in capture order (the table's rule). */
function byKey(rows: HttpRow[], key: 'duration' | 'requestTs', dir: 'asc' | 'desc'): number[] {
  const sign = dir === 'desc' ? -1 : 1;
  return rows.map((r) => r.index).sort((a, b) => {
    const x = rows[a][key];
    const y = rows[b][key];
    if (x === null || y === null) return x === y ? 0 : x === null ? 1 : -1;
    return (x - y) * sign || a - b;
  });
}

describe('HTTP table from the exchange store', () => {
  it('pages, sorts, filters and per-connection rows equal the engine report', async () => {
    const service = await makeService();
    try {
      let seen = 0;
      for (const name of CAPTURES) {
        const file = capture(name);
        const expected = (analyzeFile(file).report.http as Record<string, unknown>[]).map(httpRow);
        const { info } = await openAndWait(service, file);
        const sessionId = info.sessionId;
        const all = await service.http({ sessionId, offset: 0, limit: 1_000_000 });
        expect(all.total, name).toBe(expected.length);
        expect(all.rows, name).toEqual(expected);
        seen += expected.length;
        if (expected.length === 0) continue;

        const sorted = await service.http({ sessionId, offset: 0, limit: 1_000_000, sortKey: 'duration', sortDir: 'desc' });
        expect(sorted.rows.map((r) => r.index), name).toEqual(byKey(expected, 'duration', 'desc'));
        const page = await service.http({ sessionId, offset: 1, limit: 2, sortKey: 'requestTs', sortDir: 'asc' });
        expect(page.rows, name).toEqual(byKey(expected, 'requestTs', 'asc').slice(1, 3).map((i) => expected[i]));

        const needle = expected[expected.length - 1].uri.slice(0, 6).toLowerCase();
        const text = await service.http({ sessionId, offset: 0, limit: 1_000_000, text: needle });
        expect(text.rows, name).toEqual(expected.filter((r) => `${r.method} ${r.host ?? ''} ${r.uri} ${r.status ?? ''} ${r.contentType ?? ''}`.toLowerCase().includes(needle)));
        expect(text.unfiltered, name).toBe(expected.length);

        const conn = expected[0].connectionId;
        const detail = await service.connectionDetail(sessionId, conn);
        expect(detail.http, name).toEqual(expected.filter((r) => r.connectionId === conn));
        await service.closeSession(sessionId);
      }
      expect(seen).toBeGreaterThan(20);
    } finally {
      await service.dispose();
    }
  });
});
