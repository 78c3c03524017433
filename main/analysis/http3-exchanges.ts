import { h3ErrorName, Http3StreamParser, Http3UniStream, SETTINGS_QPACK_MAX_TABLE_CAPACITY, type Http3StreamEvents } from '../parsers/http3.js';
import { QpackTable, type QpackSection } from '../parsers/qpack.js';
import { QuicStreamReassembly } from '../reassembly/quic-stream.js';
import type { HttpExchange } from './http-exchanges.js';
import { HeaderLists } from './header-lists.js';

/*
 * HTTP/3 EXCHANGES (RFC 9114 §4.1): one per client-initiated bidirectional stream (id % 4 == 0):
 * the request's HEADERS (:method, :authority, :path), the response's (:status; 1xx are
 * interim), DATA counted both ways, times as for HTTP/2: requestTs the packet with the
 * request's first byte, requestEndTs the one with its FIN, responseTs the final response's
 * HEADERS, responseEndTs the response's FIN. RESET_STREAM sets `error` with the H3 error
 * name. Unidirectional streams: each side's control stream (its SETTINGS give the peer's
 * QPACK table maximum) and QPACK encoder stream (rebuilding the dynamic table its HEADERS
 * refer to) are read; decoder streams are not.
 * SERVER PUSH (§4.6): one exchange per push ID, `upgrade: "push"` as for HTTP/2: its request
 * is the PUSH_PROMISE's fields (on the request stream that triggered it; requestTs and
 * requestEndTs the promise's packet), its response the push stream's (unidirectional, type
 * 0x01: push ID, then HEADERS and DATA), `streamId` the push stream's id (null while only
 * promised). Either may come first. Both decode with the server's QPACK encoder table.
 * CANCEL_PUSH on either side's control stream sets `error: "CANCEL_PUSH"`.
 * Bounded: at most MAX_OPEN_STREAMS streams and MAX_PUSHES pushes are followed at once; a
 * stream or push is released when both directions ended.
 */

const MAX_OPEN_STREAMS = 1024;
const MAX_PUSHES = 256;
/** Control, QPACK encoder and decoder streams, reserved ones (RFC 9114 §6.2), and push streams. */
const MAX_UNI_STREAMS = 16 + MAX_PUSHES;

interface RequestStream {
  x: HttpExchange;
  dirs: [QuicStreamReassembly, QuicStreamReassembly];
  ended: [boolean, boolean];
}

export class Http3Connection {
  private streams = new Map<number, RequestStream>();
  private seen = new Set<number>();
  /** The client's and the server's encoder tables (requests use the client's). */
  private tables = [new QpackTable(), new QpackTable()];
  private uni = new Map<number, QuicStreamReassembly>();
  /** Push ID -> its exchange (request from the PUSH_PROMISE, response from the push stream). */
  private pushes = new Map<number, RequestStream>();
  private pushesSeen = new Set<number>();
  private pushByStream = new Map<number, number>();
  dropped = 0;
  errors: string[] = [];

  constructor(
    private connectionId: number, private serverIp: string, private serverPort: number, private sink: (x: HttpExchange) => void,
    private headerLists = new HeaderLists(),
  ) {}

  streamData(streamId: number, fromClient: boolean, offset: number, b: Uint8Array, off: number, len: number, fin: boolean, ts: number): void {
    if (streamId % 4 === 2 || streamId % 4 === 3) {
      this.uniStream(streamId, fromClient)?.add(offset, b, off, len, fin, ts);
      return;
    }
    if (streamId % 4 !== 0) return; // server-initiated bidirectional: not a request stream
    const s = this.stream(streamId);
    if (!s) return;
    s.dirs[fromClient ? 0 : 1].add(offset, b, off, len, fin, ts);
  }

