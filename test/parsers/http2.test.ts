import { describe, expect, it } from 'vitest';
import { Http2Exchanges } from '../../main/analysis/http2-exchanges.js';
import { MAX_HEADER_OCTETS_TOTAL } from '../../main/analysis/header-lists.js';
import { HttpExchanges, type HttpExchange } from '../../main/analysis/http-exchanges.js';
import { CLIENT_PREFACE, MAX_HEADER_BLOCK, MAX_OPEN_STREAMS } from '../../main/parsers/http2.js';
import { capture, decodeAsFor } from '../helpers/captures.js';
import { rngUint32 } from '../helpers/rng.js';
import { httpRow } from '../../main/services/rows.js';
import { buildHar } from '../../main/services/har.js';
import { fakeConnection } from './fake-connection.js';
import { compareHttp2, tapscopeHttp2 } from './http2-oracle.js';

/*
 * HTTP/2 framing and streams: the corpus h2c capture against tshark, then hand-built frame
 * sequences for each rule of RFC 9113 the exchanges depend on, then bad input.
 */

const H2C = 'http2-cleartext-hpack-headers-port3000.pcapng';

describe('HTTP/2 on the corpus capture vs tshark', () => {
  it(`${H2C}: frames, header fields and streams match tshark; the MANIFEST's requests`, () => {
    const got = compareHttp2(capture(H2C), 3000, decodeAsFor(H2C).tshark);
    expect(got).toEqual({ frames: 19, streams: 6, fields: 48 });
    const { exchanges, session } = tapscopeHttp2(capture(H2C));
    expect(exchanges.map((x) => [x.streamId, x.method, x.host, x.uri, x.status])).toEqual([
      [1, 'GET', 'localhost:3000', '/doc/manual/html/index.html', 200],
      [3, 'GET', 'localhost:3000', '/doc/manual/html/_static/css/theme.css', null],
      [5, 'GET', 'localhost:3000', '/doc/manual/html/_static/jquery.js', null],
      [7, 'GET', 'localhost:3000', '/doc/manual/html/_static/underscore.js', null],
      [9, 'GET', 'localhost:3000', '/doc/manual/html/_static/doctools.js', null],
      [11, 'GET', 'localhost:3000', '/doc/manual/html/_static/js/theme.js', null],
    ]);
    // The capture stops before the CSS and JS responses: those requests were still waiting.
    expect(exchanges.slice(1).every((x) => x.noResponse === 'capture-ended')).toBe(true);
    const first = exchanges[0];
    expect(first.responseBodyBytes).toBe(Number(first.responseHeaders!.find(([n]) => n === 'content-length')![1]));
    expect(first.responseHeaders!.find(([n]) => n === 'server')![1]).toBe('nghttpd nghttp2/0.5.2-DEV');
    expect(session.app.http.http2Connections.length).toBe(1);
  });
});

describe('HTTP/2 over TLS in the corpus (keys in the capture) vs tshark', () => {
  const QUIC_H2 = 'quic-v1-chrome-cloudflare-keys-in-pcapng-dsb.pcapng';
  it(`${QUIC_H2}: the HTTP/2 half (tcp stream 0, stream 1) decrypted with the DSB keys`, () => {
    // tshark reads the same Decryption Secrets Blocks; MANIFEST: stream 1 in frames 12, 19 … 44.
    expect(compareHttp2(capture(QUIC_H2), 443, [])).toEqual({ frames: 12, streams: 1, fields: 24 });
    const { exchanges, session } = tapscopeHttp2(capture(QUIC_H2));
    expect(exchanges.map((x) => [x.streamId, x.method, x.host, x.uri, x.status, x.protocol])).toEqual([[1, 'GET', 'cloudflare-quic.com', '/', 200, 'h2']]);
    // Not clear text: no h2c finding for it.
    const report = session.report({ path: QUIC_H2, format: 'pcapng', interfaces: [], comments: [] });
    expect((report.findings as { kind: string }[]).some((f) => f.kind === 'http.h2c')).toBe(false);
  });
});

