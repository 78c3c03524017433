import { Http1StreamParser, type HttpHead, type HttpParserEvents } from '../parsers/http.js';
import type { StreamEnd, StreamSink } from '../reassembly/tcp-stream.js';
import { CLIENT_PREFACE } from '../parsers/http2.js';
import { Http2Exchanges } from './http2-exchanges.js';
import type { AppStreams, StreamProtocol } from '../reassembly/tcp-streams.js';
import type { Connection } from './types.js';
import { HttpExchangeStore } from './http-exchange-store.js';
import { HeaderLists } from './header-lists.js';

/**
 * Why a request has no (complete) response: the connection was reset or closed before or
 * during the response, the capture ended, the response's framing or some of its bytes were
 * lost in bytes the capture missed before it was cut (incomplete), or the whole response was
 * in such bytes (not-captured: also a request still waiting when the server's direction
 * ended after such a loss). The last two are capture artifacts, not server faults.
 */
export type NoResponse = 'reset' | 'closed' | 'capture-ended' | 'incomplete' | 'not-captured';

/** One request and its response on an HTTP/1.x connection. Times are epoch seconds. */
export interface HttpExchange {
  connectionId: number;
  serverIp: string;
  serverPort: number;
  method: string | null;
  host: string | null;
  uri: string | null;
  version: string | null;
  status: number | null;
  reason: string | null;
  /** 1xx interim responses (100 Continue, 103 Early Hints) seen before the final one. */
  interim: number[];
  upgrade: string | null;
  /** Packet carrying the request's first byte, and the packet completing it (headers + body). */
  requestTs: number | null;
  requestEndTs: number | null;
  /** Packet carrying the final response's first byte, and the packet completing it. */
  responseTs: number | null;
  responseEndTs: number | null;
  requestHeaderBytes: number;
  requestBodyBytes: number;
  responseHeaderBytes: number;
  responseBodyBytes: number;
  /** Body bytes of the response the capture lost (counted in responseBodyBytes, never seen). */
  responseGapBytes: number;
  /** The response's header block was cut (snaplen or a lost segment): only its start was read. */
  responseHeadTruncated: boolean;
  contentType: string | null;
  /** Set when the request got no (complete) response, with the reason. */
  noResponse: NoResponse | null;
  /** HTTP/2 (main/analysis/http2-exchanges.ts) and HTTP/3 (http3-exchanges.ts) exchanges; absent on HTTP/1.x ones. */
  protocol?: 'http/1.1' | 'h2' | 'h3';
  streamId?: number | null;
  /** How the stream ended in error: "RST_STREAM CANCEL", "GOAWAY ENHANCE_YOUR_CALM". */
  error?: string | null;
  /** Which side sent the RST_STREAM or GOAWAY behind `error`. */
  errorBy?: 'client' | 'server';
  /** Header lists kept (bounded, header-lists.ts), null when not kept (the capture's budget was spent). */
  requestHeaders?: [string, string][] | null;
  responseHeaders?: [string, string][] | null;
  /** Frames of the stream each way, and flow-control stalls of its sender (RFC 9113 §6.9). */
  requestFrames?: number;
  responseFrames?: number;
  flowControlStalls?: number;
  flowControlStallSeconds?: number;
  /** The side whose sending waited on flow control (the other side read slowly). */
  flowControlWaitBy?: 'client' | 'server';
}

/**
 * Exchanges kept per capture; beyond it they are counted, not stored (one warning). Settled
 * ones cost about 170 bytes each (http-exchange-store.ts), so the cap is about 700 MB.
 */
export const MAX_EXCHANGES = 4_000_000;
const HTTP_PORTS = new Set([80, 591, 3128, 8000, 8008, 8080, 8081, 8888]);

/*
 * HTTP EXCHANGES. Requests and responses are paired in order per connection (HTTP/1.1
 * keep-alive and pipelining answer in request order, RFC 9112 §9.3.2). A 1xx interim
 * response does not complete an exchange; 101 (or a 2xx to CONNECT) turns the connection
 * into a tunnel. Requests still waiting when the server's direction ends are flagged with
 * why (reset, closed, capture ended). Timing definitions are in docs/protocols.md.
 */
