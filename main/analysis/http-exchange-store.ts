import { grown } from '../flows/columns.js';
import type { HttpExchange, NoResponse } from './http-exchanges.js';

const FIRST_ROWS = 1024;
/** Pool offsets that are not offsets: null, field absent, value kept aside (`odd`). */
const NULL_AT = -1;
const ABSENT_AT = -2;
const ODD_AT = -3;
const NO_INTERIM = Object.freeze([]) as unknown as number[];
const NO_RESPONSE: (NoResponse | null)[] = [null, 'reset', 'closed', 'capture-ended', 'incomplete', 'not-captured'];

/** Strings seen many times (methods, hosts, versions, reasons, content types) kept once, by id; -1 is null. */
class StringPool {
  private readonly ids = new Map<string, number>();
  private readonly values: string[] = [];
  /** Per column, the last string looked up and its id: a column mostly repeats one (the parser interns them). */
  private readonly last: (string | null)[] = [null, null, null, null, null, null, null];
  private readonly lastId = new Int32Array(7);

  id(s: string | null): number {
    if (s === null) return -1;
    let id = this.ids.get(s);
    if (id === undefined) {
      id = this.values.length;
      this.values.push(s);
      this.ids.set(s, id);
    }
    return id;
  }

  /** id(s) for column `col` (0-6), remembering the column's last string. */
  idIn(col: number, s: string | null): number {
    if (s === null) return -1;
    if (s === this.last[col]) return this.lastId[col];
    const id = this.id(s);
    this.last[col] = s;
    this.lastId[col] = id;
    return id;
  }

  value(id: number): string | null {
    return id < 0 ? null : this.values[id];
  }
}

type HeaderList = [string, string][];

/** Buffer's latin1Slice works on any Uint8Array: text without a Buffer object per string. */
const nativeLatin1 = (Buffer.prototype as unknown as { latin1Slice?: (this: Uint8Array, s: number, e: number) => string }).latin1Slice;

/**
 * Latin-1 text (every code unit below 256, as HTTP/1.x heads are read) in one growing byte
 * array: a URI or a header list costs its octets, and no string sliced from a whole head
 * keeps the head alive.
 */
class BytePool {
  private bytes = new Uint8Array(1 << 16);
  length = 0;

  /** Appends s; false (nothing written) when s has a code unit above 255. */
  putText(s: string): boolean {
    const n = s.length;
    this.room(n);
    const b = this.bytes;
    const at = this.length;
    if (n <= 256) {
      // Short text (most): copied code unit by code unit, no Buffer made.
      for (let i = 0; i < n; i++) {
        const c = s.charCodeAt(i);
        if (c > 255) return false;
        b[at + i] = c;
      }
      this.length = at + n;
      return true;
    }
    for (let i = 0; i < n; i++) if (s.charCodeAt(i) > 255) return false;
    this.length += Buffer.from(b.buffer, b.byteOffset + at, n).write(s, 'latin1');
    return true;
  }

  /** A header list as count(2) then per field nameLen(2) name valueLen(2) value; false when it does not fit that form. */
  putHeaders(list: HeaderList): boolean {
    const start = this.length;
    if (list.length > 0xffff) return false;
    this.putU16(list.length);
    for (const [name, value] of list) {
      if (name.length > 0xffff || value.length > 0xffff) return this.undo(start);
      this.putU16(name.length);
      if (!this.putText(name)) return this.undo(start);
      this.putU16(value.length);
      if (!this.putText(value)) return this.undo(start);
    }
    return true;
  }

  text(off: number, len: number): string {
    if (nativeLatin1 !== undefined) return nativeLatin1.call(this.bytes, off, off + len);
    return Buffer.from(this.bytes.buffer, this.bytes.byteOffset + off, len).toString('latin1');
  }

  headers(off: number): HeaderList {
    const out: HeaderList = [];
    let p = off;
    const n = this.u16(p);
    p += 2;
    for (let i = 0; i < n; i++) {
      const nl = this.u16(p);
      const name = this.text(p + 2, nl);
      p += 2 + nl;
      const vl = this.u16(p);
      out.push([name, this.text(p + 2, vl)]);
      p += 2 + vl;
    }
    return out;
  }

  /** The buffer holding the octets (to transfer to another thread). */
  buffer(): ArrayBuffer {
    return this.bytes.buffer as ArrayBuffer;
  }

