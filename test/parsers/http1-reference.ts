// The HTTP/1.x parser as it was before issue 10 (main/parsers/http.ts at a51259e): text-based
// head parsing, kept unchanged as the oracle of http1-parsing.test.ts. Not used by the engine.
import type { StreamEnd, StreamSink } from '../../main/reassembly/tcp-stream.js';

/*
 * HTTP/1.x message framing (RFC 9112) over one reassembled direction of a TCP stream.
 *
 *   start-line CRLF *( field-line CRLF ) CRLF [ message-body ]
 *   request-line = method SP request-target SP HTTP-version
 *   status-line  = HTTP-version SP status-code SP [ reason-phrase ]
 *
 * Only the header block is buffered (up to MAX_HEAD); bodies are counted, never kept.
 * Body length follows RFC 9112 §6.3: no body for HEAD responses, 1xx, 204 and 304;
 * chunked; Content-Length; otherwise a response runs until the connection closes.
 * After a gap (bytes the capture lost) inside a header or chunk framing the parser
 * resynchronises at the next line that starts a message; a gap inside a body of known
 * length is just counted.
 */

export interface HttpHead {
  isRequest: boolean;
  method: string | null;
  uri: string | null;
  version: string;
  status: number | null;
  reason: string | null;
  host: string | null;
  contentType: string | null;
  contentLength: number;
  chunked: boolean;
  connectionClose: boolean;
  upgrade: string | null;
  expectContinue: boolean;
  headerBytes: number;
  /** The request or status line as sent (latin-1, without CR LF). */
  startLine: string;
  /** Timestamp of the packet carrying the message's first byte. */
  startTs: number;
  /** Timestamp of the packet that completed the header block. */
  headTs: number;
  /** The header block was cut by a gap: only the lines before it were read. */
  truncated: boolean;
  /** The header fields in order, names as sent, values trimmed (RFC 9112 §5). */
  fields: [string, string][];
}

export interface HttpParserEvents {
  head(h: HttpHead): void;
  /** The message (head and body) is complete. bodyBytes counts the body on the wire (chunk framing included). */
  messageEnd(ts: number, bodyBytes: number, bodyGapBytes: number): void;
  /**
   * The message was cut: its framing was lost in a gap (`how` undefined), or the stream
   * ended before it was complete (`how` says how). bodyGapBytes: body bytes the capture
   * lost before the cut (so the cut may be the capture's, not the endpoints').
   */
  messageAbort(ts: number, bodyBytes: number, how?: StreamEnd, bodyGapBytes?: number): void;
  /** The client sent the HTTP/2 connection preface (RFC 9113 §3.4). */
  http2Preface(ts: number): void;
  /** Bytes were lost where message framing was needed: what follows may skip messages. */
  lostSync?(ts: number): void;
  /** Bytes that followed, in the same segment, the head that switched protocols (101, CONNECT). */
  tunnelData?(b: Uint8Array, off: number, len: number, ts: number): void;
  /** Responses only: true when the pending request makes this response bodiless (HEAD). */
  requestWasHead?(): boolean;
  end(ts: number, how: StreamEnd): void;
}

const enum S {
  Idle,
  Head,
  BodyLen,
  ChunkLine,
  ChunkData,
  ChunkCrlf,
  Trailer,
  UntilClose,
  Tunnel,
  Resync,
  Dead,
}

const MAX_HEAD = 64 * 1024;
const MAX_CHUNK_LINE = 1024;
const CR = 13;
const LF = 10;
const SP = 32;

const METHODS = ['GET', 'POST', 'HEAD', 'PUT', 'DELETE', 'OPTIONS', 'PATCH', 'CONNECT', 'TRACE', 'PROPFIND', 'PROPPATCH', 'MKCOL', 'COPY', 'MOVE', 'LOCK', 'UNLOCK', 'REPORT', 'SEARCH', 'PURGE'];
const METHOD_BYTES = METHODS.map((m) => Buffer.from(m + ' ', 'latin1'));
const HTTP1 = Buffer.from('HTTP/1.', 'latin1');
const H2_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n', 'latin1');