// ---- hand-built frames -------------------------------------------------------------------

const T = { DATA: 0, HEADERS: 1, PRIORITY: 2, RST: 3, SETTINGS: 4, PUSH: 5, PING: 6, GOAWAY: 7, WINDOW: 8, CONT: 9 };
const F = { END_STREAM: 1, ACK: 1, END_HEADERS: 4, PADDED: 8, PRIORITY: 0x20 };

function frame(type: number, flags: number, stream: number, payload: Uint8Array | number[] = []): Buffer {
  const p = Buffer.from(payload);
  const h = Buffer.alloc(9);
  h.writeUIntBE(p.length, 0, 3);
  h[3] = type;
  h[4] = flags;
  h.writeUInt32BE(stream, 5);
  return Buffer.concat([h, p]);
}

/** HPACK literal field without indexing, new name (RFC 7541 §6.2.2), short strings only. */
function lit(name: string, value: string): Buffer {
  return Buffer.concat([Buffer.from([0, name.length]), Buffer.from(name), Buffer.from([value.length]), Buffer.from(value)]);
}
const block = (...fields: [string, string][]) => Buffer.concat(fields.map(([n, v]) => lit(n, v)));
const u32 = (n: number) => [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255];
const req = (path: string) => block([':method', 'GET'], [':scheme', 'http'], [':authority', 'example.test'], [':path', path]);
const resp = (status: number, type = 'text/plain') => block([':status', String(status)], ['content-type', type]);

function connection() {
  const xs: HttpExchange[] = [];
  const h2 = new Http2Exchanges((x) => xs.push(x));
  const c = h2.connection(fakeConnection(3, { ip: '10.0.0.1', port: 50000 }, { ip: '10.0.0.2', port: 8080 }));
  const send = (sink: typeof c.client) => (ts: number, ...bufs: Buffer[]) => {
    const b = Buffer.concat(bufs);
    sink.data(b, 0, b.length, ts);
  };
  return { xs, c, h2, summary: c.summary, client: send(c.client), server: send(c.server) };
}

