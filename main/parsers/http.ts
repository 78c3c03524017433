import type { StreamEnd, StreamSink } from '../reassembly/tcp-stream.js';

/*
 * HTTP/1.x message framing (RFC 9112) over one reassembled direction of a TCP stream.
 *
 *   start-line CRLF *( field-line CRLF ) CRLF [ message-body ]
 *   request-line = method SP request-target SP HTTP-version
 *   status-line  = HTTP-version SP status-code SP [ reason-phrase ]
 *
 * Only the header block is buffered (up to MAX_HEAD), and only when it spans segments: a head
 * within one segment is parsed where it lies. Bodies are counted, never kept.
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
  readonly startLine: string;
  /** Timestamp of the packet carrying the message's first byte. */
  startTs: number;
  /** Timestamp of the packet that completed the header block. */
  headTs: number;
  /** The header block was cut by a gap: only the lines before it were read. */
  truncated: boolean;
  /**
   * The header fields in order, names as sent, values trimmed (RFC 9112 §5). Read from the
   * segment's octets when first asked for: only during the `head` event (it throws after).
   */
  readonly fields: [string, string][];
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
/** The first copy of a head that spans segments, and the largest copy kept for the next message. */
const FIRST_HEAD = 512;
const KEEP_HEAD = 4096;
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

const nativeLatin1 = (Buffer.prototype as unknown as { latin1Slice?: (this: Uint8Array, s: number, e: number) => string }).latin1Slice;

function latin1(b: Uint8Array, s: number, e: number): string {
  // Buffer's own latin1Slice works on any Uint8Array: no Buffer object per string.
  if (nativeLatin1 !== undefined) return nativeLatin1.call(b, s, e);
  return Buffer.from(b.buffer, b.byteOffset + s, e - s).toString('latin1');
}