/** Does b[o..end) start like a message of this kind? 1 yes, 0 not yet known, -1 no. */
function looksLikeStart(b: Uint8Array, o: number, end: number, isRequest: boolean, strict: boolean): number {
  const n = end - o;
  if (!isRequest) {
    const k = Math.min(n, HTTP1.length);
    for (let i = 0; i < k; i++) if (b[o + i] !== HTTP1[i]) return -1;
    return k === HTTP1.length ? 1 : 0;
  }
  if (strict) {
    let partial = false;
    for (const m of METHOD_BYTES) {
      const k = Math.min(n, m.length);
      let i = 0;
      while (i < k && b[o + i] === m[i]) i++;
      if (i === m.length) return 1;
      if (i === k) partial = true;
    }
    if (n >= 3 && b[o] === 0x50 && b[o + 1] === 0x52 && b[o + 2] === 0x49) return n >= 4 ? (b[o + 3] === SP ? 1 : -1) : 0; // PRI (HTTP/2 preface)
    return partial ? 0 : -1;
  }
  // A token of upper-case letters (or '-', '_') then a space: RFC 9110 §9 allows any token.
  for (let i = 0; i < n && i <= 20; i++) {
    const c = b[o + i];
    if (c === SP) return i >= 3 ? 1 : -1;
    if (!((c >= 65 && c <= 90) || c === 45 || c === 95)) return -1;
  }
  return n > 20 ? -1 : 0;
}

function latin1(b: Uint8Array, s: number, e: number): string {
  return Buffer.from(b.buffer, b.byteOffset + s, e - s).toString('latin1');
}

/** One direction of an HTTP/1.x connection. */
export class Http1StreamParser implements StreamSink {
  private st = S.Idle;
  private head = new Uint8Array(1024);
  private headLen = 0;
  private scanFrom = 0;
  private startTs = 0;
  private remaining = 0;
  private bodyBytes = 0;
  private bodyGap = 0;
  private atLineStart = true;
  private chunkLine = '';
  private lineLen = 0;
  messages = 0;
  notHttpBytes = 0;

  constructor(readonly isRequest: boolean, private ev: HttpParserEvents, midStream = false) {
    if (midStream) this.st = S.Resync;
  }

  /** Everything after this point is another protocol (101 Switching Protocols, CONNECT). */
  tunnel(): void {
    this.st = S.Tunnel;
  }

  get dead(): boolean {
    return this.st === S.Dead || this.st === S.Tunnel;
  }

  data(b: Uint8Array, off: number, len: number, ts: number): void {
    let i = off;
    const end = off + len;
    while (i < end) {
      switch (this.st) {
        case S.Idle: {
          // Stray CRLFs between messages are allowed (RFC 9112 §2.2).
          while (i < end && (b[i] === CR || b[i] === LF)) i++;
          if (i === end) return;
          const ok = looksLikeStart(b, i, end, this.isRequest, false);
          if (ok < 0) {
            this.st = S.Resync;
            this.atLineStart = false;
            break;
          }
          this.startTs = ts;
          this.headLen = 0;
          this.scanFrom = 0;
          this.st = S.Head;
          break;
        }
        case S.Head:
          i = this.feedHead(b, i, end, ts);
          break;
        case S.BodyLen: {
          const n = Math.min(this.remaining, end - i);
          this.remaining -= n;
          this.bodyBytes += n;
          i += n;
          if (this.remaining === 0) this.finishMessage(ts);
          break;
        }
        case S.ChunkLine: {
          let j = i;
          while (j < end && b[j] !== LF) j++;
          if (this.chunkLine.length + (j - i) > MAX_CHUNK_LINE) {
            this.abort(ts);
            break;
          }
          this.chunkLine += latin1(b, i, j);
          this.bodyBytes += j - i;
          if (j === end) {
            i = end;
            break;
          }
          this.bodyBytes++;
          i = j + 1;
          const size = parseInt(this.chunkLine.trim().split(';')[0], 16);
          this.chunkLine = '';
          if (!Number.isFinite(size) || size < 0) {
            this.abort(ts);
            break;
          }
          if (size === 0) {
            this.st = S.Trailer;
            this.lineLen = 0;
          }
          else {
            this.remaining = size;
            this.st = S.ChunkData;
          }
          this.atLineStart = true;
          break;
        }
        case S.ChunkData: {
          const n = Math.min(this.remaining, end - i);
          this.remaining -= n;
          this.bodyBytes += n;
          i += n;
          if (this.remaining === 0) this.st = S.ChunkCrlf;
          break;
        }
        case S.ChunkCrlf: {
          // CRLF after chunk data; accept a bare LF.
          const c = b[i++];
          this.bodyBytes++;
          if (c === LF) this.st = S.ChunkLine;
          else if (c !== CR) {
            this.abort(ts);
            i--;
            this.bodyBytes--;
          }
          break;
        }
        case S.Trailer: {
          // Trailer section: field lines until an empty one (which may be split across segments).
          let j = i;
          while (j < end && b[j] !== LF) {
            if (b[j] !== CR || this.lineLen > 0) this.lineLen++;
            j++;
          }
          this.bodyBytes += j - i + (j < end ? 1 : 0);
          if (j === end) {
            i = end;
            break;
          }
          i = j + 1;
          const empty = this.lineLen === 0;
          this.lineLen = 0;
          if (empty) this.finishMessage(ts);
          break;
        }
        case S.UntilClose:
          this.bodyBytes += end - i;
          i = end;
          break;
        case S.Tunnel:
          // The bytes after a 101 or CONNECT head belong to the protocol switched to.
          this.ev.tunnelData?.(b, i, end - i, ts);
          return;
        case S.Dead:
          return;
        case S.Resync:
          i = this.resync(b, i, end);
          break;
      }
    }
  }