  private undo(start: number): boolean {
    this.length = start;
    return false;
  }

  private putU16(v: number): void {
    this.room(2);
    this.bytes[this.length++] = v >> 8;
    this.bytes[this.length++] = v & 0xff;
  }

  private u16(p: number): number {
    return (this.bytes[p] << 8) | this.bytes[p + 1];
  }

  private room(n: number): void {
    if (this.length + n <= this.bytes.length) return;
    let size = this.bytes.length;
    while (size < this.length + n) size *= 2;
    const b = new Uint8Array(size);
    b.set(this.bytes.subarray(0, this.length));
    this.bytes = b;
  }
}

/*
 * HTTP EXCHANGE STORE (issue 10). Exchanges in the order they were added. An exchange is
 * a mutable object while its connection's parsers may still fill it in; once the
 * connection's parsers have seen both directions end, `settle` moves it into typed columns
 * (about 130 bytes, plus the URI's and the kept header lists' octets in a byte pool) and
 * the object is dropped. HTTP/2 and HTTP/3 exchanges (their
 * extra fields, headers lists) are never settled and stay objects. `at(i)` gives an
 * exchange as an object either way (a new object for a settled one, or with `lean` a view
 * of the columns). The columns are written only by `settle` (SettledExchange reads them).
 */
export class HttpExchangeStore {
  count = 0;
  /** Exchanges not settled: slot -> object. */
  private readonly open = new Map<number, HttpExchange>();
  readonly strings = new StringPool();
  readonly pool = new BytePool();
  /** Per row: URI, request headers, response headers as pool offset (-1 null, -2 absent, -3 in `odd`) and, for the URI, its length. */
  uriAt = new Float64Array(FIRST_ROWS);
  uriLen = new Uint32Array(FIRST_ROWS);
  headersAt = new Float64Array(FIRST_ROWS * 2);
  /** Values the pool cannot hold (a code unit above 255): row * 3 + field (0 URI, 1, 2 header lists). */
  readonly odd = new Map<number, unknown>();
  connectionId = new Int32Array(FIRST_ROWS);
  serverPort = new Uint16Array(FIRST_ROWS);
  /** String ids: server address, method, host, version, reason, upgrade, content type (7 per row). */
  text = new Int32Array(FIRST_ROWS * 7);
  /** -1 when no status. */
  status = new Int32Array(FIRST_ROWS);
  /** requestTs, requestEndTs, responseTs, responseEndTs (NaN: null). */
  times = new Float64Array(FIRST_ROWS * 4);
  /** requestHeaderBytes, requestBodyBytes, responseHeaderBytes, responseBodyBytes, responseGapBytes. */
  sizes = new Float64Array(FIRST_ROWS * 5);
  /** Bit 0: responseHeadTruncated; bits 1-3: noResponse (index in NO_RESPONSE). */
  bits = new Uint8Array(FIRST_ROWS);
  /** 1xx statuses of the few settled exchanges that had them. */
  readonly interim = new Map<number, number[]>();

  /**
   * A store that crossed a thread boundary (structured clone keeps the fields, not the
   * classes): the same object given back its classes. The sender transferred buffers() and
   * does not use its store again.
   */
  static revive(data: HttpExchangeStore): HttpExchangeStore {
    Object.setPrototypeOf(data.strings, StringPool.prototype);
    Object.setPrototypeOf(data.pool, BytePool.prototype);
    return Object.setPrototypeOf(data, HttpExchangeStore.prototype) as HttpExchangeStore;
  }

  /** The column buffers, to transfer rather than copy when the store is posted to another thread. */
  buffers(): ArrayBuffer[] {
    return [
      this.uriAt, this.uriLen, this.headersAt, this.connectionId, this.serverPort, this.text, this.status, this.times, this.sizes, this.bits,
    ].map((a) => a.buffer as ArrayBuffer).concat(this.pool.buffer());
  }

  /** Adds an exchange (kept as the object until settled); returns its slot. */
  add(x: HttpExchange): number {
    const slot = this.count++;
    if (slot >= this.connectionId.length) this.grow(slot + 1);
    this.open.set(slot, x);
    return slot;
  }