describe('HTTP/2 streams from hand-built frames', () => {
  it('a request and response with padding, PRIORITY, CONTINUATION, interim 103 and trailers', () => {
    const { xs, c, client, server } = connection();
    const hb = req('/a');
    client(1, CLIENT_PREFACE, frame(T.SETTINGS, 0, 0),
      // HEADERS padded (3 octets) with a priority block, split at 10 octets into a CONTINUATION.
      frame(T.HEADERS, F.PADDED | F.PRIORITY | F.END_STREAM, 1, [3, ...u32(0), 16, ...hb.subarray(0, 10), 0, 0, 0]),
      frame(T.CONT, F.END_HEADERS, 1, hb.subarray(10)));
    server(2, frame(T.SETTINGS, 0, 0), frame(T.HEADERS, F.END_HEADERS, 1, block([':status', '103'], ['link', '</s.css>'])));
    server(3, frame(T.HEADERS, F.END_HEADERS, 1, resp(200)), frame(T.DATA, F.PADDED, 1, [4, ...Buffer.from('hello'), 0, 0, 0, 0]));
    server(4, frame(T.DATA, 0, 1, Buffer.from('!!')), frame(T.HEADERS, F.END_HEADERS | F.END_STREAM, 1, block(['grpc-status', '0'])));
    const [x] = xs;
    expect([x.method, x.host, x.uri, x.status, x.interim, x.contentType, x.protocol, x.streamId]).toEqual(['GET', 'example.test', '/a', 200, [103], 'text/plain', 'h2', 1]);
    expect([x.requestTs, x.requestEndTs, x.responseTs, x.responseEndTs]).toEqual([1, 1, 3, 4]);
    expect([x.requestBodyBytes, x.responseBodyBytes, x.requestFrames, x.responseFrames]).toEqual([0, 7, 2, 5]);
    expect(x.requestHeaderBytes).toBe(9 + 1 + 5 + 10 + 3 + 9 + hb.length - 10); // pad length, priority, fragment, padding; CONTINUATION
    expect(x.requestHeaders).toEqual([[':method', 'GET'], [':scheme', 'http'], [':authority', 'example.test'], [':path', '/a']]);
    expect([x.error, x.noResponse]).toEqual([null, null]);
    expect(c.summary.errors).toEqual([]);
    expect(c.h2.openStreams).toBe(0);
  });

  it('bytes arriving one at a time give the same exchange', () => {
    const whole = connection();
    const split = connection();
    const cl = Buffer.concat([CLIENT_PREFACE, frame(T.HEADERS, F.END_HEADERS, 1, req('/one')), frame(T.DATA, F.END_STREAM, 1, Buffer.from('body'))]);
    const sv = Buffer.concat([frame(T.HEADERS, F.END_HEADERS, 1, resp(201)), frame(T.DATA, F.END_STREAM | F.PADDED, 1, [2, 1, 2, 3, 0, 0])]);
    whole.client(1, cl);
    whole.server(2, sv);
    for (let i = 0; i < cl.length; i++) split.c.client.data(cl, i, 1, 1);
    for (let i = 0; i < sv.length; i++) split.c.server.data(sv, i, 1, 2);
    expect(split.xs).toEqual(whole.xs);
    expect(whole.xs[0].responseBodyBytes).toBe(3);
    expect(whole.xs[0].requestBodyBytes).toBe(4);
  });

  it('RST_STREAM: an error with its code and sender; NO_ERROR after a complete response is not one', () => {
    const { xs, client, server } = connection();
    client(1, CLIENT_PREFACE, frame(T.HEADERS, F.END_HEADERS | F.END_STREAM, 1, req('/r')), frame(T.HEADERS, F.END_HEADERS, 3, req('/upload')));
    server(2, frame(T.RST, 0, 1, u32(2)));
    // §8.1: the server answers /upload before its body is done, then stops the upload with NO_ERROR.
    server(3, frame(T.HEADERS, F.END_HEADERS | F.END_STREAM, 3, resp(413)), frame(T.RST, 0, 3, u32(0)));
    client(4, frame(T.HEADERS, F.END_HEADERS | F.END_STREAM, 5, req('/c')), frame(T.RST, 0, 5, u32(8)));
    expect(xs.map((x) => [x.uri, x.status, x.error, x.errorBy ?? null, x.noResponse])).toEqual([
      ['/r', null, 'RST_STREAM INTERNAL_ERROR', 'server', 'reset'],
      ['/upload', 413, null, null, null],
      ['/c', null, 'RST_STREAM CANCEL', 'client', 'reset'],
    ]);
  });

  it('GOAWAY: streams above last-stream-id are refused; with an error code, the unfinished rest carry it at the end', () => {
    const { xs, c, client, server } = connection();
    client(1, CLIENT_PREFACE, ...[1, 3, 5, 7].map((id) => frame(T.HEADERS, F.END_HEADERS | F.END_STREAM, id, req(`/${id}`))));
    server(2, frame(T.HEADERS, F.END_HEADERS | F.END_STREAM, 1, resp(200)), frame(T.GOAWAY, 0, 0, [...u32(3), ...u32(11), ...Buffer.from('calm down')]));
    c.server.end(3, 'fin');
    expect(xs.map((x) => [x.streamId, x.status, x.error, x.noResponse])).toEqual([
      [1, 200, null, null],
      [3, null, 'GOAWAY ENHANCE_YOUR_CALM', 'closed'], // accepted, then the connection ended without its answer
      [5, null, 'GOAWAY ENHANCE_YOUR_CALM', 'reset'], // refused: never processed
      [7, null, 'GOAWAY ENHANCE_YOUR_CALM', 'reset'],
    ]);
    expect(c.summary.goaway).toEqual({ fromClient: false, lastStreamId: 3, error: 'ENHANCE_YOUR_CALM', ts: 2 });
    // A graceful GOAWAY (NO_ERROR) only refuses the streams above last-stream-id.
    const g = connection();
    g.client(1, CLIENT_PREFACE, frame(T.HEADERS, F.END_HEADERS | F.END_STREAM, 1, req('/a')), frame(T.HEADERS, F.END_HEADERS | F.END_STREAM, 3, req('/b')));
    g.server(2, frame(T.GOAWAY, 0, 0, [...u32(1), ...u32(0)]), frame(T.HEADERS, F.END_HEADERS | F.END_STREAM, 1, resp(200)));
    g.c.server.end(3, 'fin');
    expect(g.xs.map((x) => [x.streamId, x.status, x.error, x.noResponse])).toEqual([[1, 200, null, null], [3, null, 'GOAWAY NO_ERROR', 'reset']]);
  });

  it('flow control: a zero window stalls the stream until WINDOW_UPDATE; SETTINGS_INITIAL_WINDOW_SIZE applies by difference', () => {
    const { xs, c, client, server } = connection();
    // The client allows 100 octets per stream; the connection window stays 65535.
    client(1, CLIENT_PREFACE, frame(T.SETTINGS, 0, 0, [0, 4, ...u32(100)]), frame(T.HEADERS, F.END_HEADERS | F.END_STREAM, 1, req('/w')));
    server(2, frame(T.HEADERS, F.END_HEADERS, 1, resp(200)), frame(T.DATA, 0, 1, Buffer.alloc(100)));
    expect(xs[0].flowControlStalls).toBe(0); // stalled, not yet resumed
    client(2.5, frame(T.WINDOW, 0, 1, u32(50)));
    server(3, frame(T.DATA, 0, 1, Buffer.alloc(50)));
    // Raising the initial window by 30 reopens the stream (§6.9.2) without a WINDOW_UPDATE.
    client(4, frame(T.SETTINGS, 0, 0, [0, 4, ...u32(130)]));
    server(5, frame(T.DATA, F.END_STREAM, 1, Buffer.alloc(30)));
    expect([xs[0].flowControlStalls, xs[0].flowControlStallSeconds, xs[0].responseBodyBytes]).toEqual([1, 0.5, 180]);
    expect(c.h2.serverConnWindow).toBe(65535 - 180);
    // The connection window: 65535 octets over two streams, reopened by WINDOW_UPDATE on stream 0.
    const k = connection();
    k.client(1, CLIENT_PREFACE, frame(T.SETTINGS, 0, 0, [0, 4, ...u32(1 << 20)]), frame(T.HEADERS, F.END_HEADERS | F.END_STREAM, 1, req('/x')));
    k.server(2, frame(T.HEADERS, F.END_HEADERS, 1, resp(200)), frame(T.DATA, 0, 1, Buffer.alloc(16384)), frame(T.DATA, 0, 1, Buffer.alloc(16384)),
      frame(T.DATA, 0, 1, Buffer.alloc(16384)), frame(T.DATA, 0, 1, Buffer.alloc(16383)));
    k.client(3, frame(T.WINDOW, 0, 0, u32(65535)));
    k.server(4, frame(T.DATA, F.END_STREAM, 1, Buffer.alloc(10)));
    expect([k.xs[0].flowControlStalls, k.xs[0].flowControlStallSeconds]).toEqual([1, 1]);
  });

  it('server push: the promise is the pushed stream\'s request', () => {
    const { xs, client, server } = connection();
    client(1, CLIENT_PREFACE, frame(T.HEADERS, F.END_HEADERS | F.END_STREAM, 1, req('/page')));
    server(2, frame(T.PUSH, F.END_HEADERS, 1, [...u32(2), ...req('/style.css')]), frame(T.HEADERS, F.END_HEADERS | F.END_STREAM, 1, resp(200, 'text/html')));
    server(3, frame(T.HEADERS, F.END_HEADERS, 2, resp(200, 'text/css')), frame(T.DATA, F.END_STREAM, 2, Buffer.from('p{}')));
    expect(xs.map((x) => [x.streamId, x.uri, x.status, x.contentType, x.upgrade, x.requestTs, x.responseEndTs])).toEqual([
      [1, '/page', 200, 'text/html', null, 1, 2], [2, '/style.css', 200, 'text/css', 'push', 2, 3],
    ]);
  });

  it('connection end: reset, close and capture end mark the unanswered streams', () => {
    for (const [how, why] of [['reset', 'reset'], ['fin', 'closed'], ['eof', 'capture-ended']] as const) {
      const { xs, c, client } = connection();
      client(1, CLIENT_PREFACE, frame(T.HEADERS, F.END_HEADERS | F.END_STREAM, 1, req('/slow')));
      c.client.end(2, how === 'fin' ? 'fin' : how);
      c.server.end(2, how);
      expect([xs[0].noResponse, xs[0].error]).toEqual([why, null]);
    }
  });

  it('lost bytes: framing resumes at the next plausible frame header, HPACK stops for that direction', () => {
    const { xs, c, client, server } = connection();
    client(1, CLIENT_PREFACE, frame(T.HEADERS, F.END_HEADERS | F.END_STREAM, 1, req('/before')));
    c.client.gap(120, 2);
    client(2, Buffer.from([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]));
    client(3, frame(T.HEADERS, F.END_HEADERS | F.END_STREAM, 9, req('/after')));
    server(4, frame(T.HEADERS, F.END_HEADERS | F.END_STREAM, 9, resp(200)));
    expect(xs.map((x) => [x.streamId, x.uri, x.status])).toEqual([[1, '/before', null], [9, null, 200]]);
    expect(c.summary.errors.join('\n')).toMatch(/bytes lost by the capture/);
    expect(c.h2.client.lostBytes).toBe(130);
    // A gap inside DATA keeps the framing: only content is missing.
    const d = connection();
    d.client(1, CLIENT_PREFACE, frame(T.HEADERS, F.END_HEADERS | F.END_STREAM, 1, req('/d')));
    const data = frame(T.DATA, F.END_STREAM, 1, Buffer.alloc(1000));
    d.server(2, frame(T.HEADERS, F.END_HEADERS, 1, resp(200)), data.subarray(0, 100));
    d.c.server.gap(500, 3);
    d.c.server.data(data, 600, data.length - 600, 4);
    expect([d.xs[0].responseBodyBytes, d.xs[0].responseEndTs, d.summary.errors]).toEqual([1000, 4, []]);
  });

  it('malformed frames are messages, not throws; a missing preface ends the client direction', () => {
    const { c, client } = connection();
    client(1, CLIENT_PREFACE, frame(T.DATA, 0, 0, [1]), frame(T.RST, 0, 0, u32(1)), frame(T.SETTINGS, 0, 0, [1, 2, 3]),
      frame(T.PING, 0, 1, [1]), frame(T.WINDOW, 0, 0, u32(0)), frame(T.CONT, F.END_HEADERS, 1, [0x82]), frame(T.HEADERS, F.PADDED | F.END_HEADERS, 1, [200, 0x82]),
      frame(0xfa, 0, 0, [1, 2, 3]), frame(T.PRIORITY, 0, 1, [1]));
    expect(c.summary.errors).toEqual([
      'client: DATA on stream 0 (PROTOCOL_ERROR, §6.1)', 'client: malformed RST_STREAM (§6.4)', 'client: malformed SETTINGS (§6.5)',
      'client: malformed PING (§6.7)', 'client: WINDOW_UPDATE with an increment of 0 (PROTOCOL_ERROR, §6.9)',
      'client: CONTINUATION without a header block (PROTOCOL_ERROR, §6.10)', 'client: HEADERS padding longer than the frame (PROTOCOL_ERROR)',
      'client: PRIORITY of a length other than 5 (FRAME_SIZE_ERROR, §6.3)',
    ]);
    expect(c.summary.framesFromClient[10]).toBe(1); // the extension frame type, skipped
    const n = connection();
    n.client(1, Buffer.from('GET / HTTP/1.1\r\n\r\n'));
    expect(n.summary.errors).toEqual(['client: the client did not start with the HTTP/2 connection preface (RFC 9113 §3.4)']);
    // The report's warnings name the connection and its first problem.
    expect(n.h2.warnings()).toEqual(['HTTP/2 connection 3: client: the client did not start with the HTTP/2 connection preface (RFC 9113 §3.4)']);
  });

  it('bounds: tracked streams, header block size, header lists kept per exchange and per capture', () => {
    const { xs, c, h2, client } = connection();
    const frames: Buffer[] = [CLIENT_PREFACE];
    for (let i = 0; i <= MAX_OPEN_STREAMS; i++) frames.push(frame(T.HEADERS, F.END_HEADERS | F.END_STREAM, 2 * i + 1, [0x82, 0x84]));
    client(1, ...frames);
    expect(c.h2.openStreams).toBe(MAX_OPEN_STREAMS);
    expect(c.h2.untrackedStreams).toBe(1);
    expect(xs.length).toBe(MAX_OPEN_STREAMS + 1); // every request is still an exchange
    // A header block over MAX_HEADER_BLOCK is not decoded (and ends HPACK for the direction).
    const big = connection();
    const parts = [frame(T.HEADERS, 0, 1, Buffer.alloc(16384, 0x82))];
    for (let n = 16384; n <= MAX_HEADER_BLOCK; n += 16384) parts.push(frame(T.CONT, 0, 1, Buffer.alloc(16384, 0x82)));
    parts.push(frame(T.CONT, F.END_HEADERS, 1, [0x82]));
    big.client(1, CLIENT_PREFACE, ...parts);
    expect(big.summary.errors.some((e) => /header block over/.test(e))).toBe(true);
    expect(big.xs[0].method).toBeNull();
    // So is one HEADERS frame larger than that (a peer that raised SETTINGS_MAX_FRAME_SIZE).
    const one = connection();
    one.client(1, CLIENT_PREFACE, frame(T.HEADERS, F.END_HEADERS | F.END_STREAM, 1, Buffer.alloc(MAX_HEADER_BLOCK + 1000, 0x82)), frame(T.PING, 0, 0, Buffer.alloc(8)));
    expect([one.xs[0].method, one.summary.errors.some((e) => /header block over/.test(e)), one.summary.framesFromClient[T.PING]]).toEqual([null, true, 1]);
    // Per capture: once MAX_HEADER_OCTETS_TOTAL is kept, lists are dropped and counted.
    h2.headerLists.octets = MAX_HEADER_OCTETS_TOTAL;
    client(2, frame(T.HEADERS, F.END_HEADERS | F.END_STREAM, 2 * MAX_OPEN_STREAMS + 5, req('/late')));
    expect([xs[xs.length - 1].uri, xs[xs.length - 1].requestHeaders, h2.headerLists.dropped]).toEqual(['/late', null, 1]);
    // Per exchange: 64 fields.
    const many = connection();
    const fields: [string, string][] = [[':method', 'GET'], [':path', '/m']];
    for (let i = 0; i < 100; i++) fields.push([`x-${i}`, 'v']);
    many.client(1, CLIENT_PREFACE, frame(T.HEADERS, F.END_HEADERS | F.END_STREAM, 1, block(...fields)));
    expect(many.xs[0].requestHeaders!.length).toBe(64);
  });
});

