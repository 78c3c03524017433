import { describe, expect, it } from 'vitest';
import { HeaderLists, MAX_HEADER_OCTETS_PER_LIST, MAX_HEADERS_PER_LIST } from '../../main/analysis/header-lists.js';
import { parseDecodeAs } from '../../main/decode/decoder.js';
import { analyzeFile } from '../../main/engine/analyze-file.js';
import { buildHar } from '../../main/services/har.js';
import { httpRow } from '../../main/services/rows.js';
import { capture, decodeAsFor, tshark } from '../helpers/captures.js';
import { tapscopeHttp2, tsharkHttp2 } from '../parsers/http2-oracle.js';

/*
 * Header lists of http[] exchanges against tshark, field by field:
 * - HTTP/2: each stream's request list = the client's HEADERS fields (`http2.header.name`/
 *   `.value`), the response list = the server's first HEADERS block, on the cleartext corpus
 *   capture and the DSB-keyed TLS half of the Chrome/Cloudflare capture;
 * - HTTP/1.x: each header line as tshark's `http.request.line` / `http.response.line`
 *   ("Name: value\r\n"), request and response lists of every exchange, on clear text and
 *   DSB-decrypted TLS 1.2 captures.
 * Then the JSON carries them, and the bounds hold.
 */

type Json = { requestHeaders: [string, string][] | null; responseHeaders: [string, string][] | null; protocol: string; streamId: number | null };

describe('HTTP/2 header lists vs tshark', () => {
  for (const [file, port] of [['http2-cleartext-hpack-headers-port3000.pcapng', 3000], ['quic-v1-chrome-cloudflare-keys-in-pcapng-dsb.pcapng', 443]] as const) {
    it(`${file}: every stream's request and response header list`, () => {
      const frames = tsharkHttp2(capture(file), port, decodeAsFor(file).tshark).filter((f) => f.type === 1 && f.headers.length > 0);
      const theirs = new Map<string, [string, string][]>();
      for (const f of frames) {
        const k = `${f.conn} ${f.streamId} ${f.fromClient ? 'request' : 'response'}`;
        if (!theirs.has(k)) theirs.set(k, f.headers); // the first block of each side (no 1xx or trailers here)
      }
      const { exchanges } = tapscopeHttp2(capture(file));
      const ours = new Map<string, [string, string][]>();
      for (const x of exchanges) {
        if (x.requestHeaders) ours.set(`${x.conn} ${x.streamId} request`, x.requestHeaders);
        if (x.responseHeaders) ours.set(`${x.conn} ${x.streamId} response`, x.responseHeaders);
      }
      expect(Object.fromEntries([...ours].sort())).toEqual(Object.fromEntries([...theirs].sort()));
      expect(ours.size).toBeGreaterThanOrEqual(2);
      // The JSON carries the same lists.
      const json = analyzeFile(capture(file)).report.http as Json[];
      const h2 = json.filter((x) => x.protocol === 'h2');
      expect(h2.map((x) => x.requestHeaders)).toEqual(exchanges.map((x) => x.requestHeaders));
      expect(h2.map((x) => x.responseHeaders)).toEqual(exchanges.map((x) => x.responseHeaders));
      // The API rows and the HAR built from them carry them too.
      const rows = (json as unknown as Record<string, unknown>[]).map((x, i) => httpRow(x, i)).filter((r) => r.protocol === 'h2');
      const har = buildHar(rows, () => null, 'test');
      expect(har.log.entries.map((e) => e.request.headers.map(({ name, value }) => [name, value]))).toEqual(exchanges.map((x) => x.requestHeaders));
      expect(har.log.entries.map((e) => e.response.headers.map(({ name, value }) => [name, value]))).toEqual(exchanges.map((x) => x.responseHeaders ?? []));
    });
  }
});

/** tshark's header lines of every HTTP/1.x request and response, each list as "Name: value" lines. */
function tsharkHttp1Lines(file: string, extra: string[]): { requests: string[]; responses: string[] } {
  const SEP = '\u0001';
  const out = tshark(['-r', file, '-n', ...extra, '-Y', 'http', '-T', 'fields', '-E', `aggregator=${SEP}`, '-E', 'occurrence=a', '-E', 'separator=\t', '-e', 'http.request.line', '-e', 'http.response.line', '-e', 'http.request', '-e', 'http.response']);
  const requests: string[] = [];
  const responses: string[] = [];
  for (const line of out.split('\n')) {
    if (!line) continue;
    const [req, resp, isReq, isResp] = line.split('\t');
    // tshark prints each line escaped, "Name: value\\r\\n".
    const lines = (s: string) => (s ? s.split(SEP).map((l) => l.replace(/(\\r)?\\n$/, '')).join(' | ') : '');
    if (isReq) requests.push(lines(req));
    if (isResp) responses.push(lines(resp));
  }
  return { requests: requests.sort(), responses: responses.sort() };
}

describe('HTTP/1.x header lists vs tshark (http.request.line / http.response.line)', () => {
  const files = ['http-get-basic.pcap', 'http-dns-ipv6-wikipedia.pcap', 'http-ipv4-and-ipv6.pcapng', 'http-post-retx-dupack.pcap', 'tls12-http-keys-in-pcapng-dsb.pcapng', 'vxlan-http.pcap'];
  for (const file of files) {
    it(`${file}: every request's and response's header lines`, () => {
      const decode = decodeAsFor(file);
      const theirs = tsharkHttp1Lines(capture(file), decode.tshark);
      const json = analyzeFile(capture(file), { decodeAs: decode.tapscope.map((d) => parseDecodeAs(d)) }).report.http as Json[];
      const lines = (h: [string, string][]) => h.map(([n, v]) => `${n}: ${v}`).join(' | ');
      const requests = json.filter((x) => x.requestHeaders).map((x) => lines(x.requestHeaders!)).sort();
      const responses = json.filter((x) => x.responseHeaders).map((x) => lines(x.responseHeaders!)).sort();
      expect(requests.length + responses.length).toBeGreaterThan(0);
      expect({ requests, responses }).toEqual(theirs);
    });
  }
});

describe('HeaderLists bounds', () => {
  it('keeps at most 64 fields and 8 KiB per list, then the capture budget; unknown names are left out', () => {
    const h = new HeaderLists();
    const many = Array.from({ length: 100 }, (_, i) => [`x-${i}`, 'v'] as [string, string]);
    expect(h.keep(many)!.length).toBe(MAX_HEADERS_PER_LIST);
    const long = [['a', 'x'.repeat(MAX_HEADER_OCTETS_PER_LIST)], ['b', 'short'], [null, 'ref'], ['c', null]] as [string | null, string | null][];
    expect(h.keep(long)).toEqual([['b', 'short'], ['c', '']]);
    h.octets = 4 * 1024 * 1024;
    expect(h.keep([['d', 'e']])).toBeNull();
    expect(h.warning()).toMatch(/header lists of 1 message\(s\) not kept/);
  });
});
