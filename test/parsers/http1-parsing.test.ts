/*
 * The HTTP/1.x parser reads a head where it lies in the segment, on its octets (issue 10):
 * it must give exactly what the text-based parser it replaced gave (http1-reference.ts, the
 * previous main/parsers/http.ts kept as the oracle) on every message layout, cut in any
 * pieces, with gaps; and a head cut into pieces (byte by byte) must give the same exchanges
 * as when it arrives whole.
 */
import { describe, expect, it } from 'vitest';
import { Http1StreamParser, type HttpHead, type HttpParserEvents } from '../../main/parsers/http.js';
import { Http1StreamParser as ReferenceParser } from './http1-reference.js';
import { HttpExchanges } from '../../main/analysis/http-exchanges.js';
import { fakeConnection } from './fake-connection.js';
import { rngUnit } from '../helpers/rng.js';

interface Parser {
  data(b: Uint8Array, off: number, len: number, ts: number): void;
  gap(len: number, ts: number): void;
  end(ts: number, how: 'fin' | 'reset' | 'eof'): void;
  tunnel(): void;
  messages: number;
  notHttpBytes: number;
  readonly dead: boolean;
}

type Make = (isRequest: boolean, ev: HttpParserEvents, midStream: boolean) => Parser;
const makeNew: Make = (r, ev, m) => new Http1StreamParser(r, ev, m);
const makeRef: Make = (r, ev, m) => new ReferenceParser(r, ev, m);

function headRecord(h: HttpHead): unknown {
  return {
    isRequest: h.isRequest, method: h.method, uri: h.uri, version: h.version, status: h.status, reason: h.reason, host: h.host,
    contentType: h.contentType, contentLength: h.contentLength, chunked: h.chunked, connectionClose: h.connectionClose,
    upgrade: h.upgrade, expectContinue: h.expectContinue, headerBytes: h.headerBytes, startLine: h.startLine,
    startTs: h.startTs, headTs: h.headTs, truncated: h.truncated, fields: h.fields,
  };
}

/** Every event a parser gives for `pieces` (bytes, or a gap length), as a list. */
function run(make: Make, isRequest: boolean, midStream: boolean, pieces: (Uint8Array | number)[], how: 'fin' | 'reset' | 'eof'): unknown[] {
  const out: unknown[] = [];
  let heads = 0;
  let p: Parser;
  const ev: HttpParserEvents = {
    head(h) {
      out.push(['head', headRecord(h)]);
      // As the exchanges do: a 101 switches protocols.
      if (h.status === 101) p.tunnel();
      heads++;
    },
    messageEnd: (ts, body, gap) => out.push(['end', ts, body, gap]),
    messageAbort: (ts, body, how2, gap) => out.push(['abort', ts, body, how2, gap]),
    http2Preface: (ts) => out.push(['h2', ts]),
    lostSync: (ts) => out.push(['lost', ts]),
    tunnelData: (b, off, len, ts) => out.push(['tunnel', Buffer.from(b.subarray(off, off + len)).toString('latin1'), ts]),
    requestWasHead: () => heads % 3 === 2,
    end: (ts, h) => out.push(['close', ts, h]),
  };
  p = make(isRequest, ev, midStream);
  let ts = 1;
  for (const x of pieces) {
    if (typeof x === 'number') p.gap(x, ts++);
    else {
      // The segment's buffer is reused after the call, as the decoder's is.
      const copy = new Uint8Array(x.length + 8);
      copy.set(x, 4);
      p.data(copy, 4, x.length, ts++);
      copy.fill(0x41);
    }
  }
  p.end(ts, how);
  out.push(['counts', p.messages, p.notHttpBytes, p.dead]);
  return out;
}

