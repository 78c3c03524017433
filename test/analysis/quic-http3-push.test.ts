import { describe, expect, it } from 'vitest';
import { Http3Connection } from '../../main/analysis/http3-exchanges.js';
import type { HttpExchange } from '../../main/analysis/http-exchanges.js';
import { QPACK_STATIC_TABLE } from '../../main/parsers/qpack.js';
import { rngUint32 } from '../helpers/rng.js';

/*
 * HTTP/3 server push (RFC 9114 §4.6): a PUSH_PROMISE (frame 0x05: push ID, field section) on a
 * request stream, and a push stream (unidirectional type 0x01: push ID, then HEADERS and DATA)
 * make one exchange per push ID, `upgrade: "push"` as for HTTP/2, whichever arrives first;
 * RESET_STREAM of a push stream carries its H3 error. No HTTP/3 implementation on this machine
 * pushes (ngtcp2 0.12's examples do not, browsers never did over HTTP/3), so the streams are
 * spelled here from the RFC's layouts: QPACK field lines (RFC 9204 §4.5, as in its Appendix B.1)
 * on the static table, fed to the HTTP/3 side of a QUIC connection as STREAM frame payloads.
 */

const varint = (v: number): number[] => (v < 64 ? [v] : v < 16384 ? [0x40 | (v >> 8), v & 0xff] : [0x80 | (v >>> 24), (v >> 16) & 0xff, (v >> 8) & 0xff, v & 0xff]);
const ascii = (s: string) => [...Buffer.from(s)];

/** A QPACK integer with an N-bit prefix (RFC 7541 §5.1, RFC 9204 §4.1.1) under `flags`. */
function qint(flags: number, n: number, v: number): number[] {
  const max = (1 << n) - 1;
  if (v < max) return [flags | v];
  const out = [flags | max];
  for (v -= max; v >= 128; v >>= 7) out.push((v & 0x7f) | 0x80);
  out.push(v);
  return out;
}

/** A field section on the static table only: Required Insert Count 0, Base 0, then each line. */
function section(fields: [string, string][]): number[] {
  const out = [0x00, 0x00];
  for (const [name, value] of fields) {
    const exact = QPACK_STATIC_TABLE.findIndex(([n, v]) => n === name && v === value);
    if (exact >= 0) {
      out.push(...qint(0xc0, 6, exact)); // §4.5.2 indexed field line, T=1 (static)
      continue;
    }
    const byName = QPACK_STATIC_TABLE.findIndex(([n]) => n === name);
    expect(byName).toBeGreaterThanOrEqual(0);
    out.push(...qint(0x50, 4, byName), ...qint(0x00, 7, value.length), ...ascii(value)); // §4.5.4 literal with name reference, T=1, no Huffman
  }
  return out;
}

const frame = (type: number, payload: number[]) => [...varint(type), ...varint(payload.length), ...payload];
const HEADERS = 0x01;
const DATA = 0x00;
const PUSH_PROMISE = 0x05;
const request = (path: string) => section([[':method', 'GET'], [':scheme', 'https'], [':authority', 'example.com'], [':path', path]]);

function connection(): { h3: Http3Connection; out: HttpExchange[] } {
  const out: HttpExchange[] = [];
  return { h3: new Http3Connection(7, '192.0.2.1', 443, (x) => out.push(x)), out };
}

/** Feeds bytes as STREAM frames of `chunk` bytes (the last with FIN when `fin`). */
function send(h3: Http3Connection, id: number, fromClient: boolean, bytes: number[], ts: number, chunk = bytes.length, fin = true): void {
  const b = Uint8Array.from(bytes);
  for (let o = 0; o < b.length; o += chunk) {
    const n = Math.min(chunk, b.length - o);
    h3.streamData(id, fromClient, o, b, o, n, fin && o + n === b.length, ts);
  }
}

