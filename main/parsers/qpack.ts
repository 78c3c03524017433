import { huffmanDecode } from './hpack.js';

/*
 * QPACK field sections (RFC 9204 §4.5), the header compression of HTTP/3.
 *   prefix: Required Insert Count (8-bit prefix integer) | S + Delta Base (7-bit prefix)
 *   1 T index(6)              indexed field line (T=1 static table)
 *   0 1 N T index(4) value    literal with name reference
 *   0 0 1 N H len(3) name value   literal with literal name
 *   0 0 0 1 index(4)          indexed, post-base (dynamic table)
 *   0 0 0 0 N index(3) value  literal with post-base name reference (dynamic)
 * Strings: H (Huffman, the HPACK code of RFC 7541 Appendix B) + length (7-bit prefix, or the
 * 3-bit one of a literal name). Integers as HPACK's (RFC 7541 §5.1).
 *
 * The static table (Appendix A) is complete. The dynamic table (§3.2) is rebuilt from the
 * peer's encoder stream (QpackTable.instructions, §4.3): capacity, inserts with name
 * reference or literal name, duplicates, eviction by size. A line whose entry is not (yet, or
 * any more) in the table gives null and counts in `dynamicRefs`. Nothing throws: a damaged
 * section or instruction returns what was decoded before the damage, with `error` set.
 */

/** RFC 9204 Appendix A. */
export const QPACK_STATIC_TABLE: readonly (readonly [string, string])[] = [
  [':authority', ''], [':path', '/'], ['age', '0'], ['content-disposition', ''], ['content-length', '0'], ['cookie', ''],
  ['date', ''], ['etag', ''], ['if-modified-since', ''], ['if-none-match', ''], ['last-modified', ''], ['link', ''],
  ['location', ''], ['referer', ''], ['set-cookie', ''], [':method', 'CONNECT'], [':method', 'DELETE'], [':method', 'GET'],
  [':method', 'HEAD'], [':method', 'OPTIONS'], [':method', 'POST'], [':method', 'PUT'], [':scheme', 'http'], [':scheme', 'https'],
  [':status', '103'], [':status', '200'], [':status', '304'], [':status', '404'], [':status', '503'], ['accept', '*/*'],
  ['accept', 'application/dns-message'], ['accept-encoding', 'gzip, deflate, br'], ['accept-ranges', 'bytes'],
  ['access-control-allow-headers', 'cache-control'], ['access-control-allow-headers', 'content-type'],
  ['access-control-allow-origin', '*'], ['cache-control', 'max-age=0'], ['cache-control', 'max-age=2592000'],
  ['cache-control', 'max-age=604800'], ['cache-control', 'no-cache'], ['cache-control', 'no-store'],
  ['cache-control', 'public, max-age=31536000'], ['content-encoding', 'br'], ['content-encoding', 'gzip'],
  ['content-type', 'application/dns-message'], ['content-type', 'application/javascript'], ['content-type', 'application/json'],
  ['content-type', 'application/x-www-form-urlencoded'], ['content-type', 'image/gif'], ['content-type', 'image/jpeg'],
  ['content-type', 'image/png'], ['content-type', 'text/css'], ['content-type', 'text/html; charset=utf-8'],
  ['content-type', 'text/plain'], ['content-type', 'text/plain;charset=utf-8'], ['range', 'bytes=0-'],
  ['strict-transport-security', 'max-age=31536000'], ['strict-transport-security', 'max-age=31536000; includesubdomains'],
  ['strict-transport-security', 'max-age=31536000; includesubdomains; preload'], ['vary', 'accept-encoding'], ['vary', 'origin'],
  ['x-content-type-options', 'nosniff'], ['x-xss-protection', '1; mode=block'], [':status', '100'], [':status', '204'],
  [':status', '206'], [':status', '302'], [':status', '400'], [':status', '403'], [':status', '421'], [':status', '425'],
  [':status', '500'], ['accept-language', ''], ['access-control-allow-credentials', 'FALSE'], ['access-control-allow-credentials', 'TRUE'],
  ['access-control-allow-headers', '*'], ['access-control-allow-methods', 'get'], ['access-control-allow-methods', 'get, post, options'],
  ['access-control-allow-methods', 'options'], ['access-control-expose-headers', 'content-length'],
  ['access-control-request-headers', 'content-type'], ['access-control-request-method', 'get'], ['access-control-request-method', 'post'],
  ['alt-svc', 'clear'], ['authorization', ''], ['content-security-policy', "script-src 'none'; object-src 'none'; base-uri 'none'"],
  ['early-data', '1'], ['expect-ct', ''], ['forwarded', ''], ['if-range', ''], ['origin', ''], ['purpose', 'prefetch'], ['server', ''],
  ['timing-allow-origin', '*'], ['upgrade-insecure-requests', '1'], ['user-agent', ''], ['x-forwarded-for', ''],
  ['x-frame-options', 'deny'], ['x-frame-options', 'sameorigin'],
];

