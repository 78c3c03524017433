import { duration, exchangeJson, timeToFirstByte, type HttpExchange, type HttpExchanges } from '../analysis/http-exchanges.js';
import { MAX_NUMBER, asciiBytes, putBytes, putNum, type JsonOut } from './json-out.js';

/*
 * The `http` array of the JSON report (README "JSON output") written field by field into
 * the output's octets: element i is the text of JSON.stringify(http.jsonAt(i))
 * (exchangeJson in analysis/http-exchanges.ts stays the reference shape), without the
 * second object per exchange and its string. Exchanges are read with the store's public
 * `at` (HttpExchangeStore, which builds settled ones from its columns). Strings that need
 * no escaping (printable ASCII without `"` and `\`: methods, hosts, URIs, almost all
 * header fields) are copied as they are; any other goes through JSON.stringify.
 * test/engine/connection-json-writer.test.ts compares the whole document with
 * JSON.stringify on every corpus capture.
 */

/** The keys exchangeJson gives, in its order: the writer checks them before trusting its own layout. */
const KEYS = [
  'connectionId', 'method', 'host', 'uri', 'status', 'requestTs', 'responseTs', 'timeToFirstByte', 'duration',
  'requestBytes', 'responseBytes', 'contentType', 'protocol', 'streamId', 'error', 'requestHeaders', 'responseHeaders',
];
const K = KEYS.map((k, i) => asciiBytes(`${i === 0 ? '{' : ','}${JSON.stringify(k)}:`));
const NULL = asciiBytes('null');
const HTTP11 = asciiBytes('"http/1.1"');

/** Writes http.jsonAt(i) of every exchange, comma-separated, into o. */
export function writeHttpJson(o: JsonOut, http: HttpExchanges): void {
  const store = http.store;
  if (store.count === 0) return;
  const own = sameKeys(http.jsonAt(0));
  for (let i = 0; i < store.count; i++) {
    if (i > 0) o.byte(0x2c); // ,
    if (!own) {
      o.text(JSON.stringify(http.jsonAt(i)));
      continue;
    }
    const x = store.at(i);
    if (plain(x)) writeExchange(o, x);
    else o.text(JSON.stringify(exchangeJson(x)));
  }
}

function sameKeys(j: Record<string, unknown>): boolean {
  const keys = Object.keys(j);
  return keys.length === KEYS.length && keys.every((k, i) => k === KEYS[i]);
}

const str = (v: unknown): boolean => v === null || typeof v === 'string';
const numOrNull = (v: unknown): boolean => v === null || typeof v === 'number';

/** The exchange's fields are of the types writeExchange writes (else JSON.stringify writes it). */
function plain(x: HttpExchange): boolean {
  return typeof x.connectionId === 'number' && str(x.method) && str(x.host) && str(x.uri) && numOrNull(x.status)
    && numOrNull(x.requestTs) && numOrNull(x.responseTs) && typeof x.requestHeaderBytes === 'number'
    && typeof x.requestBodyBytes === 'number' && typeof x.responseHeaderBytes === 'number' && typeof x.responseBodyBytes === 'number'
    && str(x.contentType) && (x.protocol === undefined || typeof x.protocol === 'string')
    && (x.streamId === undefined || numOrNull(x.streamId)) && (x.error === undefined || str(x.error))
    && headersPlain(x.requestHeaders) && headersPlain(x.responseHeaders);
}

function headersPlain(h: unknown): boolean {
  if (h === undefined || h === null) return true;
  if (!Array.isArray(h)) return false;
  for (const f of h) if (!Array.isArray(f) || f.length !== 2 || typeof f[0] !== 'string' || typeof f[1] !== 'string') return false;
  return true;
}

function writeExchange(o: JsonOut, x: HttpExchange): void {
  number(o, K[0], x.connectionId);
  string(o, K[1], x.method);
  string(o, K[2], x.host);
  string(o, K[3], x.uri);
  number(o, K[4], x.status);
  number(o, K[5], x.requestTs);
  number(o, K[6], x.responseTs);
  number(o, K[7], timeToFirstByte(x));
  number(o, K[8], duration(x));
  number(o, K[9], x.requestHeaderBytes + x.requestBodyBytes);
  number(o, K[10], x.responseHeaderBytes + x.responseBodyBytes);
  string(o, K[11], x.contentType);
  if (x.protocol === undefined) {
    o.bytes(K[12]);
    o.bytes(HTTP11);
  } else string(o, K[12], x.protocol);
  number(o, K[13], x.streamId ?? null);
  string(o, K[14], x.error ?? null);
  headers(o, K[15], x.requestHeaders ?? null);
  headers(o, K[16], x.responseHeaders ?? null);
  o.byte(0x7d); // }
}

function number(o: JsonOut, key: Uint8Array, v: number | null): void {
  o.room(key.length + MAX_NUMBER);
  const p = putBytes(o.buf, o.pos, key);
  o.pos = v === null ? putBytes(o.buf, p, NULL) : putNum(o.buf, p, v);
}

function string(o: JsonOut, key: Uint8Array, v: string | null): void {
  o.bytes(key);
  if (v === null) o.bytes(NULL);
  else putString(o, v);
}

/** A header list: JSON.stringify's native escaping beats a loop over its characters here. */
function headers(o: JsonOut, key: Uint8Array, list: [string, string][] | null): void {
  o.bytes(key);
  if (list === null) o.bytes(NULL);
  else o.text(JSON.stringify(list));
}

/** JSON.stringify(s) into o: copied when every code unit is printable ASCII other than `"` and `\`. */
export function putString(o: JsonOut, s: string): void {
  const n = s.length;
  if (n + 2 <= 4096) {
    o.room(n + 2);
    const b = o.buf;
    const start = o.pos;
    let p = start;
    b[p++] = 0x22;
    let i = 0;
    for (; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c < 0x20 || c > 0x7e || c === 0x22 || c === 0x5c) break;
      b[p++] = c;
    }
    if (i === n) {
      b[p++] = 0x22;
      o.pos = p;
      return;
    }
  }
  o.text(JSON.stringify(s));
}