  resetStream(streamId: number, fromClient: boolean, code: number, ts: number): void {
    const pushId = this.pushByStream.get(streamId);
    const s = pushId === undefined ? this.streams.get(streamId) : this.pushes.get(pushId);
    if (!s) return;
    if (!s.x.error) {
      s.x.error = `RESET_STREAM ${h3ErrorName(code)}`;
      s.x.errorBy = fromClient ? 'client' : 'server';
    }
    if (pushId !== undefined) this.endPush(pushId, s);
    else this.endDir(streamId, s, fromClient ? 0 : 1, ts);
  }

  /** End of capture: requests still waiting are flagged. */
  finish(): void {
    for (const s of [...this.streams.values(), ...this.pushes.values()]) {
      if (s.x.method !== null && s.x.status === null && !s.x.error) s.x.noResponse = 'capture-ended';
    }
    this.streams.clear();
    this.pushes.clear();
    this.pushByStream.clear();
  }

  private uniStream(id: number, fromClient: boolean): QuicStreamReassembly | null {
    let u = this.uni.get(id);
    if (!u) {
      if (this.uni.size >= MAX_UNI_STREAMS) return null; // a connection has a handful, and its pushes
      const own = fromClient ? 0 : 1;
      // A side's SETTINGS bound the other side's encoder table (RFC 9204 §3.2.3).
      u = new QuicStreamReassembly(new Http3UniStream((v) => {
        const cap = v.get(SETTINGS_QPACK_MAX_TABLE_CAPACITY);
        if (cap !== undefined) this.tables[1 - own].maxCapacity = cap;
      }, this.tables[own], fromClient ? null : (pushId) => this.pushStream(pushId, id), (pushId) => this.cancelPush(pushId, fromClient)));
      this.uni.set(id, u);
    }
    return u;
  }

  /** The exchange of push `pushId`, made at its PUSH_PROMISE or its push stream, whichever comes first. */
  private push(pushId: number): RequestStream | null {
    const s = this.pushes.get(pushId);
    if (s) return s;
    if (this.pushesSeen.has(pushId)) return null; // already ended
    if (this.pushes.size >= MAX_PUSHES) {
      this.dropped++;
      return null;
    }
    const x = this.exchange(null);
    x.upgrade = 'push';
    // No request direction: the request is the promise, on another stream.
    const ps: RequestStream = { x, dirs: [null!, null!], ended: [true, false] };
    this.pushes.set(pushId, ps);
    this.pushesSeen.add(pushId);
    this.sink(x);
    return ps;
  }

  /** CANCEL_PUSH (§7.2.3): the client no longer wants the push, or the server will not send it. */
  private cancelPush(pushId: number, fromClient: boolean): void {
    const s = this.pushes.get(pushId);
    if (!s) return;
    if (!s.x.error) {
      s.x.error = 'CANCEL_PUSH';
      s.x.errorBy = fromClient ? 'client' : 'server';
    }
  }

  /** Push stream `streamId` carries push `pushId`'s response. */
  private pushStream(pushId: number, streamId: number): Http3StreamParser | null {
    const s = this.push(pushId);
    if (!s || s.x.streamId != null) return null; // one push stream per push ID
    s.x.streamId = streamId;
    this.pushByStream.set(streamId, pushId);
    return new Http3StreamParser(this.events(streamId, s, false, pushId), this.tables[1]);
  }

  private stream(id: number): RequestStream | null {
    const s = this.streams.get(id);
    if (s) return s;
    if (this.seen.has(id)) return null; // already ended
    if (this.streams.size >= MAX_OPEN_STREAMS) {
      this.dropped++;
      return null;
    }
    const x = this.exchange(id);
    const ns: RequestStream = { x, dirs: [null!, null!], ended: [false, false] };
    ns.dirs[0] = new QuicStreamReassembly(new Http3StreamParser(this.events(id, ns, true), this.tables[0]));
    ns.dirs[1] = new QuicStreamReassembly(new Http3StreamParser(this.events(id, ns, false), this.tables[1]));
    this.streams.set(id, ns);
    this.seen.add(id);
    this.sink(x);
    return ns;
  }