export class HttpExchanges implements StreamProtocol {
  /** Every exchange, compact once its connection's parsers are released (http-exchange-store.ts). */
  readonly store = new HttpExchangeStore();
  /** Connections whose client sent the HTTP/2 cleartext preface (h2c prior knowledge). */
  readonly http2Connections: { connectionId: number; ts: number }[] = [];
  /** Request and response header lists of every protocol, within the capture's bounds. */
  readonly headerLists = new HeaderLists();
  /** HTTP/2 connections: h2c here, h2 from TLS decryption (`h2.connection()`). */
  readonly h2 = new Http2Exchanges((x) => this.add(x), this.headerLists);
  dropped = 0;

  detect(conn: Connection, toServer: boolean, b: Uint8Array, off: number, len: number): AppStreams | null {
    // h2c with prior knowledge (RFC 9113 §3.3): the client preface, or the server's SETTINGS first.
    if (toServer ? startsWith(b, off, len, CLIENT_PREFACE) : startsServerPreface(b, off, len)) {
      const h2 = this.h2.connection(conn);
      h2.h2.onPreface = (ts) => this.http2Connections.push({ connectionId: conn.id, ts });
      return h2;
    }
    let midStream = false;
    if (startsHttp(b, off, len, toServer)) midStream = false;
    else if (HTTP_PORTS.has(conn.server.port)) midStream = true;
    else return null;
    return new HttpConnection(this, conn, midStream);
  }

  /** Adds an exchange; returns its store slot, -1 when over MAX_EXCHANGES (counted in `dropped`). */
  add(x: HttpExchange): number {
    if (this.store.count < MAX_EXCHANGES) return this.store.add(x);
    this.dropped++;
    return -1;
  }

  /** Every exchange as an object, in the order they were added (builds an object per settled one). */
  get exchanges(): HttpExchange[] {
    const out: HttpExchange[] = [];
    for (let i = 0; i < this.store.count; i++) out.push(this.store.at(i));
    return out;
  }

  /** The report's warning when exchanges were over MAX_EXCHANGES, else null. */
  warning(): string | null {
    return this.dropped > 0 ? `${this.dropped} HTTP exchange(s) not kept: the capture has more than ${MAX_EXCHANGES.toLocaleString('en-US')}` : null;
  }

  /** Every exchange for reading only (the findings): settled ones without header lists (HttpExchangeStore.at lean). */
  lean(): HttpExchange[] {
    const out: HttpExchange[] = [];
    for (let i = 0; i < this.store.count; i++) out.push(this.store.at(i, true));
    return out;
  }

  /** The `http` array of the JSON report (README "JSON output"). */
  json(): Record<string, unknown>[] {
    const out: Record<string, unknown>[] = [];
    for (let i = 0; i < this.store.count; i++) out.push(this.jsonAt(i));
    return out;
  }

  /** Element `i` of the `http` array (a settled one straight from the store's columns, as exchangeJson writes it). */
  jsonAt(i: number): Record<string, unknown> {
    const s = this.store;
    const live = s.live(i);
    if (live !== undefined) return exchangeJson(live);
    const str = s.strings;
    const t = i * 7;
    const m = i * 4;
    const z = i * 5;
    const status = s.status[i];
    const requestTs = orNull(s.times[m]);
    const requestEndTs = orNull(s.times[m + 1]);
    const responseTs = orNull(s.times[m + 2]);
    const responseEndTs = orNull(s.times[m + 3]);
    return {
      connectionId: s.connectionId[i],
      method: str.value(s.text[t + 1]),
      host: str.value(s.text[t + 2]),
      uri: s.uriOf(i),
      status: status < 0 ? null : status,
      requestTs,
      responseTs,
      timeToFirstByte: ttfb(requestTs, requestEndTs, responseTs),
      duration: durationOf(requestTs, requestEndTs, responseEndTs),
      requestBytes: s.sizes[z] + s.sizes[z + 1],
      responseBytes: s.sizes[z + 2] + s.sizes[z + 3],
      contentType: str.value(s.text[t + 6]),
      // Only HTTP/1.x exchanges are settled.
      protocol: 'http/1.1',
      streamId: null,
      error: null,
      requestHeaders: s.headersOf(i, 0) ?? null,
      responseHeaders: s.headersOf(i, 1) ?? null,
    };
  }
}

/** b starts with prefix, or with its first 3+ octets when the segment is shorter ("PRI" vs "PUT", "PRO…"). */
function startsWith(b: Uint8Array, off: number, len: number, prefix: Uint8Array): boolean {
  for (let i = 0; i < Math.min(len, prefix.length); i++) if (b[off + i] !== prefix[i]) return false;
  return len >= 3;
}

