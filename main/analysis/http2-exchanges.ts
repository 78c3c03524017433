import { Http2Connection, errorCodeName, FRAME_TYPES, MAX_OPEN_STREAMS, type HeaderBlock, type Http2Events } from '../parsers/http2.js';
import type { HeaderField } from '../parsers/hpack.js';
import type { StreamEnd } from '../reassembly/tcp-stream.js';
import type { AppStreams } from '../reassembly/tcp-streams.js';
import type { HttpExchange, NoResponse } from './http-exchanges.js';
import type { Connection } from './types.js';
import { HeaderLists } from './header-lists.js';

/** Open streams' exchanges followed per connection (twice the streams the framer tracks). */
const MAX_FOLLOWED_EXCHANGES = 2 * MAX_OPEN_STREAMS;
/** Connections named in the report's warnings; more are counted. */
const MAX_WARNED_CONNECTIONS = 5;
/** Problems remembered per connection. */
const MAX_ERRORS_PER_CONNECTION = 16;

/** Sees every frame and decoded header block of every HTTP/2 connection. */
export interface Http2Observer {
  frame(connectionId: number, fromClient: boolean, type: number, flags: number, streamId: number, length: number, ts: number): void;
  headers(connectionId: number, fromClient: boolean, block: HeaderBlock): void;
}

/** What one HTTP/2 connection did as a whole (frames per type, errors, GOAWAY). */
export interface Http2ConnectionSummary {
  connectionId: number;
  /** Frames by type 0..9 (DATA … CONTINUATION), index 10 for extension types. */
  framesFromClient: number[];
  framesFromServer: number[];
  goaway: { fromClient: boolean; lastStreamId: number; error: string; ts: number } | null;
  errors: string[];
  /** Octets the capture lost inside this connection (framing resumed after them, HPACK did not). */
  lostBytes: number;
  /** Streams beyond MAX_OPEN_STREAMS, not tracked. */
  untrackedStreams: number;
}

/*
 * HTTP/2 EXCHANGES. Each stream is one exchange (RFC 9113 §8.1): the client's HEADERS open
 * it (the request: :method, :authority, :path), the server's first non-1xx HEADERS is the
 * response (:status), END_STREAM closes each side, RST_STREAM closes both with an error
 * code. Times follow HTTP/1.x (docs/protocols.md): requestTs is the packet carrying the
 * first byte of the request's HEADERS frame, requestEndTs the one completing its
 * END_STREAM frame, responseTs the first byte of the response HEADERS, responseEndTs its
 * END_STREAM. Header bytes are the HEADERS/CONTINUATION frames (9-octet frame headers
 * included), body bytes the DATA content (padding excluded). A pushed stream's request is
 * the PUSH_PROMISE. Streams the server refuses by GOAWAY (ids above its last-stream-id)
 * and streams still open when a GOAWAY with an error code ends the connection carry
 * `error: "GOAWAY <code>"`.
 */
export class Http2Exchanges {
  readonly connections: Http2ConnectionSummary[] = [];
  /** Optional observer of every frame and header block (tests compare them with tshark). */
  observer: Http2Observer | null = null;

  /** Header lists are kept within the capture's bounds (shared with HTTP/1.x and HTTP/3). */
  constructor(private readonly sink: (x: HttpExchange) => void, readonly headerLists = new HeaderLists()) {}

  /**
   * The sinks of one HTTP/2 connection. `client` takes the bytes the client sent, `server`
   * the server's, each in order with their packet timestamps (TcpStreamReassembler, or the
   * TLS decryption of one direction), then `end`. Streams become exchanges in `http[]`.
   *
   * - h2c with prior knowledge, and h2 over TLS (ALPN "h2"): `connection(conn)`; the client
   *   bytes start with the connection preface (RFC 9113 §3.4).
   * - h2c after `Upgrade: h2c` (§3.2 of RFC 7540): `connection(conn, { upgraded: x })`
   *   with the HTTP/1.1 exchange that asked for it: its request is stream 1's, whose response
   *   arrives in HTTP/2 frames; feed the bytes after the 101 response (server) and after the
   *   request (client, starting with the preface).
   */
  connection(conn: Connection, opts: { upgraded?: HttpExchange } = {}): AppStreams & { h2: Http2Connection; summary: Http2ConnectionSummary } {
    const summary: Http2ConnectionSummary = {
      connectionId: conn.id, framesFromClient: new Array(FRAME_TYPES + 1).fill(0), framesFromServer: new Array(FRAME_TYPES + 1).fill(0),
      goaway: null, errors: [], lostBytes: 0, untrackedStreams: 0,
    };
    this.connections.push(summary);
    const builder = new StreamExchanges(this, conn, summary);
    const h2 = new Http2Connection(builder, { expectPreface: true });
    builder.h2 = h2;
    if (opts.upgraded) builder.adoptUpgrade(opts.upgraded);
    return { client: h2.client, server: h2.server, h2, summary };
  }