  private exchange(streamId: number | null): HttpExchange {
    return {
      connectionId: this.connectionId, serverIp: this.serverIp, serverPort: this.serverPort,
      method: null, host: null, uri: null, version: 'HTTP/3', status: null, reason: null, interim: [], upgrade: null,
      requestTs: null, requestEndTs: null, responseTs: null, responseEndTs: null,
      requestHeaderBytes: 0, requestBodyBytes: 0, responseHeaderBytes: 0, responseBodyBytes: 0, responseGapBytes: 0, responseHeadTruncated: false,
      contentType: null, noResponse: null, protocol: 'h3', streamId, error: null, requestHeaders: null, responseHeaders: null,
      requestFrames: 0, responseFrames: 0,
    };
  }

  /** The request fields of a PUSH_PROMISE (RFC 9114 §4.6) or a request's HEADERS. */
  private request(x: HttpExchange, h: QpackSection, bytes: number): void {
    x.requestHeaderBytes += bytes;
    x.requestFrames = (x.requestFrames ?? 0) + 1;
    for (const [n, v] of h.fields) {
      if (n === ':method') x.method = v;
      else if (n === ':authority') x.host = v;
      else if (n === ':path') x.uri = v;
    }
    x.requestHeaders ??= this.headerLists.keep(h.fields);
  }

  /** Events of one direction of request stream `id` (or of push `pushId`'s push stream `id`). */
  private events(id: number, s: RequestStream, fromClient: boolean, pushId = -1): Http3StreamEvents {
    const x = s.x;
    return {
      start: (ts) => {
        if (fromClient) x.requestTs ??= ts;
      },
      headers: (h: QpackSection, bytes: number, ts: number) => {
        if (fromClient) this.request(x, h, bytes);
        else {
          x.responseHeaderBytes += bytes;
          x.responseFrames = (x.responseFrames ?? 0) + 1;
          let status: number | null = null;
          for (const [n, v] of h.fields) {
            if (n === ':status' && v !== null) status = Number(v);
            else if (n === 'content-type' && v !== null && x.status !== null) x.contentType ??= v;
          }
          if (status !== null && status >= 100 && status < 200) x.interim.push(status);
          else if (status !== null && x.status === null) {
            x.status = status;
            x.responseTs = ts;
            for (const [n, v] of h.fields) if (n === 'content-type' && v !== null) x.contentType = v;
            x.responseHeaders = this.headerLists.keep(h.fields);
          }
          if (h.error) this.note(`stream ${id}: ${h.error}`);
        }
      },
      data: (n) => {
        if (fromClient) x.requestBodyBytes += n;
        else x.responseBodyBytes += n;
      },
      fin: (ts) => {
        if (fromClient) x.requestEndTs = ts;
        else x.responseEndTs = ts;
        if (pushId >= 0) this.endPush(pushId, s);
        else this.endDir(id, s, fromClient ? 0 : 1, ts);
      },
      broken: (why) => this.note(`stream ${id}: ${why}`),
      pushPromise: fromClient ? undefined : (pushId, h, bytes, ts) => {
        const p = this.push(pushId);
        if (!p || p.x.method !== null) return; // a promise repeated on another request stream (§4.6) names the same request
        p.x.requestTs = p.x.requestEndTs = ts;
        this.request(p.x, h, bytes);
        if (h.error) this.note(`push ${pushId}: ${h.error}`);
        if (p.ended[1]) this.endPush(pushId, p);
      },
    };
  }

  private endDir(id: number, s: RequestStream, dir: 0 | 1, ts: number): void {
    s.ended[dir] = true;
    if (dir === 0) s.x.requestEndTs ??= ts;
    if (s.ended[0] && s.ended[1]) this.streams.delete(id);
  }

  private endPush(pushId: number, s: RequestStream): void {
    s.ended[1] = true;
    // Released once its response ended and its promise was read (a promise may come after the push stream).
    if (s.x.method === null) return;
    this.pushes.delete(pushId);
    if (s.x.streamId != null) this.pushByStream.delete(s.x.streamId);
  }

  private note(e: string): void {
    if (this.errors.length < 8) this.errors.push(e);
  }
}