/**
 * A server speaking first with a SETTINGS frame (RFC 9113 §3.4 server preface): length a
 * multiple of 6 within the segment, type 4, no flags, stream 0.
 */
function startsServerPreface(b: Uint8Array, off: number, len: number): boolean {
  if (len < 9) return false;
  const n = (b[off] << 16) | (b[off + 1] << 8) | b[off + 2];
  return n % 6 === 0 && n + 9 <= len && b[off + 3] === 4 && b[off + 4] === 0 && (b[off + 5] | b[off + 6] | b[off + 7] | b[off + 8]) === 0;
}

const START_METHODS = ['GET', 'POST', 'HEAD', 'PUT', 'DELETE', 'OPTIONS', 'PATCH', 'CONNECT', 'TRACE', 'PROPFIND', 'PROPPATCH', 'MKCOL', 'COPY', 'MOVE', 'LOCK', 'UNLOCK', 'REPORT', 'SEARCH', 'PURGE', 'PRI']
  .map((m) => Buffer.from(m + ' ', 'latin1'));
const STATUS_START = Buffer.from('HTTP/1.', 'latin1');

/** The start of a request (method SP) from the client or of a status line from the server. */
function startsHttp(b: Uint8Array, off: number, len: number, fromClient: boolean): boolean {
  if (!fromClient) return startsWithAll(b, off, len, STATUS_START);
  for (const m of START_METHODS) if (startsWithAll(b, off, len, m)) return true;
  return false;
}

/** b[off..off+len) starts with all of `prefix`. */
function startsWithAll(b: Uint8Array, off: number, len: number, prefix: Uint8Array): boolean {
  if (len < prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) if (b[off + i] !== prefix[i]) return false;
  return true;
}

export function exchangeJson(x: HttpExchange): Record<string, unknown> {
  return {
    connectionId: x.connectionId,
    method: x.method,
    host: x.host,
    uri: x.uri,
    status: x.status,
    requestTs: x.requestTs,
    responseTs: x.responseTs,
    timeToFirstByte: timeToFirstByte(x),
    duration: duration(x),
    requestBytes: x.requestHeaderBytes + x.requestBodyBytes,
    responseBytes: x.responseHeaderBytes + x.responseBodyBytes,
    contentType: x.contentType,
    protocol: x.protocol ?? 'http/1.1',
    streamId: x.streamId ?? null,
    error: x.error ?? null,
    requestHeaders: x.requestHeaders ?? null,
    responseHeaders: x.responseHeaders ?? null,
  };
}

/**
 * Request fully sent -> first byte of the final response. A server that answers before the
 * request body is complete (an early 413 or 401) is measured from the request's start.
 */
export function timeToFirstByte(x: HttpExchange): number | null {
  return ttfb(x.requestTs, x.requestEndTs, x.responseTs);
}

function ttfb(requestTs: number | null, requestEndTs: number | null, responseTs: number | null): number | null {
  let from = requestEndTs ?? requestTs;
  if (from !== null && responseTs !== null && responseTs < from && requestTs !== null) from = requestTs;
  return from !== null && responseTs !== null ? roundNs(responseTs - from) : null;
}

/** Request fully sent -> response complete: the same as Wireshark's http.time. */
export function duration(x: HttpExchange): number | null {
  return durationOf(x.requestTs, x.requestEndTs, x.responseEndTs);
}

function durationOf(requestTs: number | null, requestEndTs: number | null, responseEndTs: number | null): number | null {
  const from = requestEndTs ?? requestTs;
  return from !== null && responseEndTs !== null ? roundNs(responseEndTs - from) : null;
}

/** A store time column's value: NaN is null. */
function orNull(v: number): number | null {
  return Number.isNaN(v) ? null : v;
}

/** Capture timestamps have at most nanosecond resolution: drop the float noise below it. */
function roundNs(v: number): number {
  return Math.round(v * 1e9) / 1e9;
}

/** The 1xx list of an exchange that had none (most): shared, replaced by its own list on the first one. */
const NO_INTERIM = Object.freeze([]) as unknown as number[];

function newExchange(conn: Connection): HttpExchange {
  return {
    connectionId: conn.id, serverIp: conn.server.ip, serverPort: conn.server.port,
    method: null, host: null, uri: null, version: null, status: null, reason: null, interim: NO_INTERIM, upgrade: null,
    requestTs: null, requestEndTs: null, responseTs: null, responseEndTs: null,
    requestHeaderBytes: 0, requestBodyBytes: 0, responseHeaderBytes: 0, responseBodyBytes: 0, responseGapBytes: 0, responseHeadTruncated: false,
    contentType: null, noResponse: null,
    // Set by the heads (undefined: absent); in the literal so that setting them adds no property storage.
    requestHeaders: undefined, responseHeaders: undefined,
  };
}

