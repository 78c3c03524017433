import type { HttpRow } from '../../preload/api.js';

/*
 * HAR 1.2 (http://www.softwareishard.com/blog/har-12-spec/) from the HTTP exchanges, so
 * Chrome DevTools or any HAR viewer opens them. Header lists are the ones the engine kept
 * (bounded: main/analysis/header-lists.ts; HTTP/2 and HTTP/3 pseudo-headers included, as
 * Chrome writes them), empty when not kept; bodies are not kept, so sizes come from the byte counts;
 * timings: send 0, wait = time to first byte, receive = the rest of the response.
 * A request without a response gets status 0 and timings -1, as browsers write aborted
 * requests.
 */

export interface Har {
  log: {
    version: '1.2';
    creator: { name: string; version: string };
    pages: [];
    entries: HarEntry[];
  };
}

export interface HarEntry {
  startedDateTime: string;
  time: number;
  request: {
    method: string; url: string; httpVersion: string; cookies: []; headers: { name: string; value: string }[];
    queryString: { name: string; value: string }[]; headersSize: number; bodySize: number;
  };
  response: {
    status: number; statusText: string; httpVersion: string; cookies: []; headers: { name: string; value: string }[];
    content: { size: number; mimeType: string }; redirectURL: string; headersSize: number; bodySize: number;
  };
  cache: Record<string, never>;
  timings: { send: number; wait: number; receive: number };
  serverIPAddress?: string;
  connection?: string;
  comment?: string;
}

const ms = (s: number): number => Math.round(s * 1e6) / 1e3;

function queryString(uri: string): { name: string; value: string }[] {
  const q = uri.indexOf('?');
  if (q < 0) return [];
  return uri.slice(q + 1).split('&').filter(Boolean).map((kv) => {
    const e = kv.indexOf('=');
    return e < 0 ? { name: kv, value: '' } : { name: kv.slice(0, e), value: kv.slice(e + 1) };
  });
}

function harHeaders(list: [string, string][] | null | undefined): { name: string; value: string }[] {
  return (list ?? []).map(([name, value]) => ({ name, value }));
}

export function buildHar(rows: HttpRow[], serverOf: (connectionId: number) => string | null, version: string): Har {
  const entries = rows.map((h): HarEntry => {
    const answered = h.status !== null;
    const wait = h.timeToFirstByte !== null ? ms(h.timeToFirstByte) : -1;
    const total = h.duration !== null ? ms(h.duration) : wait >= 0 ? wait : 0;
    const receive = answered && h.duration !== null && h.timeToFirstByte !== null ? Math.max(0, ms(h.duration - h.timeToFirstByte)) : answered ? 0 : -1;
    const uri = h.uri.startsWith('/') || h.uri === '*' ? h.uri : `/${h.uri}`;
    const url = /^https?:\/\//i.test(h.uri) ? h.uri : `http://${h.host ?? serverOf(h.connectionId) ?? 'unknown'}${uri}`;
    const server = serverOf(h.connectionId);
    const httpVersion = h.protocol === 'h2' ? 'HTTP/2' : h.protocol === 'h3' ? 'HTTP/3' : 'HTTP/1.1';
    return {
      startedDateTime: new Date(h.requestTs * 1000).toISOString(),
      time: Math.max(0, total),
      request: {
        method: h.method, url, httpVersion, cookies: [], headers: harHeaders(h.requestHeaders),
        queryString: queryString(h.uri), headersSize: -1, bodySize: h.requestBytes,
      },
      response: {
        status: h.status ?? 0, statusText: '', httpVersion, cookies: [], headers: harHeaders(h.responseHeaders),
        content: { size: h.responseBytes, mimeType: h.contentType ?? 'x-unknown' }, redirectURL: '', headersSize: -1, bodySize: answered ? h.responseBytes : -1,
      },
      cache: {},
      timings: { send: 0, wait: Math.max(wait, answered ? 0 : -1), receive },
      ...(server ? { serverIPAddress: server } : {}),
      connection: String(h.connectionId),
      ...(h.error ? { comment: `${httpVersion} stream ${h.streamId} ended in error: ${h.error}` } : answered ? {} : { comment: 'no response in the capture' }),
    };
  });
  return { log: { version: '1.2', creator: { name: 'Tapscope', version }, pages: [], entries } };
}