  gap(len: number, ts: number): void {
    switch (this.st) {
      case S.BodyLen:
        if (len <= this.remaining) {
          this.remaining -= len;
          this.bodyBytes += len;
          this.bodyGap += len;
          if (this.remaining === 0) this.finishMessage(ts);
          return;
        }
        this.abort(ts);
        break;
      case S.ChunkData:
        if (len < this.remaining) {
          this.remaining -= len;
          this.bodyBytes += len;
          this.bodyGap += len;
          return;
        }
        this.abort(ts);
        break;
      case S.UntilClose:
        this.bodyBytes += len;
        this.bodyGap += len;
        return;
      case S.Head:
        // Header block cut (snaplen, lost segment): a complete start line is still a message.
        if (this.partialHead(ts)) return;
        this.abort(ts);
        break;
      case S.ChunkLine:
      case S.ChunkCrlf:
      case S.Trailer:
        this.abort(ts);
        break;
      case S.Tunnel:
      case S.Dead:
        return;
      default:
        break;
    }
    // Data after a gap starts at a segment boundary, where a message often starts.
    this.st = S.Resync;
    this.atLineStart = true;
    this.ev.lostSync?.(ts);
  }

  end(ts: number, how: StreamEnd): void {
    if (this.st === S.UntilClose) this.finishMessage(ts);
    else if (this.st === S.Head || this.st === S.BodyLen || this.st === S.ChunkLine || this.st === S.ChunkData || this.st === S.ChunkCrlf || this.st === S.Trailer) {
      this.ev.messageAbort(ts, this.bodyBytes, how, this.bodyGap);
    }
    this.st = S.Dead;
    this.ev.end(ts, how);
  }

  /**
   * A gap inside the header block: when the start line is complete, report the message
   * with what was read (its headers and body are unknown) and resynchronise after it.
   */
  private partialHead(ts: number): boolean {
    const h = this.parseHead(this.headLen, ts, true);
    if (!h) return false;
    this.messages++;
    this.bodyBytes = 0;
    this.bodyGap = 0;
    this.ev.head(h);
    this.headLen = 0;
    this.st = S.Resync;
    this.atLineStart = false;
    this.ev.messageEnd(ts, 0, 0);
    return true;
  }

  private abort(ts: number): void {
    if (this.st !== S.Idle && this.st !== S.Resync) this.ev.messageAbort(ts, this.bodyBytes);
    this.st = S.Resync;
    this.atLineStart = false;
    this.headLen = 0;
  }

  /** Scans for the next line that starts a message; returns where to continue. */
  private resync(b: Uint8Array, i: number, end: number): number {
    for (; i < end; i++) {
      if (this.atLineStart) {
        const ok = looksLikeStart(b, i, end, this.isRequest, true);
        if (ok > 0 || (ok === 0 && end - i < 16)) {
          // Candidate (complete, or cut by the segment end): the head parser validates it.
          this.st = S.Idle;
          this.atLineStart = true;
          return i;
        }
      }
      this.notHttpBytes++;
      this.atLineStart = b[i] === LF;
    }
    return end;
  }

  private feedHead(b: Uint8Array, i: number, end: number, ts: number): number {
    const n = end - i;
    if (this.headLen + n > this.head.length) {
      const want = Math.min(MAX_HEAD, Math.max(this.head.length * 2, this.headLen + n));
      if (want > this.head.length) {
        const h = new Uint8Array(want);
        h.set(this.head.subarray(0, this.headLen));
        this.head = h;
      }
    }
    const take = Math.min(n, this.head.length - this.headLen);
    this.head.set(b.subarray(i, i + take), this.headLen);
    this.headLen += take;
    const h = this.head;
    // Reject early what cannot be a start line.
    const ok = looksLikeStart(h, 0, this.headLen, this.isRequest, false);
    if (ok < 0) return this.rejectHead(i);
    if (this.isRequest && this.headLen >= H2_PREFACE.length && h[0] === 0x50 && h[1] === 0x52 && h[2] === 0x49) {
      let pre = true;
      for (let k = 0; k < H2_PREFACE.length; k++) if (h[k] !== H2_PREFACE[k]) pre = false;
      if (pre) {
        this.st = S.Dead;
        this.ev.http2Preface(ts);
        return end;
      }
    }
    // Find the blank line ending the header block (CRLFCRLF, or bare LFLF).
    let k = Math.max(0, this.scanFrom);
    let stop = -1;
    for (; k < this.headLen; k++) {
      if (h[k] !== LF) continue;
      if (k >= 1 && h[k - 1] === LF) { stop = k + 1; break; }
      if (k >= 2 && h[k - 1] === CR && h[k - 2] === LF) { stop = k + 1; break; }
    }
    if (stop < 0) {
      this.scanFrom = this.headLen;
      if (this.headLen >= MAX_HEAD) return this.rejectHead(i);
      // The first line must end within a sane length.
      if (this.headLen > 8192 && h.subarray(0, this.headLen).indexOf(LF) < 0) return this.rejectHead(i);
      return i + take;
    }
    const consumed = stop - (this.headLen - take);
    const head = this.parseHead(stop, ts);
    if (!head) return this.rejectHead(i);
    this.messages++;
    this.bodyBytes = 0;
    this.bodyGap = 0;
    this.ev.head(head);
    this.startBody(head, ts);
    return i + consumed;
  }