/** The queue of a connection with no request waiting: shared, never written (replaced on the first request). */
const NO_QUEUE: HttpExchange[] = [];

/** A direction's sink that can be handed to another parser mid-stream (Upgrade: h2c). */
class SwitchableSink implements StreamSink {
  constructor(public to: StreamSink) {}
  data(b: Uint8Array, off: number, len: number, ts: number): void {
    this.to.data(b, off, len, ts);
  }
  gap(len: number, ts: number): void {
    this.to.gap(len, ts);
  }
  end(ts: number, how: StreamEnd): void {
    this.to.end(ts, how);
  }
}

/** Both directions of one HTTP/1.x connection and its queue of unanswered requests. */
class HttpConnection implements AppStreams {
  readonly clientParser: Http1StreamParser;
  readonly serverParser: Http1StreamParser;
  /** What the stream reassembly feeds (AppStreams): the HTTP/1.x parsers, or HTTP/2 after an Upgrade to h2c. */
  readonly client: SwitchableSink;
  readonly server: SwitchableSink;
  /** Requests sent and not yet answered, oldest first (NO_QUEUE until the first). */
  private queue: HttpExchange[] = NO_QUEUE;
  /** The request being received (its body may still be arriving). */
  req: HttpExchange | null = null;
  /** The exchange whose response is being received. */
  resp: HttpExchange | null = null;
  /** The response being parsed answers a HEAD request (so it has no body). */
  headRequest = false;
  /** The server's direction lost bytes where responses may have been. */
  serverLostSync = false;
  /** Store slots of this connection's exchanges, settled once both directions have ended: the first, then any more. */
  private firstSlot = -1;
  private moreSlots: number[] | null = null;
  private directionsEnded = 0;

  constructor(readonly owner: HttpExchanges, readonly conn: Connection, midStream: boolean) {
    this.clientParser = new Http1StreamParser(true, new ClientEvents(this), midStream);
    this.serverParser = new Http1StreamParser(false, new ServerEvents(this), midStream);
    this.client = new SwitchableSink(this.clientParser);
    this.server = new SwitchableSink(this.serverParser);
  }

  /** RFC 7540 §3.2: after `101` with `Upgrade: h2c` both directions speak HTTP/2; x's request is stream 1. */
  private upgradeToH2(x: HttpExchange): void {
    const h2 = this.owner.h2.connection(this.conn, { upgraded: x });
    this.client.to = h2.client;
    this.server.to = h2.server;
    this.h2Server = h2.server;
  }

  /** The HTTP/2 server sink once upgraded: gets the rest of the segment that carried the 101. */
  h2Server: StreamSink | null = null;

  requestHead(h: HttpHead): void {
    const x = newExchange(this.conn);
    x.method = h.method;
    x.uri = h.uri;
    x.host = h.host;
    x.version = h.version;
    x.upgrade = h.upgrade;
    x.requestTs = h.startTs;
    x.requestHeaderBytes = h.headerBytes;
    x.requestHeaders = this.owner.headerLists.keepFieldsOf(h);
    this.req = x;
    if (this.queue.length === 0) this.queue = [x];
    else this.queue.push(x);
    this.keep(x);
    // messageEnd follows at once for a request without a body.
  }