  add(x: HttpExchange): void {
    this.sink(x);
  }

  keepHeaders(fields: HeaderField[]): [string, string][] | null {
    return this.headerLists.keep(fields.map((f) => [f.name, f.value] as const));
  }

  /** Report warnings: HTTP/2 connections with protocol or decoding problems. */
  warnings(): string[] {
    const bad = this.connections.filter((c) => c.errors.length > 0);
    const out = bad.slice(0, MAX_WARNED_CONNECTIONS).map((c) => `HTTP/2 connection ${c.connectionId}: ${c.errors[0]}${c.errors.length > 1 ? ` (and ${c.errors.length - 1} more problem(s))` : ''}`);
    if (bad.length > MAX_WARNED_CONNECTIONS) out.push(`${bad.length - MAX_WARNED_CONNECTIONS} more HTTP/2 connection(s) with problems not listed`);
    return out;
  }
}

/** The exchanges of one connection, built from its stream events. */
class StreamExchanges implements Http2Events {
  h2!: Http2Connection;
  /** Exchanges of streams not yet closed. */
  private open = new Map<number, HttpExchange>();
  /** An error-coded GOAWAY: streams still open when the connection ends carry it. */
  private goawayError: string | null = null;
  private goawayBy: 'client' | 'server' = 'server';

  constructor(private owner: Http2Exchanges, private conn: Connection, private summary: Http2ConnectionSummary) {}

  adoptUpgrade(x: HttpExchange): void {
    // RFC 7540 §3.2: the upgrading request becomes stream 1, half-closed on the client side.
    const y = this.newExchange(1);
    y.method = x.method;
    y.host = x.host;
    y.uri = x.uri;
    y.requestTs = x.requestTs;
    y.requestEndTs = x.requestEndTs ?? x.requestTs;
    y.requestHeaderBytes = x.requestHeaderBytes;
    y.requestBodyBytes = x.requestBodyBytes;
    this.owner.add(y);
    this.open.set(1, y);
  }

  private newExchange(streamId: number): HttpExchange {
    const c = this.conn;
    return {
      connectionId: c.id, serverIp: c.server.ip, serverPort: c.server.port,
      method: null, host: null, uri: null, version: 'HTTP/2', status: null, reason: null, interim: [], upgrade: null,
      requestTs: null, requestEndTs: null, responseTs: null, responseEndTs: null,
      requestHeaderBytes: 0, requestBodyBytes: 0, responseHeaderBytes: 0, responseBodyBytes: 0, responseGapBytes: 0, responseHeadTruncated: false,
      contentType: null, noResponse: null,
      protocol: 'h2', streamId, error: null, requestHeaders: null, responseHeaders: null,
      requestFrames: 0, responseFrames: 0, flowControlStalls: 0, flowControlStallSeconds: 0,
    };
  }

  /** The stream's exchange; a stream first seen from the server is a response whose request was not captured. */
  private exchange(id: number): HttpExchange {
    let x = this.open.get(id);
    if (!x) {
      // Streams never closed (untracked, or a peer that never ends them) do not pile up: the
      // oldest open one stops being followed (its exchange keeps what it had).
      if (this.open.size >= MAX_FOLLOWED_EXCHANGES) this.open.delete(this.open.keys().next().value!);
      x = this.newExchange(id);
      this.open.set(id, x);
      this.owner.add(x);
    }
    return x;
  }

  headers(fromClient: boolean, b: HeaderBlock): void {
    this.owner.observer?.headers(this.conn.id, fromClient, b);
    if (b.promisedId) {
      // §8.4 server push: the promise carries the request of the promised stream.
      if (!this.open.has(b.streamId)) this.exchange(b.streamId);
      const p = this.exchange(b.promisedId);
      this.request(p, b);
      p.requestEndTs = b.ts;
      p.upgrade = 'push';
      return;
    }
    const x = this.exchange(b.streamId);
    if (fromClient) {
      x.requestFrames! += b.frames;
      if (x.requestTs === null) this.request(x, b);
      else x.requestHeaderBytes += b.frameBytes; // trailers
      if (b.endStream) x.requestEndTs = b.ts;
      return;
    }
    x.responseFrames! += b.frames;
    const status = Number(field(b.fields, ':status') ?? NaN);
    if (x.status === null && status >= 100 && status < 200) {
      x.interim.push(status);
      x.responseHeaderBytes += b.frameBytes;
    } else if (x.status === null && x.responseTs === null) {
      x.status = Number.isInteger(status) ? status : null;
      x.responseTs = b.startTs;
      x.responseHeaderBytes += b.frameBytes;
      x.contentType = field(b.fields, 'content-type');
      x.responseHeaders = this.owner.keepHeaders(b.fields);
      if (b.error) this.record(`stream ${b.streamId} response headers: ${b.error}`);
    } else x.responseHeaderBytes += b.frameBytes; // trailers
    if (b.endStream) x.responseEndTs = b.ts;
  }