const REQUESTS = [
  'GET / HTTP/1.1\r\nHost: example.com\r\n\r\n',
  'GET /a?b=c HTTP/1.1\r\nHost: a.example\r\nUser-Agent: curl/8.5.0\r\nAccept: */*\r\nConnection: close\r\n\r\n',
  'POST /form HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Type: text/plain\r\n\r\nhello',
  'POST /c HTTP/1.1\r\nTransfer-Encoding: gzip, Chunked\r\n\r\n5;ext=1\r\nhello\r\n0\r\nX-T: 1\r\n\r\n',
  'PUT /up HTTP/1.1\r\nExpect: 100-Continue\r\ncontent-length: 3\r\n\r\nabc',
  'GET  /two-spaces   HTTP/1.0\r\n\r\n',
  'GET /no-version\r\n\r\n',
  'GET /tab\tHTTP/1.1\r\n\r\n',
  'GET /trail HTTP/1.1 \r\n\r\n',
  'get /lower HTTP/1.1\n\n',
  'M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\n\r\n',
  'GET /u HTTP/1.1\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n\r\n',
  'GET /h HTTP/1.1\r\nHost:   spaced.example  \r\nhost: second\r\n  Host : third\r\n: no-name\r\nno colon line\r\nX-Empty:\r\n\r\n',
  'GET /cl HTTP/1.1\r\nContent-Length: 2, 2\r\nContent-Length: 0x10\r\nContent-Length: -1\r\n\r\n',
  'GET /cl2 HTTP/1.1\r\nContent-Length:\r\n\r\n',
  'GET /cl3 HTTP/1.1\r\nContent-Length: 1e1\r\n\r\n0123456789',
  'GET /cl4 HTTP/1.1\r\nContent-Length: 0000000000000000007\r\n\r\n1234567',
  'GET /conn HTTP/1.1\r\nConnection: keep-alive,CLOSE\r\nConnection: closed\r\n\r\n',
  'GET /conn2 HTTP/1.1\r\nConnection: xclose\r\nConnection: close_\r\n\r\n',
  'GET /nbsp HTTP/1.1\r\nHost:\xa0nbsp.example\xa0\r\nX-VT: \x0bv\x0c\r\n\r\n',
  'GET /caf\xe9 HTTP/1.1\r\nHost: h\xf6st\r\nX-\xc4: \xff\r\n\r\n',
  'GET /fold HTTP/1.1\r\nX-Long: a\r\n  b: c\r\n\tContent-Type: folded\r\n\r\n',
  'GET /cr HTTP/1.1\r\r\nHost: cr\r\n\r\n',
  'OPTIONS * HTTP/1.1\r\n\r\n',
  'CONNECT host:443 HTTP/1.1\r\nHost: host:443\r\n\r\n',
  'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n',
  'HEAD /x HTTP/1.1\r\n\r\n',
  `GET /long HTTP/1.1\r\nX-Big: ${'v'.repeat(1500)}\r\nCookie: ${'c=1; '.repeat(400)}\r\n\r\n`,
  `GET /${'p'.repeat(9000)} HTTP/1.1\r\n\r\n`,
  '\r\n\r\nGET /after-crlf HTTP/1.1\r\n\r\n',
  'garbage before\r\nGET /resync HTTP/1.1\r\n\r\n',
];

const RESPONSES = [
  'HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: 5\r\n\r\nhello',
  'HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n',
  'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n',
  'HTTP/1.1 204 No Content\r\n\r\n',
  'HTTP/1.1 304 Not Modified\r\nContent-Length: 50\r\n\r\n',
  'HTTP/1.0 200\r\n\r\nbody until close',
  'HTTP/1.1 200 \r\nContent-Length: 1\r\n\r\nx',
  'HTTP/1.1   503   Service Unavailable\r\nRetry-After: 1\r\nContent-Length: 0\r\n\r\n',
  'HTTP/1.1 2000 Bad\r\n\r\n',
  'HTTP/1.1 200 OK\r\r\nContent-Length: 0\r\n\r\n',
  'HTTP/1.1 200 R\xe9ason \xff\r\nContent-Length: 0\r\n\r\n',
  'HTTP/2.0 200 OK\r\n\r\n',
  'HTTP/1.1 abc\r\n\r\n',
  'HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n\r\n\x00\x00\x12\x04\x00\x00\x00\x00\x00',
  'HTTP/1.1 200 OK\nContent-Length: 2\n\nok',
  'HTTP/1.1 200 OK\r\nX: y\r\n\r\n',
  `HTTP/1.1 200 OK\r\nSet-Cookie: ${'k=v; '.repeat(300)}\r\nContent-Length: 0\r\n\r\n`,
  'HTTP/1.1 200 OK\r\nContent-Type:text/css\r\nContent-Length:3\r\n\r\nabc',
];

/** Pieces of `b`: whole, byte by byte, or random cuts; with `gaps`, some pieces are lost. */
function cut(b: Uint8Array, mode: number, r: () => number, gaps: boolean): (Uint8Array | number)[] {
  const out: (Uint8Array | number)[] = [];
  if (mode === 0) return [b];
  let i = 0;
  while (i < b.length) {
    const n = mode === 1 ? 1 : 1 + Math.floor(r() * (r() < 0.5 ? 8 : 200));
    const piece = b.subarray(i, Math.min(b.length, i + n));
    if (gaps && r() < 0.08) out.push(piece.length);
    else out.push(piece);
    i += n;
  }
  return out;
}

function mutate(s: string, r: () => number): string {
  const noise = ['\r', '\n', ' ', ':', '\t', '\xa0', '\r\n', '\r\n\r\n', 'GET ', 'HTTP/1.1 ', 'close', 'chunked', '0', 'x', '\x0b'];
  const a = [...s];
  const edits = 1 + Math.floor(r() * 4);
  for (let e = 0; e < edits && a.length > 0; e++) {
    const at = Math.floor(r() * a.length);
    const k = r();
    if (k < 0.4) a.splice(at, 0, noise[Math.floor(r() * noise.length)]);
    else if (k < 0.7) a.splice(at, 1);
    else a[at] = String.fromCharCode(Math.floor(r() * 256));
  }
  return a.join('');
}