  responseHead(h: HttpHead): void {
    const status = h.status ?? 0;
    if (this.serverLostSync && this.queue.length > 1) {
      // Responses were lost with the gap: this one answers the latest request sent before
      // it (as Wireshark pairs it); the older ones' responses were not captured.
      let k = this.queue.length - 1;
      while (k > 0 && (this.queue[k].requestTs ?? 0) > h.startTs) k--;
      for (let j = 0; j < k; j++) this.queue[j].noResponse = 'not-captured';
      this.queue.splice(0, k);
    }
    this.serverLostSync = false;
    let x = this.queue[0];
    this.headRequest = x?.method === 'HEAD';
    if (status >= 100 && status < 200 && status !== 101) {
      if (x) {
        if (x.interim === NO_INTERIM) x.interim = [status];
        else x.interim.push(status);
      }
      this.resp = null;
      return;
    }
    if (x) this.queue.shift();
    else {
      // A response whose request was not captured (capture started mid-connection).
      x = newExchange(this.conn);
      x.version = h.version;
      this.keep(x);
    }
    x.status = status;
    x.reason = h.reason;
    x.responseTs = h.startTs;
    x.responseHeaderBytes = h.headerBytes;
    x.responseHeadTruncated = h.truncated;
    x.contentType = h.contentType;
    x.responseHeaders = this.owner.headerLists.keepFieldsOf(h);
    if (h.upgrade) x.upgrade = h.upgrade;
    this.resp = x;
    if (status === 101 || (x.method === 'CONNECT' && status >= 200 && status < 300)) {
      // RFC 9110 §15.2.2 / §9.3.6: the bytes after this head belong to another protocol.
      x.responseEndTs = h.headTs;
      this.resp = null;
      this.clientParser.tunnel();
      this.serverParser.tunnel();
      if (status === 101 && /^h2c$/i.test(x.upgrade ?? '')) this.upgradeToH2(x);
    }
  }

  private keep(x: HttpExchange): void {
    const slot = this.owner.add(x);
    if (slot < 0) return;
    if (this.firstSlot < 0) this.firstSlot = slot;
    else (this.moreSlots ??= []).push(slot);
  }

  /** After both directions' end (FIN, RST, end of capture) the exchanges are final: they go compact. */
  directionEnded(): void {
    if (++this.directionsEnded < 2) return;
    const store = this.owner.store;
    if (this.firstSlot >= 0) store.settle(this.firstSlot);
    if (this.moreSlots !== null) for (const slot of this.moreSlots) store.settle(slot);
    this.firstSlot = -1;
    this.moreSlots = null;
  }

  serverEnded(how: StreamEnd): void {
    // Bytes of the server's direction were lost after the last response began: the waiting
    // requests' responses may be in them (ACKed-unseen data, a fragment's missing rest).
    const why: NoResponse = this.serverLostSync ? 'not-captured' : how === 'reset' ? 'reset' : how === 'fin' ? 'closed' : 'capture-ended';
    for (const x of this.queue) if (x.noResponse === null) x.noResponse = why;
    this.queue = NO_QUEUE;
  }
}

/** The client direction's parser events: requests. */
class ClientEvents implements HttpParserEvents {
  constructor(private readonly c: HttpConnection) {}
  head(h: HttpHead): void {
    this.c.requestHead(h);
  }
  messageEnd(ts: number, body: number): void {
    const x = this.c.req;
    if (x) {
      x.requestEndTs = ts;
      x.requestBodyBytes = body;
      this.c.req = null;
    }
  }
  messageAbort(_ts: number, body: number): void {
    const x = this.c.req;
    if (x) x.requestBodyBytes = body;
    this.c.req = null;
  }
  http2Preface(ts: number): void {
    this.c.owner.http2Connections.push({ connectionId: this.c.conn.id, ts });
    this.c.serverParser.tunnel();
  }
  end(): void {
    this.c.directionEnded();
  }
}

/** The server direction's parser events: responses. */
class ServerEvents implements HttpParserEvents {
  constructor(private readonly c: HttpConnection) {}
  head(h: HttpHead): void {
    this.c.responseHead(h);
  }
  messageEnd(ts: number, body: number, gap: number): void {
    const x = this.c.resp;
    if (!x) return;
    x.responseEndTs = ts;
    x.responseBodyBytes = body;
    x.responseGapBytes = gap;
    this.c.resp = null;
  }
  messageAbort(_ts: number, body: number, how?: StreamEnd, gap = 0): void {
    const x = this.c.resp;
    if (!x) return;
    x.responseBodyBytes = body;
    x.responseGapBytes = gap;
    // A response cut after the capture lost some of its bytes: whether the client got it
    // whole is unknown, so the cut is not blamed on the server (findings "CAPTURE LOSS").
    x.noResponse = how === 'eof' ? 'capture-ended' : how === undefined || gap > 0 ? 'incomplete' : how === 'reset' ? 'reset' : 'closed';
    this.c.resp = null;
  }
  http2Preface(): void {}
  tunnelData(b: Uint8Array, off: number, len: number, ts: number): void {
    this.c.h2Server?.data(b, off, len, ts);
  }
  lostSync(): void {
    this.c.serverLostSync = true;
  }
  requestWasHead(): boolean {
    return this.c.headRequest;
  }
  end(_ts: number, how: StreamEnd): void {
    this.c.serverEnded(how);
    this.c.directionEnded();
  }
}