describe('HTTP/3 server push', () => {
  it('a promise then its push stream; a push stream before its promise, reset by the client', () => {
    const { h3, out } = connection();
    send(h3, 0, true, frame(HEADERS, request('/index.html')), 1.0);
    // Server on request stream 0: PUSH_PROMISE push 0 (/style.css), PUSH_PROMISE push 1 comes later; the response.
    send(h3, 0, false, [...frame(PUSH_PROMISE, [...varint(0), ...request('/style.css')]), ...frame(HEADERS, section([[':status', '200']])), ...frame(DATA, ascii('hello'))], 1.1, undefined, false);
    // Push stream 3 (server-initiated unidirectional) for push 0, one byte per STREAM frame.
    send(h3, 3, false, [0x01, ...varint(0), ...frame(HEADERS, section([[':status', '200'], ['content-type', 'text/css']])), ...frame(DATA, ascii('body{x:1}\n'))], 1.2, 1);
    // Push stream 7 for push 1 arrives before its promise; the client cancels it.
    send(h3, 7, false, [0x01, ...varint(1), ...frame(HEADERS, section([[':status', '200']]))], 1.3, undefined, false);
    const promise1 = frame(PUSH_PROMISE, [...varint(1), ...request('/app.js')]);
    const b = Uint8Array.from(promise1);
    h3.streamData(0, false, frame(PUSH_PROMISE, [...varint(0), ...request('/style.css')]).length + frame(HEADERS, section([[':status', '200']])).length + frame(DATA, ascii('hello')).length, b, 0, b.length, true, 1.4);
    h3.resetStream(7, true, 0x10c, 1.5);
    h3.finish();

    expect(out.map((x) => [x.streamId, x.upgrade, x.method, x.host, x.uri, x.status, x.error ?? null, x.errorBy ?? null])).toEqual([
      [0, null, 'GET', 'example.com', '/index.html', 200, null, null],
      [3, 'push', 'GET', 'example.com', '/style.css', 200, null, null],
      [7, 'push', 'GET', 'example.com', '/app.js', 200, 'RESET_STREAM H3_REQUEST_CANCELLED', 'client'],
    ]);
    const [page, css, js] = out;
    expect([page.responseBodyBytes, page.responseEndTs]).toEqual([5, 1.4]);
    expect([css.requestTs, css.requestEndTs, css.responseTs, css.responseEndTs, css.contentType, css.responseBodyBytes]).toEqual([1.1, 1.1, 1.2, 1.2, 'text/css', 10]);
    expect(css.requestHeaders).toEqual([[':method', 'GET'], [':scheme', 'https'], [':authority', 'example.com'], [':path', '/style.css']]);
    expect(css.responseHeaders).toEqual([[':status', '200'], ['content-type', 'text/css']]);
    expect([js.requestTs, js.responseTs, js.noResponse]).toEqual([1.4, 1.3, null]);
    expect(h3.errors).toEqual([]);
  });

  it('a promise whose push stream never comes is waiting at the end of the capture; pushes are bounded', () => {
    const { h3, out } = connection();
    send(h3, 0, true, frame(HEADERS, request('/')), 1.9);
    send(h3, 0, false, frame(PUSH_PROMISE, [...varint(5), ...request('/never')]), 2.0, undefined, false);
    for (let i = 0; i < 300; i++) send(h3, 3 + 4 * (i + 1), false, [0x01, ...varint(100 + i), ...frame(HEADERS, section([[':status', '204']]))], 3.0, undefined, false);
    h3.finish();
    expect([out[1].uri, out[1].upgrade, out[1].status, out[1].noResponse, out[1].streamId]).toEqual(['/never', 'push', null, 'capture-ended', null]);
    expect(out.length).toBeLessThanOrEqual(1 + 256);
    expect(h3.dropped).toBeGreaterThan(0);
  });

  it('CANCEL_PUSH on the client\'s control stream cancels a promised push', () => {
    const { h3, out } = connection();
    send(h3, 0, true, frame(HEADERS, request('/')), 1.0);
    send(h3, 0, false, frame(PUSH_PROMISE, [...varint(9), ...request('/unwanted.js')]), 1.1, undefined, false);
    // Client control stream (id 2): stream type 0x00, SETTINGS (empty), then CANCEL_PUSH(9) (§7.2.3).
    send(h3, 2, true, [0x00, ...frame(0x04, []), ...frame(0x03, varint(9))], 1.2, undefined, false);
    h3.finish();
    expect(out.map((x) => [x.uri, x.upgrade, x.error, x.errorBy, x.noResponse])).toEqual([['/', null, null, undefined, 'capture-ended'], ['/unwanted.js', 'push', 'CANCEL_PUSH', 'client', null]]);
  });

  it('cut and mutated push streams and promises: no throw, bounded', () => {
    const next = rngUint32(912);
    const good = [0x01, ...varint(0), ...frame(HEADERS, section([[':status', '200'], ['content-type', 'text/css']])), ...frame(DATA, ascii('abc'))];
    const promise = frame(PUSH_PROMISE, [...varint(0), ...request('/a')]);
    for (let round = 0; round < 500; round++) {
      const { h3, out } = connection();
      const mutate = (a: number[]) => a.slice(0, next() % (a.length + 1)).map((x) => (next() % 8 === 0 ? next() & 0xff : x));
      send(h3, 0, false, mutate(promise), 1, 1 + (next() % 5), false);
      send(h3, 3, false, mutate(good), 2, 1 + (next() % 5));
      h3.finish();
      expect(out.length).toBeLessThanOrEqual(3); // request stream 0, the promised push, the push stream's (if its push ID was mutated)
    }
  });
});
