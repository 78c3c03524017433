/*
 * The compact HTTP exchange store (analysis/http-exchange-store.ts): an exchange settled into
 * the columns comes back field for field as it was, on every corpus capture; values the
 * byte pool cannot hold (code units above 255) and absent or dropped header lists too.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { allCaptures, capture, decodeAsFor } from '../helpers/captures.js';
import { analyzeFile } from '../../main/engine/analyze-file.js';
import { parseDecodeAs } from '../../main/decode/decoder.js';
import { HttpExchangeStore } from '../../main/analysis/http-exchange-store.js';
import { HttpExchanges, MAX_EXCHANGES, type HttpExchange } from '../../main/analysis/http-exchanges.js';

function exchange(over: Partial<HttpExchange>): HttpExchange {
  return {
    connectionId: 7, serverIp: '2001:db8::1', serverPort: 8080,
    method: 'GET', host: 'example.com', uri: '/a?b=c', version: 'HTTP/1.1', status: 200, reason: 'OK', interim: [], upgrade: null,
    requestTs: 1.5, requestEndTs: 1.5, responseTs: 1.75, responseEndTs: 2, requestHeaderBytes: 80, requestBodyBytes: 0,
    responseHeaderBytes: 120, responseBodyBytes: 5e9, responseGapBytes: 3, responseHeadTruncated: false, contentType: 'text/html', noResponse: null,
    ...over,
  };
}

describe('HTTP exchange store', () => {
  afterEach(() => vi.restoreAllMocks());

  it('gives back every settled exchange of the corpus as it was before settling', () => {
    const before = new Map<HttpExchangeStore, Map<number, HttpExchange>>();
    const settle = HttpExchangeStore.prototype.settle;
    vi.spyOn(HttpExchangeStore.prototype, 'settle').mockImplementation(function (this: HttpExchangeStore, slot: number) {
      let m = before.get(this);
      if (!m) before.set(this, (m = new Map()));
      m.set(slot, structuredClone(this.at(slot)));
      settle.call(this, slot);
    });
    let settled = 0;
    let kept = 0;
    // The corpus, and 3,000 generated short connections (bench/gen-short-conns.mjs) whose counts are known.
    const dir = mkdtempSync(join(tmpdir(), 'tapscope-store-'));
    const generated = join(dir, 'short.pcap');
    execFileSync(process.execPath, ['bench/gen-short-conns.mjs', '--out', generated, '--conns', '3000'], { stdio: 'ignore' });
    const meta = JSON.parse(readFileSync(generated + '.meta.json', 'utf8')) as { requests: number; http503: number };
    for (const name of [...allCaptures(), generated]) {
      const decodeAs = name === generated ? [] : decodeAsFor(name).tapscope.map((d) => parseDecodeAs(d));
      const r = analyzeFile(name === generated ? generated : capture(name), { decodeAs });
      const store = r.session.app.http.store;
      const was = before.get(store) ?? new Map();
      for (const [slot, x] of was) {
        expect(store.at(slot), `${name} exchange ${slot}`).toEqual(x);
        if (x.requestHeaders) kept++;
      }
      settled += was.size;
      // The report's http array is the same whichever way the exchanges are held.
      expect(r.report.http.length, name).toBe(store.count);
      if (name === generated) {
        // Every connection closed: every exchange settled, and they are the generator's requests.
        expect(was.size).toBe(meta.requests);
        expect(store.count).toBe(meta.requests);
        expect(r.session.app.http.exchanges.filter((x) => x.status === 503).length).toBe(meta.http503);
      }
    }
    rmSync(dir, { recursive: true, force: true });
    expect(settled).toBeGreaterThan(3000 + 60);
    expect(kept).toBeGreaterThan(50);
  });

  it('keeps text above Latin-1, absent and dropped header lists, 1xx statuses and every no-response reason', () => {
    const s = new HttpExchangeStore();
    const xs = [
      exchange({ uri: '/caf\u0100', requestHeaders: [['x-name', 'v\u20ac']], responseHeaders: null }),
      exchange({ uri: null, method: null, status: null, interim: [100, 103], noResponse: 'not-captured', responseHeadTruncated: true, requestTs: null }),
      exchange({ requestHeaders: [], responseHeaders: [['a', ''], ['b'.repeat(300), 'c'.repeat(9000)]], noResponse: 'reset' }),
      exchange({ noResponse: 'capture-ended', contentType: null, host: null }),
    ];
    const copies = xs.map((x) => structuredClone(x));
    const slots = xs.map((x) => s.add(x));
    expect(s.at(slots[0])).toBe(xs[0]); // not settled: the live object itself
    for (const slot of slots) s.settle(slot);
    for (let i = 0; i < xs.length; i++) expect(s.at(slots[i])).toEqual(copies[i]);
    expect('requestHeaders' in s.at(slots[3])).toBe(false);
    // Lean (the findings' view of the columns): the same fields without the header lists.
    for (let i = 0; i < xs.length; i++) {
      const { requestHeaders: _q, responseHeaders: _r, ...rest } = copies[i];
      const view = s.at(slots[i], true) as unknown as Record<string, unknown>;
      expect(Object.fromEntries(Object.keys(rest).map((k) => [k, view[k]]))).toEqual(rest);
      expect(view.requestHeaders).toBeUndefined();
    }
    expect(s.count).toBe(4);
  });

  it('never settles HTTP/2 and HTTP/3 exchanges (their streams may still change them)', () => {
    const s = new HttpExchangeStore();
    const x = exchange({ protocol: 'h2', streamId: 1 });
    const slot = s.add(x);
    s.settle(slot);
    x.status = 404;
    expect(s.at(slot)).toBe(x);
  });

  it('says how many exchanges were over the cap (none on the corpus)', () => {
    const h = new HttpExchanges();
    expect(h.warning()).toBeNull();
    h.dropped = 2;
    expect(h.warning()).toBe(`2 HTTP exchange(s) not kept: the capture has more than ${MAX_EXCHANGES.toLocaleString('en-US')}`);
    expect(MAX_EXCHANGES).toBeGreaterThanOrEqual(2_000_000); // the 2M-connection bench capture fits
  });

  it('grows past its first columns', () => {
    const s = new HttpExchangeStore();
    for (let i = 0; i < 5000; i++) s.settle(s.add(exchange({ connectionId: i, uri: `/${i}` })));
    expect(s.at(4321).uri).toBe('/4321');
    expect(s.at(4321).connectionId).toBe(4321);
    expect(s.at(0).uri).toBe('/0');
  });
});