const COLON = 58;
/** Latin-1 octets String.prototype.trim and \s treat as white space (TAB, LF, VT, FF, CR, SP, NBSP). */
const WS = new Uint8Array(256);
for (const c of [9, 10, 11, 12, 13, 32, 160]) WS[c] = 1;
/** tchar (RFC 9110 §5.6.2): the octets of a method. */
const TCHAR = new Uint8Array(256);
for (const c of "!#$%&'*+.^_`|~-") TCHAR[c.charCodeAt(0)] = 1;
for (let c = 48; c <= 57; c++) TCHAR[c] = 1;
for (let c = 65; c <= 90; c++) { TCHAR[c] = 1; TCHAR[c + 32] = 1; }
/** ASCII upper case to lower case, every other octet as is. */
const LOWER = new Uint8Array(256);
for (let c = 0; c < 256; c++) LOWER[c] = c >= 65 && c <= 90 ? c + 32 : c;
const isDigit = (c: number): boolean => c >= 48 && c <= 57;
/** [A-Za-z0-9_]: the word octets of a regular expression's \b. */
const isWord = (c: number): boolean => (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95;

/** b[s..e) equals the lower-case ASCII `word`, ignoring ASCII case. */
function equalsLower(b: Uint8Array, s: number, e: number, word: string): boolean {
  if (e - s !== word.length) return false;
  for (let i = 0; i < word.length; i++) if (LOWER[b[s + i]] !== word.charCodeAt(i)) return false;
  return true;
}

/** Where the lower-case ASCII `word` occurs in b[s..e) ignoring ASCII case, from `from`; -1 if not. */
function findLower(b: Uint8Array, from: number, e: number, word: string): number {
  const last = e - word.length;
  outer: for (let p = from; p <= last; p++) {
    for (let i = 0; i < word.length; i++) if (LOWER[b[p + i]] !== word.charCodeAt(i)) continue outer;
    return p;
  }
  return -1;
}

/*
 * Short strings that repeat from message to message (methods, versions, status lines, hosts,
 * content types) are made once: a direct-mapped cache keyed by a hash of the octets, checked
 * octet by octet. A miss just makes the string (and replaces the entry).
 */
const INTERN_SLOTS = 1024;
const INTERN_MAX = 64;
const interned: (string | undefined)[] = new Array<string | undefined>(INTERN_SLOTS).fill(undefined);

/** Status lines (up to INTERN_MAX octets) and their parts, direct-mapped like `interned`. */
const STATUS_SLOTS = 256;
const statusCache: ({ line: string; version: string; status: number; reason: string } | undefined)[] = new Array<undefined>(STATUS_SLOTS).fill(undefined);

function intern(b: Uint8Array, s: number, e: number): string {
  const n = e - s;
  if (n > INTERN_MAX) return latin1(b, s, e);
  let h = 0x811c9dc5 ^ n;
  for (let i = s; i < e; i++) h = Math.imul(h ^ b[i], 0x01000193);
  const k = (h ^ (h >>> 15)) & (INTERN_SLOTS - 1);
  const c = interned[k];
  if (c !== undefined && c.length === n) {
    let i = 0;
    while (i < n && c.charCodeAt(i) === b[s + i]) i++;
    if (i === n) return c;
  }
  const str = latin1(b, s, e);
  interned[k] = str;
  return str;
}

/*
 * The lines of the header block being parsed, as scanLines found them: per line its start,
 * its LF and its first colon (-1 when none). One table for every parser: it is filled and
 * read within one feedHead call.
 */
let LINES = new Int32Array(3 * 64);
let lineCount = 0;

/**
 * Reads the header block that starts at b[base] up to `top` line by line, noting each line
 * (before the blank one) in LINES. Returns the block's length (through the blank line's LF),
 * or -1 when b[base..top) holds no blank line yet. The first line is never blank (Idle
 * skips CR and LF before a message).
 */
function scanLines(b: Uint8Array, base: number, top: number): number {
  let n = 0;
  let ls = base;
  let colon = -1;
  let k = base;
  while (k < top && b[k] !== LF) k++;
  if (k === top) return -1;
  for (;;) {
    // The line b[ls..k), k its LF, with its first colon.
    if (n * 3 + 3 > LINES.length) {
      const grown = new Int32Array(LINES.length * 2);
      grown.set(LINES);
      LINES = grown;
    }
    const t = n * 3;
    LINES[t] = ls;
    LINES[t + 1] = k;
    LINES[t + 2] = colon;
    n++;
    // The next line: its first colon, then its LF.
    ls = k + 1;
    k = ls;
    colon = -1;
    let c = 0;
    while (k < top && (c = b[k]) !== LF && c !== COLON) k++;
    if (k === top) return -1;
    if (c === COLON) {
      colon = k;
      k++;
      while (k < top && b[k] !== LF) k++;
      if (k === top) return -1;
    }
    if (k === ls || (k === ls + 1 && b[ls] === CR)) {
      lineCount = n;
      return k + 1 - base;
    }
  }
}

/** The field lines of a complete header block b[s..e) (after its start line), names as sent, values trimmed. */
function readFields(b: Uint8Array, s: number, e: number): [string, string][] {
  const out: [string, string][] = [];
  let p = s;
  while (p < e) {
    let k = p;
    while (k < e && b[k] !== LF && b[k] !== COLON) k++;
    const c = k < e && b[k] === COLON ? k : -1;
    while (k < e && b[k] !== LF) k++;
    if (c > p) {
      let ns = p;
      let ne = c;
      while (ns < ne && WS[b[ns]]) ns++;
      while (ne > ns && WS[b[ne - 1]]) ne--;
      let vs = c + 1;
      let ve = k;
      while (vs < ve && WS[b[vs]]) vs++;
      while (ve > vs && WS[b[ve - 1]]) ve--;
      out.push([intern(b, ns, ne), latin1(b, vs, ve)]);
    }
    p = k + 1;
  }
  return out;
}

/**
 * A parsed message head. Its field list is read from the header block's octets when first
 * asked for, which must be during the `head` event (the octets are the segment's, reused after).
 */
class Head implements HttpHead {
  method: string | null = null;
  uri: string | null = null;
  version = '';
  status: number | null = null;
  reason: string | null = null;
  host: string | null = null;
  contentType: string | null = null;
  contentLength = -1;
  chunked = false;
  connectionClose = false;
  upgrade: string | null = null;
  expectContinue = false;
  /** The start line when it is not `method SP uri SP version` (always for responses). */
  line: string | null = null;
  /** The field list once read, and the octets of the field lines until then (null once the event is over). */
  list: [string, string][] | null = null;
  src: Uint8Array | null = null;
  srcFrom = 0;
  srcEnd = 0;

  constructor(readonly isRequest: boolean, readonly headerBytes: number, readonly startTs: number, readonly headTs: number, readonly truncated: boolean) {}

  get startLine(): string {
    return this.line ?? `${this.method} ${this.uri} ${this.version}`;
  }

  get fields(): [string, string][] {
    if (this.list === null) {
      if (this.src === null) throw new Error('HttpHead.fields is read during the head event only');
      this.list = readFields(this.src, this.srcFrom, this.srcEnd);
    }
    return this.list;
  }
}

/** One direction of an HTTP/1.x connection. */
export class Http1StreamParser implements StreamSink {
  private st = S.Idle;
  /** The header block so far when it spans segments; null until one does (most never do). */
  private head: Uint8Array | null = null;
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
    const h = this.head === null || this.headLen === 0 ? null : this.parseHead(this.head, 0, this.headLen, ts, true);
    if (!h) return false;
    this.messages++;
    this.bodyBytes = 0;
    this.bodyGap = 0;
    this.emitHead(h);
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
    const before = this.headLen;
    const take = Math.min(end - i, MAX_HEAD - before);
    // The block so far: in place in this segment when it starts here, else the copy of its earlier part.
    let h = b;
    let base = i;
    if (before > 0) {
      this.append(b, i, take);
      h = this.head!;
      base = 0;
    }
    const len = before + take;
    const top = base + len;
    // Reject early what cannot be a start line.
    const ok = looksLikeStart(h, base, top, this.isRequest, false);
    if (ok < 0) return this.rejectHead(i);
    if (this.isRequest && len >= H2_PREFACE.length && h[base] === 0x50 && h[base + 1] === 0x52 && h[base + 2] === 0x49) {
      let pre = true;
      for (let k = 0; k < H2_PREFACE.length; k++) if (h[base + k] !== H2_PREFACE[k]) pre = false;
      if (pre) {
        this.st = S.Dead;
        this.ev.http2Preface(ts);
        return end;
      }
    }
    // Find the blank line ending the header block (CRLFCRLF, or bare LFLF). A block that
    // starts in this segment is read line by line once, its lines noted for parseHead.
    let stop = -1;
    if (before === 0) stop = scanLines(h, base, top);
    else {
      for (let k = base + this.scanFrom; k < top; k++) {
        if (h[k] !== LF) continue;
        if (k - 1 >= base && h[k - 1] === LF) { stop = k + 1 - base; break; }
        if (k - 2 >= base && h[k - 1] === CR && h[k - 2] === LF) { stop = k + 1 - base; break; }
      }
      if (stop >= 0) scanLines(h, base, base + stop);
    }
    if (stop < 0) {
      this.scanFrom = len;
      if (len >= MAX_HEAD) return this.rejectHead(i);
      // The first line must end within a sane length.
      if (len > 8192 && h.subarray(base, top).indexOf(LF) < 0) return this.rejectHead(i);
      if (before === 0) this.append(b, i, take);
      return i + take;
    }
    const head = this.parseHead(h, base, stop, ts);
    if (!head) return this.rejectHead(i);
    this.messages++;
    this.bodyBytes = 0;
    this.bodyGap = 0;
    this.emitHead(head);
    // A long head's copy is not kept for the next message.
    if (this.head !== null && this.head.length > KEEP_HEAD) this.head = null;
    this.startBody(head, ts);
    return i + stop - before;
  }

  /** Copies b[i..i+n) after the block's earlier part (growing the copy, within MAX_HEAD). */
  private append(b: Uint8Array, i: number, n: number): void {
    const need = this.headLen + n;
    if (this.head === null || need > this.head.length) {
      const h = new Uint8Array(Math.min(MAX_HEAD, Math.max(FIRST_HEAD, need * 2)));
      if (this.head !== null) h.set(this.head.subarray(0, this.headLen));
      this.head = h;
    }
    this.head.set(b.subarray(i, i + n), this.headLen);
    this.headLen = need;
  }

  /** Delivers a head; its field list can be read during the event only (the octets are the segment's). */
  private emitHead(h: Head): void {
    this.ev.head(h);
    h.src = null;
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

  /**
   * The head in b[base..base+len): a whole header block, or with `truncated` the part of one
   * a gap cut. Null when the start line is not one of this direction's.
   */
  private parseHead(b: Uint8Array, base: number, len: number, ts: number, truncated = false): Head | null {
    if (truncated) return this.parseCutHead(latin1(b, base, base + len), ts);
    // The block's lines are in LINES (scanLines): the start line, then field lines.
    const h = new Head(this.isRequest, len, this.startTs, ts, false);
    const fe = LINES[1];
    const le = fe > base && b[fe - 1] === CR ? fe - 1 : fe;
    if (this.isRequest ? !requestLine(h, b, base, le) : !statusLine(h, b, base, le)) return null;
    h.src = b;
    h.srcFrom = fe + 1;
    h.srcEnd = base + len;
    // The fields the analysis reads, compared and parsed on the octets.
    const n3 = lineCount * 3;
    for (let t = 3; t < n3; t += 3) {
      const c = LINES[t + 2];
      const p = LINES[t];
      if (c <= p) continue; // no colon, or no name before it
      let ns = p;
      let ne = c;
      while (ns < ne && WS[b[ns]]) ns++;
      while (ne > ns && WS[b[ne - 1]]) ne--;
      const n = ne - ns;
      if (n >= 4 && n <= 17) {
        let vs = c + 1;
        let ve = LINES[t + 1];
        while (vs < ve && WS[b[vs]]) vs++;
        while (ve > vs && WS[b[ve - 1]]) ve--;
        field(h, b, ns, ne, vs, ve);
      }
    }
    return h;
  }

  /** A head cut by a gap (rare): read as text, like a whole one, minus its cut last line. */
  private parseCutHead(text: string, ts: number): Head | null {
    const h = new Head(this.isRequest, text.length, this.startTs, ts, true);
    const lines = text.split('\n');
    lines.pop(); // the last line is cut (it may be the start line itself)
    const first = lines.length === 0 ? text : (lines.shift() ?? '').replace(/\r$/, '');
    h.line = first;
    if (this.isRequest) {
      // Like Wireshark: the target ends at the next space, the version is the last word.
      const m = lines.length === 0 ? /^([!#$%&'*+.^_`|~0-9A-Za-z-]+) +(\S+) /.exec(first) : /^([!#$%&'*+.^_`|~0-9A-Za-z-]+) +(\S+)/.exec(first);
      if (!m) return null;
      h.method = m[1];
      h.uri = m[2];
      h.version = / (HTTP\/\d\.\d)\s*$/.exec(first)?.[1] ?? '';
    } else {
      const m = lines.length === 0 ? /^(HTTP\/\d\.\d) +(\d{3})(?: (.*))?/.exec(first) : /^(HTTP\/\d\.\d) +(\d{3})(?: (.*))?$/.exec(first);
      if (!m) return null;
      h.version = m[1];
      h.status = Number(m[2]);
      h.reason = m[3] ?? '';
    }
    const list: [string, string][] = [];
    for (const line of lines) {
      const b = Buffer.from(line, 'latin1');
      const c = b.indexOf(COLON);
      if (c <= 0) continue;
      let ns = 0;
      let ne = c;
      while (ns < ne && WS[b[ns]]) ns++;
      while (ne > ns && WS[b[ne - 1]]) ne--;
      let vs = c + 1;
      let ve = b.length;
      while (vs < ve && WS[b[vs]]) vs++;
      while (ve > vs && WS[b[ve - 1]]) ve--;
      list.push([latin1(b, ns, ne), latin1(b, vs, ve)]);
      field(h, b, ns, ne, vs, ve);
    }
    h.list = list;
    return h;
  }
}

/**
 * request-line b[s..e) (CR LF excluded) into h; false when it is not one. Like Wireshark: the
 * target ends at the next space, the version is the last word (HTTP/0.9 when there is none).
 */
function requestLine(h: Head, b: Uint8Array, s: number, e: number): boolean {
  let p = s;
  while (p < e && TCHAR[b[p]]) p++;
  if (p === s || p === e || b[p] !== SP) return false;
  const me = p;
  while (p < e && b[p] === SP) p++;
  if (p === e || WS[b[p]]) return false;
  const us = p;
  while (p < e && !WS[b[p]]) p++;
  h.method = intern(b, s, me);
  h.uri = latin1(b, us, p);
  // The common form "METHOD SP target SP HTTP/d.d" is read on the octets, any other from its text.
  if (me + 1 === us && e - p === 9 && b[p] === SP && isHttpVersion(b, p + 1)) {
    h.version = intern(b, p + 1, e);
    return true;
  }
  const line = latin1(b, s, e);
  h.line = line;
  h.version = / (HTTP\/\d\.\d)\s*$/.exec(line)?.[1] ?? 'HTTP/0.9';
  return true;
}

/** status-line b[s..e) (CR LF excluded) into h: HTTP/d.d SP+ 3DIGIT [ SP reason ]; false when it is not one. */
function statusLine(h: Head, b: Uint8Array, s: number, e: number): boolean {
  const n = e - s;
  // A status line seen before (most responses repeat a few): its parts from the cache.
  let k = -1;
  if (n <= INTERN_MAX) {
    let hash = 0x811c9dc5 ^ n;
    for (let i = s; i < e; i++) hash = Math.imul(hash ^ b[i], 0x01000193);
    k = (hash ^ (hash >>> 15)) & (STATUS_SLOTS - 1);
    const c = statusCache[k];
    if (c !== undefined && c.line.length === n) {
      let i = 0;
      while (i < n && c.line.charCodeAt(i) === b[s + i]) i++;
      if (i === n) {
        h.version = c.version;
        h.status = c.status;
        h.reason = c.reason;
        h.line = c.line;
        return true;
      }
    }
  }
  if (n < 12 || !isHttpVersion(b, s) || b[s + 8] !== SP) return false;
  let p = s + 8;
  while (p < e && b[p] === SP) p++;
  if (e - p < 3 || !isDigit(b[p]) || !isDigit(b[p + 1]) || !isDigit(b[p + 2])) return false;
  const status = (b[p] - 48) * 100 + (b[p + 1] - 48) * 10 + (b[p + 2] - 48);
  p += 3;
  if (p < e) {
    // A reason phrase: a space then anything but CR (a second CR before the LF is no status line).
    if (b[p] !== SP) return false;
    for (let q = p + 1; q < e; q++) if (b[q] === CR) return false;
  }
  h.version = intern(b, s, s + 8);
  h.status = status;
  h.reason = p < e ? intern(b, p + 1, e) : '';
  h.line = intern(b, s, e);
  if (k >= 0) statusCache[k] = { line: h.line, version: h.version, status, reason: h.reason };
  return true;
}

/** "HTTP/" DIGIT "." DIGIT at b[p..p+8). */
function isHttpVersion(b: Uint8Array, p: number): boolean {
  for (let i = 0; i < 5; i++) if (b[p + i] !== HTTP1[i]) return false;
  return isDigit(b[p + 5]) && b[p + 6] === 0x2e && isDigit(b[p + 7]);
}

/** The field b[ns..ne): b[vs..ve) (both trimmed) when it is one the analysis reads. */
function field(h: Head, b: Uint8Array, ns: number, ne: number, vs: number, ve: number): void {
  switch (ne - ns) {
    case 4:
      if (h.host === null && equalsLower(b, ns, ne, 'host')) h.host = intern(b, vs, ve);
      break;
    case 12:
      if (equalsLower(b, ns, ne, 'content-type')) h.contentType = intern(b, vs, ve);
      break;
    case 14:
      if (equalsLower(b, ns, ne, 'content-length')) {
        // Digits only: their value; anything else as Number() reads the first comma-separated part.
        let v = 0;
        let k = vs;
        while (k < ve && k - vs < 15 && isDigit(b[k])) v = v * 10 + (b[k++] - 48);
        if (k !== ve || k === vs) v = Number(latin1(b, vs, ve).split(',')[0]);
        if (Number.isInteger(v) && v >= 0) h.contentLength = v;
      }
      break;
    case 17:
      if (equalsLower(b, ns, ne, 'transfer-encoding') && ve - vs >= 7 && equalsLower(b, ve - 7, ve, 'chunked')) h.chunked = true;
      break;
    case 10:
      if (equalsLower(b, ns, ne, 'connection')) {
        // \bclose\b, ignoring case.
        for (let p = findLower(b, vs, ve, 'close'); p >= 0; p = findLower(b, p + 1, ve, 'close')) {
          if ((p === vs || !isWord(b[p - 1])) && (p + 5 === ve || !isWord(b[p + 5]))) {
            h.connectionClose = true;
            break;
          }
        }
      }
      break;
    case 7:
      if (equalsLower(b, ns, ne, 'upgrade')) h.upgrade = intern(b, vs, ve);
      break;
    case 6:
      if (equalsLower(b, ns, ne, 'expect') && findLower(b, vs, ve, '100-continue') >= 0) h.expectContinue = true;
      break;
  }
}