  /** Not a message start after all: resume scanning one byte after where it began. */
  private rejectHead(i: number): number {
    this.headLen = 0;
    this.st = S.Resync;
    this.atLineStart = false;
    return i;
  }

  private startBody(h: HttpHead, ts: number): void {
    let noBody = false;
    if (!this.isRequest) {
      const s = h.status ?? 0;
      if ((s >= 100 && s < 200) || s === 204 || s === 304 || this.ev.requestWasHead?.()) noBody = true;
    }
    if (noBody) return this.finishMessage(ts);
    if (h.chunked) {
      this.st = S.ChunkLine;
      this.chunkLine = '';
    } else if (h.contentLength >= 0) {
      if (h.contentLength === 0) return this.finishMessage(ts);
      this.remaining = h.contentLength;
      this.st = S.BodyLen;
    } else if (this.isRequest) this.finishMessage(ts);
    else this.st = S.UntilClose;
  }

  private finishMessage(ts: number): void {
    // A 101 head switched protocols (tunnel()) while being delivered: the rest is not HTTP/1.
    if (this.st !== S.Tunnel) this.st = S.Idle;
    this.atLineStart = true;
    this.ev.messageEnd(ts, this.bodyBytes, this.bodyGap);
  }

  private parseHead(len: number, ts: number, truncated = false): HttpHead | null {
    const text = latin1(this.head, 0, len);
    const lines = text.split('\n');
    if (truncated) lines.pop(); // the last line is cut (it may be the start line itself)
    const first = truncated && lines.length === 0 ? text : (lines.shift() ?? '').replace(/\r$/, '');
    const h: HttpHead = {
      isRequest: this.isRequest, method: null, uri: null, version: '', status: null, reason: null, host: null,
      contentType: null, contentLength: -1, chunked: false, connectionClose: false, upgrade: null, expectContinue: false,
      headerBytes: len, startLine: first, startTs: this.startTs, headTs: ts, truncated, fields: [],
    };
    if (this.isRequest) {
      // Like Wireshark: the target ends at the next space, the version is the last word.
      const m = truncated && lines.length === 0
        ? /^([!#$%&'*+.^_`|~0-9A-Za-z-]+) +(\S+) /.exec(first)
        : /^([!#$%&'*+.^_`|~0-9A-Za-z-]+) +(\S+)/.exec(first);
      if (!m) return null;
      h.method = m[1];
      h.uri = m[2];
      h.version = / (HTTP\/\d\.\d)\s*$/.exec(first)?.[1] ?? (truncated ? '' : 'HTTP/0.9');
    } else {
      const m = truncated && lines.length === 0 ? /^(HTTP\/\d\.\d) +(\d{3})(?: (.*))?/.exec(first) : /^(HTTP\/\d\.\d) +(\d{3})(?: (.*))?$/.exec(first);
      if (!m) return null;
      h.version = m[1];
      h.status = Number(m[2]);
      h.reason = m[3] ?? '';
    }
    for (const line of lines) {
      const c = line.indexOf(':');
      if (c <= 0) continue;
      const sent = line.slice(0, c).trim();
      const name = sent.toLowerCase();
      const value = line.slice(c + 1).trim();
      h.fields.push([sent, value]);
      switch (name) {
        case 'host':
          if (h.host === null) h.host = value;
          break;
        case 'content-type':
          h.contentType = value;
          break;
        case 'content-length': {
          const v = Number(value.split(',')[0]);
          if (Number.isInteger(v) && v >= 0) h.contentLength = v;
          break;
        }
        case 'transfer-encoding':
          if (/chunked\s*$/i.test(value)) h.chunked = true;
          break;
        case 'connection':
          if (/\bclose\b/i.test(value)) h.connectionClose = true;
          break;
        case 'upgrade':
          h.upgrade = value;
          break;
        case 'expect':
          if (/100-continue/i.test(value)) h.expectContinue = true;
          break;
      }
    }
    return h;
  }
}