describe('HTTP/2 detection and Upgrade through the HTTP/1.x analyser', () => {
  const conn = fakeConnection(9, { ip: '10.0.0.1', port: 50001 }, { ip: '10.0.0.2', port: 8081 });

  it('claims a connection by the client preface, or by the server speaking first with SETTINGS', () => {
    const h = new HttpExchanges();
    const pre = Buffer.concat([CLIENT_PREFACE, frame(T.SETTINGS, 0, 0)]);
    expect(h.detect(conn, true, pre, 0, pre.length)).not.toBeNull();
    const s = frame(T.SETTINGS, 0, 0, [0, 3, ...u32(100)]);
    const d = h.detect(conn, false, s, 0, s.length)!;
    d.server.data(s, 0, s.length, 1);
    d.client.data(pre, 0, pre.length, 2);
    expect(h.h2.connections.at(-1)!.framesFromServer[T.SETTINGS]).toBe(1);
    expect(h.http2Connections).toEqual([{ connectionId: 9, ts: 2 }]);
    // Neither on a non-HTTP port: a binary protocol is left alone.
    const other = Buffer.from([0, 0, 7, 4, 0, 0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7]);
    expect(h.detect(fakeConnection(10, { ip: '10.0.0.1', port: 1 }, { ip: '10.0.0.2', port: 9999 }), false, other, 0, other.length)).toBeNull();
  });

  it('Upgrade: h2c: the 101 hands both directions over; stream 1 answers the upgrading request', () => {
    const h = new HttpExchanges();
    const up = Buffer.from('GET /u HTTP/1.1\r\nHost: up.test\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n');
    const s = h.detect(conn, true, up, 0, up.length)!;
    s.client.data(up, 0, up.length, 1);
    // The 101 and the first HTTP/2 frames in one segment.
    const r = Buffer.concat([Buffer.from('HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n'), frame(T.SETTINGS, 0, 0), frame(T.HEADERS, F.END_HEADERS, 1, resp(200))]);
    s.server.data(r, 0, r.length, 2);
    const c = Buffer.concat([CLIENT_PREFACE, frame(T.SETTINGS, 0, 0), frame(T.HEADERS, F.END_HEADERS | F.END_STREAM, 3, req('/next'))]);
    s.client.data(c, 0, c.length, 3);
    const d = frame(T.DATA, F.END_STREAM, 1, Buffer.from('ok'));
    s.server.data(d, 0, d.length, 4);
    expect(h.exchanges.map((x) => [x.protocol ?? 'http/1.1', x.streamId ?? null, x.uri, x.status, x.requestTs, x.responseEndTs])).toEqual([
      ['http/1.1', null, '/u', 101, 1, 2], ['h2', 1, '/u', 200, 1, 4], ['h2', 3, '/next', null, 3, null],
    ]);
    expect(h.json().map((j) => [j.protocol, j.streamId, j.error])).toEqual([['http/1.1', null, null], ['h2', 1, null], ['h2', 3, null]]);
  });
});