  /** Moves an HTTP/1.x exchange into the columns; its object is not read again. */
  settle(slot: number): void {
    const x = this.open.get(slot);
    if (!x || x.protocol !== undefined) return;
    this.open.delete(slot);
    this.uriAt[slot] = this.putUri(slot, x.uri);
    this.headersAt[slot * 2] = this.putHeaders(slot * 3 + 1, x.requestHeaders);
    this.headersAt[slot * 2 + 1] = this.putHeaders(slot * 3 + 2, x.responseHeaders);
    this.connectionId[slot] = x.connectionId;
    this.serverPort[slot] = x.serverPort;
    const s = this.strings;
    const t = slot * 7;
    this.text[t] = s.idIn(0, x.serverIp);
    this.text[t + 1] = s.idIn(1, x.method);
    this.text[t + 2] = s.idIn(2, x.host);
    this.text[t + 3] = s.idIn(3, x.version);
    this.text[t + 4] = s.idIn(4, x.reason);
    this.text[t + 5] = s.idIn(5, x.upgrade);
    this.text[t + 6] = s.idIn(6, x.contentType);
    this.status[slot] = x.status ?? -1;
    const m = slot * 4;
    this.times[m] = x.requestTs ?? NaN;
    this.times[m + 1] = x.requestEndTs ?? NaN;
    this.times[m + 2] = x.responseTs ?? NaN;
    this.times[m + 3] = x.responseEndTs ?? NaN;
    const z = slot * 5;
    this.sizes[z] = x.requestHeaderBytes;
    this.sizes[z + 1] = x.requestBodyBytes;
    this.sizes[z + 2] = x.responseHeaderBytes;
    this.sizes[z + 3] = x.responseBodyBytes;
    this.sizes[z + 4] = x.responseGapBytes;
    this.bits[slot] = (x.responseHeadTruncated ? 1 : 0) | (NO_RESPONSE.indexOf(x.noResponse) << 1);
    if (x.interim.length > 0) this.interim.set(slot, x.interim);
  }

  private putUri(slot: number, uri: string | null): number {
    if (uri === null) return NULL_AT;
    const at = this.pool.length;
    if (!this.pool.putText(uri)) {
      this.odd.set(slot * 3, uri);
      return ODD_AT;
    }
    this.uriLen[slot] = uri.length;
    return at;
  }

  private putHeaders(key: number, list: HeaderList | null | undefined): number {
    if (list === undefined) return ABSENT_AT;
    if (list === null) return NULL_AT;
    const at = this.pool.length;
    if (this.pool.putHeaders(list)) return at;
    this.odd.set(key, list);
    return ODD_AT;
  }

  /** The request (k 0) or response (1) header list of a settled row: undefined when absent, null when not kept. */
  headersOf(slot: number, k: 0 | 1): HeaderList | null | undefined {
    const at = this.headersAt[slot * 2 + k];
    if (at === ABSENT_AT) return undefined;
    if (at === NULL_AT) return null;
    if (at === ODD_AT) return this.odd.get(slot * 3 + 1 + k) as HeaderList;
    return this.pool.headers(at);
  }

  uriOf(slot: number): string | null {
    const at = this.uriAt[slot];
    if (at === NULL_AT) return null;
    if (at === ODD_AT) return this.odd.get(slot * 3) as string;
    return this.pool.text(at, this.uriLen[slot]);
  }

  /** The exchange in `slot` while it is not settled (the live object), else undefined. */
  live(slot: number): HttpExchange | undefined {
    return this.open.get(slot);
  }

