import { describe, expect, it } from 'vitest';
import { analyzeFile } from '../../main/engine/analyze-file.js';
import { ConnectionStore, encodeConnectionRows } from '../../main/engine/connection-columns.js';
import { connectionJson } from '../../main/analysis/connection-json.js';
import { capture } from '../helpers/captures.js';

/*
 * The service's ConnectionStore keeps rows in chunks of 4,096 (engine/connection-columns.ts).
 * Real rows (the ~500 connections of the corpus's largest capture, sent in several batches
 * as the worker sends them) are stored under ids spread over many chunks, some chunks
 * skipped entirely; each must read back as the engine's own connection, and ids that got no
 * row must be absent.
 */
describe('ConnectionStore in chunks', () => {
  const r = analyzeFile(capture('many-conns-loopback-echo.pcap'));
  const table = r.session.connections;
  const n = table.count;
  // Spread: id i lands at i * 331 + 7 (a chunk boundary every dozen rows); the last five
  // 50,000 further on, past a dozen chunks that get no row at all.
  const spread = (i: number): number => i * 331 + 7 + (i >= n - 5 ? 50_000 : 0);

  it('reads back every row across chunk boundaries, and nothing else', () => {
    expect(n).toBeGreaterThan(400);
    const store = new ConnectionStore();
    const ids = Array.from({ length: n }, (_, i) => i);
    // Batches as the worker sends them: the first carries the address table.
    let addrsSent = 0;
    let stacksSent = 0;
    for (let from = 0; from < n; from += 97) {
      const rows = encodeConnectionRows(table, ids.slice(from, from + 97), addrsSent, stacksSent);
      addrsSent = table.flows.addrs.length;
      stacksSent = table.flows.stacks.length;
      rows.ids = rows.ids.map(spread);
      store.apply(rows);
    }
    expect(store.count).toBe(spread(n - 1) + 1);
    for (let i = 0; i < n; i++) {
      const want = connectionJson(table.connection(i));
      const got = store.connection(spread(i));
      expect(got).not.toBeNull();
      expect(connectionJson(got!)).toEqual({ ...want, id: spread(i) });
    }
    for (const id of [0, 6, 8, 4099, spread(n - 6) + 4096 * 3, spread(n - 1) - 1, spread(n - 1) + 1, -1, 7.5, 1e12]) {
      expect(store.has(id)).toBe(false);
      expect(store.connection(id)).toBeNull();
    }
  });

  it('a later row of a connection replaces the earlier one', () => {
    const store = new ConnectionStore();
    const tcp = Array.from({ length: n }, (_, i) => i).filter((i) => table.flows.isTcp[i] === 1);
    const [a, b] = [tcp[0], tcp[tcp.length - 1]];
    const first = encodeConnectionRows(table, [a], 0, 0);
    store.apply(first);
    const second = encodeConnectionRows(table, [b], table.flows.addrs.length, table.flows.stacks.length);
    second.ids[0] = a;
    store.apply(second);
    expect(connectionJson(store.connection(a)!)).toEqual({ ...connectionJson(table.connection(b)), id: a });
  });
});