describe('HTTP/2 exchanges in the API rows and HAR', () => {
  it('rows carry protocol, stream id and error; HAR says HTTP/2 and why a stream failed', () => {
    const h = new HttpExchanges();
    const pre = Buffer.concat([CLIENT_PREFACE, frame(T.HEADERS, F.END_HEADERS | F.END_STREAM, 1, req('/ok')), frame(T.HEADERS, F.END_HEADERS | F.END_STREAM, 3, req('/bad'))]);
    const s = h.detect(fakeConnection(4, { ip: '10.0.0.1', port: 50002 }, { ip: '10.0.0.2', port: 80 }), true, pre, 0, pre.length)!;
    s.client.data(pre, 0, pre.length, 1);
    const r = Buffer.concat([frame(T.HEADERS, F.END_HEADERS | F.END_STREAM, 1, resp(204)), frame(T.RST, 0, 3, u32(7))]);
    s.server.data(r, 0, r.length, 2);
    const rows = h.json().map((j, i) => httpRow(j, i));
    expect(rows.map((x) => [x.protocol, x.streamId, x.uri, x.status, x.error])).toEqual([['h2', 1, '/ok', 204, null], ['h2', 3, '/bad', null, 'RST_STREAM REFUSED_STREAM']]);
    const har = buildHar(rows, () => '10.0.0.2:80', 'test');
    expect(har.log.entries.map((e) => [e.request.httpVersion, e.response.httpVersion, e.comment ?? null])).toEqual([
      ['HTTP/2', 'HTTP/2', null], ['HTTP/2', 'HTTP/2', 'HTTP/2 stream 3 ended in error: RST_STREAM REFUSED_STREAM'],
    ]);
  });
});

