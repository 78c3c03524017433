import { describe, expect, it } from 'vitest';
import { HttpExchanges, duration, timeToFirstByte } from '../../main/analysis/http-exchanges.js';
import type { Connection } from '../../main/analysis/types.js';
import { fakeConnection } from './fake-connection.js';
import type { AppStreams } from '../../main/reassembly/tcp-streams.js';

/*
 * HTTP/1.x framing and pairing on hand-built byte streams: each case is a message layout
 * RFC 9112 defines (the corpus comparison with tshark is protocols-vs-tshark.ts).
 */

function conn(port = 80): Connection {
  return fakeConnection(7, { ip: '10.0.0.1', port: 40000 }, { ip: '10.0.0.2', port });
}

/** A connection whose first client bytes are `first`; returns the analyser and both sinks. */
function open(first: string, port = 80): { h: HttpExchanges; s: AppStreams; c: (t: string, ts: number) => void; r: (t: string, ts: number) => void } {
  const h = new HttpExchanges();
  const b = Buffer.from(first, 'latin1');
  const s = h.detect(conn(port), true, b, 0, b.length);
  if (!s) throw new Error('not detected');
  const send = (sink: AppStreams['client']) => (t: string, ts: number) => {
    const x = Buffer.from(t, 'latin1');
    sink.data(x, 0, x.length, ts);
  };
  return { h, s, c: send(s.client), r: send(s.server) };
}