const bytes = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'latin1'));

describe('HTTP/1.x head parsing on the octets', () => {
  it('gives the events of the text-based parser on every layout, whole, byte by byte and in random pieces', () => {
    const r = rngUnit(10);
    let compared = 0;
    let heads = 0;
    for (const [isRequest, list] of [[true, REQUESTS], [false, RESPONSES]] as const) {
      for (let i = 0; i < list.length; i++) {
        // Each message alone, and followed by the next (keep-alive, pipelining).
        for (const text of [list[i], list[i] + list[(i + 1) % list.length]]) {
          for (let mode = 0; mode < 3; mode++) {
            for (const midStream of [false, true]) {
              const pieces = cut(bytes(text), mode, r, false);
              const want = run(makeRef, isRequest, midStream, pieces, 'fin');
              expect(run(makeNew, isRequest, midStream, pieces, 'fin'), `${JSON.stringify(text.slice(0, 60))} mode ${mode}`).toEqual(want);
              compared++;
              heads += want.filter((e) => (e as unknown[])[0] === 'head').length;
            }
          }
        }
      }
    }
    expect(compared).toBeGreaterThan(250);
    expect(heads).toBeGreaterThan(200);
  });

  it('gives the events of the text-based parser on mutated streams with gaps, resets and the end of capture', () => {
    const r = rngUnit(20260);
    let heads = 0;
    let truncated = 0;
    for (let round = 0; round < 3000; round++) {
      const isRequest = r() < 0.5;
      const list = isRequest ? REQUESTS : RESPONSES;
      let text = '';
      const n = 1 + Math.floor(r() * 4);
      for (let k = 0; k < n; k++) text += list[Math.floor(r() * list.length)];
      if (r() < 0.7) text = mutate(text, r);
      const pieces = cut(bytes(text), Math.floor(r() * 3), r, r() < 0.4);
      const how = (['fin', 'reset', 'eof'] as const)[Math.floor(r() * 3)];
      const midStream = r() < 0.2;
      const want = run(makeRef, isRequest, midStream, pieces, how);
      expect(run(makeNew, isRequest, midStream, pieces, how), `round ${round}: ${JSON.stringify(text.slice(0, 80))}`).toEqual(want);
      for (const e of want as [string, { truncated?: boolean }][]) {
        if (e[0] !== 'head') continue;
        heads++;
        if (e[1].truncated) truncated++;
      }
    }
    expect(heads).toBeGreaterThan(3000);
    expect(truncated).toBeGreaterThan(50);
  });

  it('gives the same exchanges and header lists for a head byte by byte as whole', () => {
    const conn = fakeConnection(3, { ip: '10.0.0.1', port: 40000 }, { ip: '10.0.0.2', port: 80 });
    const exchangesOf = (mode: number): unknown[] => {
      const h = new HttpExchanges();
      const req = bytes(REQUESTS.slice(0, 5).join('') + REQUESTS[12] + REQUESTS[27]);
      const resp = bytes(RESPONSES.slice(0, 5).join('') + RESPONSES[16] + RESPONSES[0]);
      const s = h.detect(conn, true, req, 0, req.length)!;
      const r = rngUnit(mode);
      for (const [sink, b] of [[s.client, req], [s.server, resp]] as const) {
        for (const p of cut(b, mode, r, false)) {
          const copy = Uint8Array.from(p as Uint8Array);
          sink.data(copy, 0, copy.length, 1);
          copy.fill(0x20);
        }
      }
      s.client.end(2, 'fin');
      s.server.end(2, 'fin');
      return h.exchanges;
    };
    const whole = exchangesOf(0);
    expect(whole.length).toBe(7);
    expect((whole[5] as { requestHeaders: unknown }).requestHeaders).toEqual([
      ['Host', 'spaced.example'], ['host', 'second'], ['Host', 'third'], ['X-Empty', ''], // ': no-name' has no name: not a field
    ]);
    expect(exchangesOf(1)).toEqual(whole);
    expect(exchangesOf(2)).toEqual(whole);
  });

  it('reads a head field list during the head event only', () => {
    let seen: HttpHead | null = null;
    const ev: HttpParserEvents = {
      head(h) {
        expect(h.fields).toEqual([['Host', 'a']]);
        seen = h;
      },
      messageEnd() {}, messageAbort() {}, http2Preface() {}, end() {},
    };
    const p = new Http1StreamParser(true, ev);
    const b = bytes('GET / HTTP/1.1\r\nHost: a\r\n\r\n');
    p.data(b, 0, b.length, 1);
    expect(seen!.fields).toEqual([['Host', 'a']]); // read during the event: kept
    let late: HttpHead | null = null;
    const p2 = new Http1StreamParser(true, { ...ev, head(h) { late = h; } });
    p2.data(b, 0, b.length, 1);
    expect(late!.startLine).toBe('GET / HTTP/1.1');
    expect(() => late!.fields).toThrow(/during the head event/);
  });
});