describe('HTTP/2 seeded fuzz', () => {
  it('truncated and mutated connections never throw and stay bounded', () => {
    // A connection with every frame type, both directions.
    const cl = Buffer.concat([CLIENT_PREFACE, frame(T.SETTINGS, 0, 0, [0, 4, ...u32(1000), 0, 1, ...u32(256)]),
      frame(T.HEADERS, F.PRIORITY | F.PADDED, 1, [2, ...u32(0), 16, ...req('/f').subarray(0, 8), 0, 0]), frame(T.CONT, F.END_HEADERS, 1, req('/f').subarray(8)),
      frame(T.DATA, F.END_STREAM | F.PADDED, 1, [1, 9, 9, 0]), frame(T.PRIORITY, 0, 3, [...u32(1), 5]), frame(T.PING, 0, 0, Buffer.alloc(8)),
      frame(T.WINDOW, 0, 0, u32(100000)), frame(T.HEADERS, 0x40 | F.END_HEADERS | F.END_STREAM, 3, Buffer.from('40036162630378797a', 'hex')), frame(T.RST, 0, 3, u32(8)),
      frame(T.GOAWAY, 0, 0, [...u32(3), ...u32(0)])]);
    const sv = Buffer.concat([frame(T.SETTINGS, 0, 0, [0, 1, ...u32(0)]), frame(T.SETTINGS, F.ACK, 0),
      frame(T.PUSH, F.END_HEADERS, 1, [...u32(2), ...req('/p')]), frame(T.HEADERS, F.END_HEADERS, 1, resp(200)),
      frame(T.DATA, 0, 1, Buffer.alloc(1200)), frame(T.HEADERS, F.END_HEADERS | F.END_STREAM, 2, resp(204)), frame(T.DATA, F.END_STREAM, 1, Buffer.alloc(10)),
      frame(T.GOAWAY, 0, 0, [...u32(1), ...u32(11), 1, 2, 3])]);
    const rnd = rngUint32(9113);
    let errors = 0;
    for (let round = 0; round < 1500; round++) {
      const { xs, c } = connection();
      for (const [src, sink] of [[cl, c.client], [sv, c.server]] as const) {
        const b = Buffer.from(src.subarray(0, 1 + (rnd() % src.length)));
        for (let m = rnd() % 6; m > 0; m--) b[rnd() % b.length] = rnd() & 0xff;
        // Random segmenting, with an occasional gap.
        for (let i = 0; i < b.length;) {
          const n = 1 + (rnd() % 64);
          if (rnd() % 40 === 0) sink.gap(n, round);
          else sink.data(b, i, Math.min(n, b.length - i), round);
          i += n;
        }
      }
      c.client.end(round + 1, 'eof');
      c.server.end(round + 1, 'eof');
      errors += c.summary.errors.length;
      expect(c.summary.errors.length).toBeLessThanOrEqual(16);
      expect(c.h2.openStreams).toBeLessThanOrEqual(MAX_OPEN_STREAMS);
      for (const x of xs) expect((x.requestHeaders?.length ?? 0) + (x.responseHeaders?.length ?? 0)).toBeLessThanOrEqual(128);
    }
    expect(errors).toBeGreaterThan(200); // mutations reached the error paths
  });
});