  private request(x: HttpExchange, b: HeaderBlock): void {
    x.requestTs = b.startTs;
    x.requestHeaderBytes += b.frameBytes;
    x.method = field(b.fields, ':method');
    x.host = field(b.fields, ':authority') ?? field(b.fields, 'host');
    x.uri = field(b.fields, ':path') ?? (x.method === 'CONNECT' ? x.host : null);
    x.requestHeaders = this.owner.keepHeaders(b.fields);
    if (b.error) this.record(`stream ${b.streamId} request headers: ${b.error}`);
  }

  data(fromClient: boolean, id: number, bytes: number, _frameBytes: number, endStream: boolean, _startTs: number, ts: number): void {
    const x = this.open.get(id);
    if (!x) return; // DATA on a stream never opened (or already closed): counted in the frame totals only
    if (fromClient) {
      x.requestBodyBytes += bytes;
      x.requestFrames!++;
      if (endStream) x.requestEndTs = ts;
    } else {
      x.responseBodyBytes += bytes;
      x.responseFrames!++;
      if (endStream) x.responseEndTs = ts;
    }
  }

  rstStream(fromClient: boolean, id: number, code: number, _ts: number): void {
    const x = this.open.get(id);
    if (!x) return;
    if (fromClient) x.requestFrames!++;
    else x.responseFrames!++;
    const answered = x.responseEndTs !== null;
    // §8.1: a server may end the request's upload with NO_ERROR once it answered: not a failure.
    if (code === 0 && answered) return;
    x.error ??= `RST_STREAM ${errorCodeName(code)}`;
    x.errorBy = fromClient ? 'client' : 'server';
    if (!answered) x.noResponse ??= 'reset';
  }

  goaway(fromClient: boolean, lastStreamId: number, code: number, ts: number): void {
    const name = `GOAWAY ${errorCodeName(code)}`;
    // The first GOAWAY with an error code is the one that explains the end; else the latest.
    if (this.summary.goaway === null || this.summary.goaway.error === 'NO_ERROR') this.summary.goaway = { fromClient, lastStreamId, error: errorCodeName(code), ts };
    if (code !== 0 && this.goawayError === null) {
      this.goawayError = name;
      this.goawayBy = fromClient ? 'client' : 'server';
    }
    // §6.8: streams the receiver initiated above lastStreamId were not (and will not be) processed.
    for (const [id, x] of this.open) {
      const initiatedByReceiver = fromClient ? id % 2 === 0 : id % 2 === 1;
      if (!initiatedByReceiver || id <= lastStreamId || x.responseEndTs !== null) continue;
      x.error ??= name;
      x.errorBy = fromClient ? 'client' : 'server';
      x.noResponse ??= 'reset';
    }
  }

  stallEnd(fromClient: boolean, id: number, seconds: number): void {
    const x = this.open.get(id);
    if (!x) return;
    x.flowControlStalls!++;
    x.flowControlStallSeconds! += seconds;
    x.flowControlWaitBy = fromClient ? 'client' : 'server';
  }

  streamClosed(id: number): void {
    this.open.delete(id);
  }

  error(fromClient: boolean, message: string): void {
    this.record(`${fromClient ? 'client' : 'server'}: ${message}`);
  }

  private record(message: string): void {
    if (this.summary.errors.length < MAX_ERRORS_PER_CONNECTION) this.summary.errors.push(message);
  }

  frame(fromClient: boolean, type: number, flags: number, streamId: number, length: number, ts: number): void {
    this.owner.observer?.frame(this.conn.id, fromClient, type, flags, streamId, length, ts);
    (fromClient ? this.summary.framesFromClient : this.summary.framesFromServer)[type < FRAME_TYPES ? type : FRAME_TYPES]++;
  }

  end(fromClient: boolean, how: StreamEnd, _ts: number): void {
    const r = fromClient ? this.h2.client : this.h2.server;
    this.summary.lostBytes += r.lostBytes;
    this.summary.untrackedStreams = this.h2.untrackedStreams;
    // Responses still missing when the server's direction ends (a reset ends both).
    if (fromClient && how !== 'reset') return;
    const why: NoResponse = how === 'reset' ? 'reset' : how === 'fin' ? 'closed' : 'capture-ended';
    for (const x of this.open.values()) {
      if (x.responseEndTs !== null) continue;
      if (this.goawayError && !x.error) {
        x.error = this.goawayError;
        x.errorBy = this.goawayBy;
      }
      x.noResponse ??= why;
    }
    this.open.clear();
  }
}

/** The first value of a field (names are lower case in HTTP/2, §8.2.1). */
function field(fields: HeaderField[], name: string): string | null {
  for (const f of fields) if (f.name === name) return f.value;
  return null;
}
