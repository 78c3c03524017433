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
 * The static table (Appendix A) is complete. The dynamic table is not kept: a line that
 * refers to it gives its name and value as null and counts in `dynamicRefs` (a peer whose
 * encoder uses the dynamic table then shows fewer fields; docs/quic.md). Nothing throws: a
 * damaged section returns what was decoded before the damage, with `error` set.
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

class Cursor {
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

/** Decodes one encoded field section (the payload of an HTTP/3 HEADERS frame). */
export function decodeQpackSection(b: Uint8Array, off: number, len: number): QpackSection {
  const out: QpackSection = { fields: [], requiredInsertCount: 0, dynamicRefs: 0, error: null };
  const c = new Cursor(b, off + len);
  c.p = off;
  const ric = c.int(8);
  if (ric < 0 || c.int(7) < 0) {
    out.error = 'field section prefix cut short';
    return out;
  }
  out.requiredInsertCount = ric;
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
      if (!isStatic) { out.dynamicRefs++; out.fields.push([null, null]); continue; }
      const e = QPACK_STATIC_TABLE[i];
      if (!e) return fail(`static index ${i} out of range`);
      out.fields.push([e[0], e[1]]);
    } else if (first & 0x40) {
      const isStatic = (first & 0x10) !== 0;
      const i = c.int(4);
      if (i < 0) return fail('name reference cut short');
      const value = c.str(0x80, 7);
      if (value === null) return fail('field value cut short or bad Huffman');
      if (!isStatic) { out.dynamicRefs++; out.fields.push([null, value]); continue; }
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
      if (c.int(4) < 0) return fail('post-base index cut short');
      out.dynamicRefs++;
      out.fields.push([null, null]);
    } else {
      if (c.int(3) < 0) return fail('post-base name reference cut short');
      const value = c.str(0x80, 7);
      if (value === null) return fail('field value cut short or bad Huffman');
      out.dynamicRefs++;
      out.fields.push([null, value]);
    }
  }
  return out;
}