describe('HTTP/1.x exchanges', () => {
  it('pairs pipelined requests in order with Content-Length and chunked responses', () => {
    const req = 'GET /a HTTP/1.1\r\nHost: example.com\r\n\r\nGET /b HTTP/1.1\r\nHost: example.com:8080\r\n\r\n';
    const { h, c, r } = open(req);
    c(req, 1);
    r('HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 5\r\n\r\nhel', 2);
    r('loHTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n', 3);
    r('0\r\n\r\n', 4);
    const [a, b] = h.exchanges;
    expect([a.method, a.uri, a.host, a.status, a.contentType, a.responseBodyBytes]).toEqual(['GET', '/a', 'example.com', 200, 'text/html', 5]);
    expect([a.requestTs, a.responseTs, a.responseEndTs]).toEqual([1, 2, 3]);
    expect([b.uri, b.host, b.status, b.responseTs, b.responseEndTs]).toEqual(['/b', 'example.com:8080', 404, 3, 4]);
    expect(b.responseBodyBytes).toBe('3\r\nabc\r\n0\r\n\r\n'.length);
    expect(timeToFirstByte(a)).toBe(1);
    expect(duration(b)).toBe(3);
    expect(h.json()[0]).toMatchObject({ connectionId: 7, method: 'GET', status: 200, requestBytes: 38, responseBytes: a.responseHeaderBytes + 5 });
    expect(a.responseHeaderBytes).toBe('HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 5\r\n\r\n'.length);
  });

  it('gives HEAD, 1xx, 204 and 304 responses no body', () => {
    const req = 'HEAD /x HTTP/1.1\r\n\r\n';
    const { h, c, r } = open(req);
    c(req + 'GET /y HTTP/1.1\r\n\r\nGET /z HTTP/1.1\r\n\r\n', 1);
    r('HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n', 2);
    r('HTTP/1.1 204 No Content\r\n\r\n', 3);
    r('HTTP/1.1 304 Not Modified\r\nContent-Length: 50\r\n\r\n', 4);
    expect(h.exchanges.map((x) => [x.method, x.status, x.responseEndTs, x.responseBodyBytes])).toEqual([
      ['HEAD', 200, 2, 0], ['GET', 204, 3, 0], ['GET', 304, 4, 0],
    ]);
  });

  it('keeps 100 Continue as interim and pairs the final response; body sent after it', () => {
    const head = 'POST /up HTTP/1.1\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n';
    const { h, c, r } = open(head);
    c(head, 1);
    r('HTTP/1.1 100 Continue\r\n\r\n', 2);
    c('data', 3);
    r('HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n', 4);
    const [x] = h.exchanges;
    expect([x.status, x.interim, x.requestEndTs, x.requestBodyBytes, x.responseTs]).toEqual([201, [100], 3, 4, 4]);
    expect(timeToFirstByte(x)).toBe(1);
  });

  it('reads a response without length until the connection closes', () => {
    const req = 'GET / HTTP/1.0\r\n\r\n';
    const { h, s, c, r } = open(req);
    c(req, 1);
    r('HTTP/1.0 200 OK\r\n\r\nsome', 2);
    r(' body', 3);
    s.server.end(5, 'fin');
    const [x] = h.exchanges;
    expect([x.status, x.responseBodyBytes, x.responseEndTs, x.noResponse]).toEqual([200, 9, 5, null]);
  });

  it('flags requests that never got a response, with the reason', () => {
    const req = 'GET /1 HTTP/1.1\r\n\r\nGET /2 HTTP/1.1\r\n\r\n';
    const { h, s, c, r } = open(req);
    c(req, 1);
    r('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n', 2);
    s.server.end(3, 'reset');
    expect(h.exchanges.map((x) => [x.uri, x.status, x.noResponse])).toEqual([['/1', 200, null], ['/2', null, 'reset']]);
    expect(h.json()[1]).toMatchObject({ status: null, responseTs: null, timeToFirstByte: null, duration: null });
  });

  it('notes an Upgrade and stops parsing after 101', () => {
    const req = 'GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n';
    const { h, c, r } = open(req);
    c(req, 1);
    r('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n\x81\x05hello', 2);
    c('\x81\x85GET / HTTP/1.1\r\n\r\n', 3); // frames, even if they look like HTTP
    expect(h.exchanges.map((x) => [x.status, x.upgrade])).toEqual([[101, 'websocket']]);
  });

  it('recognises the HTTP/2 cleartext preface instead of misparsing it', () => {
    const pre = 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x12\x04\x00';
    const { h, c, r } = open(pre);
    c(pre, 1);
    r('\x00\x00\x00\x04\x01\x00\x00\x00\x00', 2);
    expect(h.exchanges).toEqual([]);
    expect(h.http2Connections).toEqual([{ connectionId: 7, ts: 1 }]);
  });

  it('counts a gap inside a body of known length and keeps framing', () => {
    const req = 'GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\n';
    const { h, s, c, r } = open(req);
    c(req, 1);
    r('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n12', 2);
    s.server.gap(6, 3);
    r('90HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n', 4);
    expect(h.exchanges.map((x) => [x.uri, x.status, x.responseGapBytes, x.responseEndTs])).toEqual([['/a', 200, 6, 4], ['/b', 200, 0, 4]]);
  });

  it('resynchronises at the next message after a gap in the headers', () => {
    const req = 'GET /a HTTP/1.1\r\n\r\n';
    const { h, s, c, r } = open(req);
    c(req, 1);
    r('HTTP/1.1 200 OK\r\nContent-Le', 2);
    s.server.gap(100, 3);
    r('garbage tail of something\r\n', 3);
    c('GET /b HTTP/1.1\r\n\r\n', 4);
    r('HTTP/1.1 302 Found\r\nContent-Length: 0\r\n\r\n', 5);
    // The cut head still yields its status line; the next response pairs with /b.
    expect(h.exchanges.map((x) => [x.uri, x.status])).toEqual([['/a', 200], ['/b', 302]]);
  });

  it('picks up a capture that starts mid-stream on an HTTP port', () => {
    const { h, c, r } = open('dy of a previous POST\r\n');
    c('dy of a previous POST\r\nGET /next HTTP/1.1\r\nHost: h\r\n\r\n', 1);
    r('tail of a body\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok', 2);
    expect(h.exchanges.map((x) => [x.method, x.uri, x.status])).toEqual([['GET', '/next', 200]]);
  });

  it('does not claim non-HTTP connections on other ports', () => {
    const h = new HttpExchanges();
    const b = Buffer.from('\x16\x03\x01\x00\x05hello');
    expect(h.detect(conn(5555), true, b, 0, b.length)).toBeNull();
  });
});