export interface QpackSection {
  /** Name and value of each line; null for what lives in the dynamic table. */
  fields: [string | null, string | null][];
  requiredInsertCount: number;
  dynamicRefs: number;
  error: string | null;
}

const MAX_STRING = 16 * 1024;
const MAX_FIELDS = 512;

export class Cursor {
  p = 0;
  constructor(readonly b: Uint8Array, readonly end: number) {}

  /** RFC 7541 §5.1 integer with an n-bit prefix in the current byte; -1 when cut or too large. */
  int(n: number): number {
    if (this.p >= this.end) return -1;
    const mask = (1 << n) - 1;
    let v = this.b[this.p++] & mask;
    if (v < mask) return v;
    let shift = 0;
    for (;;) {
      if (this.p >= this.end || shift > 28) return -1;
      const c = this.b[this.p++];
      v += (c & 0x7f) * 2 ** shift;
      shift += 7;
      if ((c & 0x80) === 0) return v;
    }
  }

  /** A string whose H bit is `hBit` of the current byte and length an n-bit prefix integer. */
  str(hBit: number, n: number): string | null {
    if (this.p >= this.end) return null;
    const huffman = (this.b[this.p] & hBit) !== 0;
    const len = this.int(n);
    if (len < 0 || len > MAX_STRING || this.p + len > this.end) return null;
    const s = this.p;
    this.p += len;
    if (!huffman) return Buffer.from(this.b.buffer, this.b.byteOffset + s, len).toString('latin1');
    const out = new Uint8Array(Math.ceil((len * 8) / 5));
    const n2 = huffmanDecode(this.b, s, len, out);
    return n2 < 0 ? null : Buffer.from(out.buffer, 0, n2).toString('latin1');
  }
}

const MAX_TABLE_BYTES = 64 * 1024;
const MAX_PENDING_INSTRUCTIONS = 64 * 1024;

/**
 * One encoder's dynamic table as its decoder rebuilds it (RFC 9204 §3.2, §4.3). maxCapacity is
 * the decoder's SETTINGS_QPACK_MAX_TABLE_CAPACITY, which the Required Insert Count encoding
 * depends on (§4.5.1.1).
 */
export class QpackTable {
  /** Entries by absolute index (insertion order); evicted ones are dropped from the front. */
  private entries: [string, string][] = [];
  private first = 0;
  insertCount = 0;
  private size = 0;
  private capacity = 0;
  maxCapacity = 0;
  private pending = new Uint8Array(0);
  error: string | null = null;

  get(abs: number): [string, string] | null {
    return abs >= this.first && abs < this.insertCount ? this.entries[abs - this.first] : null;
  }

  /** Encoder stream bytes (in order); incomplete instructions wait for the next bytes. */
  instructions(b: Uint8Array, off: number, len: number): void {
    if (this.error) return;
    let buf: Uint8Array;
    if (this.pending.length > 0) {
      buf = new Uint8Array(this.pending.length + len);
      buf.set(this.pending);
      buf.set(b.subarray(off, off + len), this.pending.length);
    } else buf = b.subarray(off, off + len);
    const c = new Cursor(buf, buf.length);
    for (;;) {
      const start = c.p;
      if (c.p >= buf.length) break;
      const first = buf[c.p];
      let ok = true;
      if (first & 0x80) {
        const isStatic = (first & 0x40) !== 0;
        const i = c.int(6);
        const value = i < 0 ? null : c.str(0x80, 7);
        if (value === null) ok = false;
        else {
          const name = isStatic ? QPACK_STATIC_TABLE[i]?.[0] : this.get(this.insertCount - 1 - i)?.[0];
          if (name === undefined) return this.fail(`insert with name reference ${isStatic ? 'static' : 'dynamic'} ${i}: no such entry`);
          this.insert(name, value);
        }
      } else if (first & 0x40) {
        const name = c.str(0x20, 5);
        const value = name === null ? null : c.str(0x80, 7);
        if (value === null) ok = false;
        else this.insert(name!, value);
      } else if (first & 0x20) {
        const cap = c.int(5);
        if (cap < 0) ok = false;
        else if (cap > Math.max(this.maxCapacity, MAX_TABLE_BYTES)) return this.fail(`table capacity ${cap} above the maximum`);
        else {
          this.capacity = cap;
          this.evict();
        }
      } else {
        const i = c.int(5);
        if (i < 0) ok = false;
        else {
          const e = this.get(this.insertCount - 1 - i);
          if (!e) return this.fail(`duplicate of a missing entry ${i}`);
          this.insert(e[0], e[1]);
        }
      }
      if (!ok) {
        // Cut short: keep the rest for the next bytes (bounded).
        const rest = buf.subarray(start);
        if (rest.length > MAX_PENDING_INSTRUCTIONS) return this.fail('encoder instruction too long');
        this.pending = rest.slice();
        return;
      }
    }
    this.pending = new Uint8Array(0);
  }