  /**
   * The exchange in `slot` as an object (the live one, or one built from the columns).
   * `lean`: a settled one as a read-only view of the columns (two fields; no header lists;
   * a shared, frozen empty 1xx list when it had none), for readers such as the findings.
   */
  at(slot: number, lean = false): HttpExchange {
    const live = this.open.get(slot);
    if (live) return live;
    if (lean) return new SettledExchange(this, slot);
    const s = this.strings;
    const t = slot * 7;
    const m = slot * 4;
    const z = slot * 5;
    const status = this.status[slot];
    const x: HttpExchange = {
      connectionId: this.connectionId[slot], serverIp: s.value(this.text[t])!, serverPort: this.serverPort[slot],
      method: s.value(this.text[t + 1]), host: s.value(this.text[t + 2]), uri: this.uriOf(slot),
      version: s.value(this.text[t + 3]), status: status < 0 ? null : status, reason: s.value(this.text[t + 4]),
      interim: this.interimOf(slot, false), upgrade: s.value(this.text[t + 5]),
      requestTs: orNull(this.times[m]), requestEndTs: orNull(this.times[m + 1]),
      responseTs: orNull(this.times[m + 2]), responseEndTs: orNull(this.times[m + 3]),
      requestHeaderBytes: this.sizes[z], requestBodyBytes: this.sizes[z + 1],
      responseHeaderBytes: this.sizes[z + 2], responseBodyBytes: this.sizes[z + 3], responseGapBytes: this.sizes[z + 4],
      responseHeadTruncated: (this.bits[slot] & 1) !== 0,
      contentType: s.value(this.text[t + 6]), noResponse: NO_RESPONSE[this.bits[slot] >> 1],
    };
    const requestHeaders = this.headersOf(slot, 0);
    const responseHeaders = this.headersOf(slot, 1);
    if (requestHeaders !== undefined) x.requestHeaders = requestHeaders;
    if (responseHeaders !== undefined) x.responseHeaders = responseHeaders;
    return x;
  }

  interimOf(slot: number, lean: boolean): number[] {
    const v = this.interim.get(slot);
    return v ? [...v] : lean ? NO_INTERIM : [];
  }

  private grow(n: number): void {
    let rows = this.connectionId.length;
    while (rows < n) rows *= 2;
    this.connectionId = grown(this.connectionId, rows);
    this.serverPort = grown(this.serverPort, rows);
    this.text = grown(this.text, rows * 7);
    this.status = grown(this.status, rows);
    this.times = grown(this.times, rows * 4);
    this.sizes = grown(this.sizes, rows * 5);
    this.bits = grown(this.bits, rows);
    this.uriAt = grown(this.uriAt, rows);
    this.uriLen = grown(this.uriLen, rows);
    this.headersAt = grown(this.headersAt, rows * 2);
  }
}

/** A settled exchange read from the store's columns on each access (HttpExchangeStore.at lean). */
class SettledExchange implements HttpExchange {
  constructor(private readonly s: HttpExchangeStore, private readonly slot: number) {}
  get connectionId(): number { return this.s.connectionId[this.slot]; }
  get serverIp(): string { return this.s.strings.value(this.s.text[this.slot * 7])!; }
  get serverPort(): number { return this.s.serverPort[this.slot]; }
  get method(): string | null { return this.s.strings.value(this.s.text[this.slot * 7 + 1]); }
  get host(): string | null { return this.s.strings.value(this.s.text[this.slot * 7 + 2]); }
  get uri(): string | null { return this.s.uriOf(this.slot); }
  get version(): string | null { return this.s.strings.value(this.s.text[this.slot * 7 + 3]); }
  get status(): number | null { const v = this.s.status[this.slot]; return v < 0 ? null : v; }
  get reason(): string | null { return this.s.strings.value(this.s.text[this.slot * 7 + 4]); }
  get interim(): number[] { return this.s.interimOf(this.slot, true); }
  get upgrade(): string | null { return this.s.strings.value(this.s.text[this.slot * 7 + 5]); }
  get requestTs(): number | null { return orNull(this.s.times[this.slot * 4]); }
  get requestEndTs(): number | null { return orNull(this.s.times[this.slot * 4 + 1]); }
  get responseTs(): number | null { return orNull(this.s.times[this.slot * 4 + 2]); }
  get responseEndTs(): number | null { return orNull(this.s.times[this.slot * 4 + 3]); }
  get requestHeaderBytes(): number { return this.s.sizes[this.slot * 5]; }
  get requestBodyBytes(): number { return this.s.sizes[this.slot * 5 + 1]; }
  get responseHeaderBytes(): number { return this.s.sizes[this.slot * 5 + 2]; }
  get responseBodyBytes(): number { return this.s.sizes[this.slot * 5 + 3]; }
  get responseGapBytes(): number { return this.s.sizes[this.slot * 5 + 4]; }
  get responseHeadTruncated(): boolean { return (this.s.bits[this.slot] & 1) !== 0; }
  get contentType(): string | null { return this.s.strings.value(this.s.text[this.slot * 7 + 6]); }
  get noResponse(): NoResponse | null { return NO_RESPONSE[this.s.bits[this.slot] >> 1]; }
}

function orNull(v: number): number | null {
  return Number.isNaN(v) ? null : v;
}