  private insert(name: string, value: string): void {
    this.entries.push([name, value]);
    this.insertCount++;
    this.size += name.length + value.length + 32;
    this.evict();
  }

  private evict(): void {
    while (this.size > this.capacity && this.entries.length > 0) {
      const [n, v] = this.entries.shift()!;
      this.size -= n.length + v.length + 32;
      this.first++;
    }
  }

  private fail(why: string): void {
    this.error = why;
  }
}

/** Required Insert Count from its encoded form (RFC 9204 §4.5.1.1); -1 when invalid. */
function requiredInsertCount(encoded: number, t: QpackTable | null): number {
  if (encoded === 0) return 0;
  const maxEntries = t ? Math.floor(t.maxCapacity / 32) : 0;
  const fullRange = 2 * maxEntries;
  if (!t || encoded > fullRange) return -1;
  const maxValue = t.insertCount + maxEntries;
  const maxWrapped = Math.floor(maxValue / fullRange) * fullRange;
  let ric = maxWrapped + encoded - 1;
  if (ric > maxValue) {
    if (ric <= fullRange) return -1;
    ric -= fullRange;
  }
  return ric === 0 ? -1 : ric;
}

/** Decodes one encoded field section (the payload of an HTTP/3 HEADERS frame) against the peer's table. */
export function decodeQpackSection(b: Uint8Array, off: number, len: number, table: QpackTable | null = null): QpackSection {
  const out: QpackSection = { fields: [], requiredInsertCount: 0, dynamicRefs: 0, error: null };
  const c = new Cursor(b, off + len);
  c.p = off;
  const encoded = c.int(8);
  const sign = c.p < c.end ? b[c.p] & 0x80 : 0;
  const delta = encoded < 0 ? -1 : c.int(7);
  if (encoded < 0 || delta < 0) {
    out.error = 'field section prefix cut short';
    return out;
  }
  const ric = requiredInsertCount(encoded, table);
  out.requiredInsertCount = ric;
  const base = ric < 0 ? 0 : sign ? ric - delta - 1 : ric + delta;
  const dyn = (abs: number): [string, string] | null => (ric > 0 && table ? table.get(abs) : null);
  const fail = (why: string) => {
    out.error = why;
    return out;
  };
  while (c.p < c.end && out.fields.length < MAX_FIELDS) {
    const first = b[c.p];
    if (first & 0x80) {
      const isStatic = (first & 0x40) !== 0;
      const i = c.int(6);
      if (i < 0) return fail('indexed field line cut short');
      if (!isStatic) {
        const d = dyn(base - 1 - i);
        if (d) out.fields.push([d[0], d[1]]);
        else { out.dynamicRefs++; out.fields.push([null, null]); }
        continue;
      }
      const e = QPACK_STATIC_TABLE[i];
      if (!e) return fail(`static index ${i} out of range`);
      out.fields.push([e[0], e[1]]);
    } else if (first & 0x40) {
      const isStatic = (first & 0x10) !== 0;
      const i = c.int(4);
      if (i < 0) return fail('name reference cut short');
      const value = c.str(0x80, 7);
      if (value === null) return fail('field value cut short or bad Huffman');
      if (!isStatic) {
        const d = dyn(base - 1 - i);
        if (d) out.fields.push([d[0], value]);
        else { out.dynamicRefs++; out.fields.push([null, value]); }
        continue;
      }
      const e = QPACK_STATIC_TABLE[i];
      if (!e) return fail(`static index ${i} out of range`);
      out.fields.push([e[0], value]);
    } else if (first & 0x20) {
      const name = c.str(0x08, 3);
      if (name === null) return fail('literal name cut short or bad Huffman');
      const value = c.str(0x80, 7);
      if (value === null) return fail('field value cut short or bad Huffman');
      out.fields.push([name, value]);
    } else if (first & 0x10) {
      const i = c.int(4);
      if (i < 0) return fail('post-base index cut short');
      const d = dyn(base + i);
      if (d) out.fields.push([d[0], d[1]]);
      else { out.dynamicRefs++; out.fields.push([null, null]); }
    } else {
      const i = c.int(3);
      if (i < 0) return fail('post-base name reference cut short');
      const value = c.str(0x80, 7);
      if (value === null) return fail('field value cut short or bad Huffman');
      const d = dyn(base + i);
      if (d) out.fields.push([d[0], value]);
      else { out.dynamicRefs++; out.fields.push([null, value]); }
    }
  }
  return out;
}
