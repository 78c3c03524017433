/*
 * HPACK header decompression (RFC 7541), the decoding side only: Tapscope reads header
 * blocks an encoder wrote, it never writes any.
 *
 * A header block is a sequence of representations (§6):
 *
 *   1xxxxxxx                indexed field (§6.1), 7-bit index
 *   01xxxxxx  [name] value  literal, added to the dynamic table (§6.2.1), 6-bit name index
 *   0000xxxx  [name] value  literal, not added (§6.2.2), 4-bit name index
 *   0001xxxx  [name] value  literal, never indexed (§6.2.3), 4-bit name index
 *   001xxxxx                dynamic table size update (§6.3), 5-bit size
 *
 * A name index of 0 means a literal name follows. Strings (§5.2) are H(1 bit) + 7-bit
 * prefixed length + octets, Huffman coded (Appendix B) when H is set.
 *
 * The dynamic table is bounded by the size the decoding endpoint allows (SETTINGS_HEADER_
 * TABLE_SIZE, default 4096) and never above MAX_TABLE_SIZE. Bad input never throws:
 * `decode` returns an error text (a COMPRESSION_ERROR, RFC 9113 §4.3), after which the
 * table is out of step with the encoder's and the decoder refuses further blocks.
 */

export interface HeaderField {
  name: string;
  value: string;
}

/** Upper bound on the dynamic table whatever SETTINGS_HEADER_TABLE_SIZE says (memory per direction). */
export const MAX_TABLE_SIZE = 64 * 1024;
/** RFC 7541 §4.2 default (and SETTINGS_HEADER_TABLE_SIZE's initial value, RFC 9113 §6.5.2). */
export const DEFAULT_TABLE_SIZE = 4096;
/** §4.1: an entry's size is its name and value lengths plus 32. */
const ENTRY_OVERHEAD = 32;
/** Integers above this are refused (no legitimate index, length or size comes near it). */
const MAX_INT = 0x7fffffff;

/** Appendix A: the static table, index 1..61. */
const STATIC_TABLE: readonly (readonly [string, string])[] = [
  [':authority', ''], [':method', 'GET'], [':method', 'POST'], [':path', '/'], [':path', '/index.html'],
  [':scheme', 'http'], [':scheme', 'https'], [':status', '200'], [':status', '204'], [':status', '206'],
  [':status', '304'], [':status', '400'], [':status', '404'], [':status', '500'], ['accept-charset', ''],
  ['accept-encoding', 'gzip, deflate'], ['accept-language', ''], ['accept-ranges', ''], ['accept', ''],
  ['access-control-allow-origin', ''], ['age', ''], ['allow', ''], ['authorization', ''], ['cache-control', ''],
  ['content-disposition', ''], ['content-encoding', ''], ['content-language', ''], ['content-length', ''],
  ['content-location', ''], ['content-range', ''], ['content-type', ''], ['cookie', ''], ['date', ''], ['etag', ''],
  ['expect', ''], ['expires', ''], ['from', ''], ['host', ''], ['if-match', ''], ['if-modified-since', ''],
  ['if-none-match', ''], ['if-range', ''], ['if-unmodified-since', ''], ['last-modified', ''], ['link', ''],
  ['location', ''], ['max-forwards', ''], ['proxy-authenticate', ''], ['proxy-authorization', ''], ['range', ''],
  ['referer', ''], ['refresh', ''], ['retry-after', ''], ['server', ''], ['set-cookie', ''],
  ['strict-transport-security', ''], ['transfer-encoding', ''], ['user-agent', ''], ['vary', ''], ['via', ''],
  ['www-authenticate', ''],
];
export const STATIC_TABLE_LENGTH = STATIC_TABLE.length;

/*
 * Appendix B: the code length in bits of each symbol 0..255 and EOS (256). The code is
 * canonical — codes of one length are consecutive in symbol order, shorter codes first —
 * so the lengths alone define it (checked against Appendix B in test/parsers/hpack.test.ts).
 */
const HUFFMAN_LENGTHS = [
  13, 23, 28, 28, 28, 28, 28, 28, 28, 24, 30, 28, 28, 30, 28, 28, // 0x00
  28, 28, 28, 28, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 28, // 0x10
  6, 10, 10, 12, 13, 6, 8, 11, 10, 10, 8, 11, 8, 6, 6, 6, //         ' ' .. '/'
  5, 5, 5, 6, 6, 6, 6, 6, 6, 6, 7, 8, 15, 6, 12, 10, //              '0' .. '?'
  13, 6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, //                '@' .. 'O'
  7, 7, 7, 7, 7, 7, 7, 7, 8, 7, 8, 13, 19, 13, 14, 6, //             'P' .. '_'
  15, 5, 6, 5, 6, 5, 6, 6, 6, 5, 7, 7, 6, 6, 6, 5, //                '`' .. 'o'
  6, 7, 6, 5, 5, 6, 7, 7, 7, 7, 7, 15, 11, 14, 13, 28, //            'p' .. 0x7f
  20, 22, 20, 20, 22, 22, 22, 23, 22, 23, 23, 23, 23, 23, 24, 23, // 0x80
  24, 24, 22, 23, 24, 23, 23, 23, 23, 21, 22, 23, 22, 23, 23, 24, // 0x90
  22, 21, 20, 22, 22, 23, 23, 21, 23, 22, 22, 24, 21, 22, 23, 23, // 0xa0
  21, 21, 22, 21, 23, 22, 23, 23, 20, 22, 22, 22, 23, 22, 22, 23, // 0xb0
  26, 26, 20, 19, 22, 23, 22, 25, 26, 26, 26, 27, 27, 26, 24, 25, // 0xc0
  19, 21, 26, 27, 27, 26, 27, 24, 21, 21, 26, 26, 28, 27, 27, 27, // 0xd0
  20, 24, 20, 21, 22, 21, 21, 23, 22, 22, 25, 25, 24, 24, 26, 23, // 0xe0
  26, 27, 26, 26, 27, 27, 27, 27, 27, 28, 27, 27, 27, 27, 27, 26, // 0xf0
  30, //                                                             EOS
];
const EOS = 256;
const MAX_CODE_BITS = 30;

/**
 * Canonical decoding tables: per code length, the first code of that length, how many
 * codes have it, and where its symbols start in `huffmanSymbols` (sorted by length, then
 * symbol).
 */
const huffmanFirstCode = new Int32Array(MAX_CODE_BITS + 2);
const huffmanCount = new Int32Array(MAX_CODE_BITS + 2);
const huffmanStart = new Int32Array(MAX_CODE_BITS + 2);
const huffmanSymbols = new Uint16Array(HUFFMAN_LENGTHS.length);
(function buildHuffman() {
  for (const l of HUFFMAN_LENGTHS) huffmanCount[l]++;
  let code = 0;
  let at = 0;
  for (let l = 1; l <= MAX_CODE_BITS; l++) {
    huffmanFirstCode[l] = code;
    huffmanStart[l] = at;
    at += huffmanCount[l];
    code = (code + huffmanCount[l]) << 1;
  }
  const fill = huffmanStart.slice();
  for (let s = 0; s < HUFFMAN_LENGTHS.length; s++) huffmanSymbols[fill[HUFFMAN_LENGTHS[s]]++] = s;
})();

/** The Appendix B code of a symbol (for the test that checks the table), as [code, bits]. */
export function huffmanCode(symbol: number): [number, number] {
  const l = HUFFMAN_LENGTHS[symbol];
  let k = huffmanStart[l];
  while (huffmanSymbols[k] !== symbol) k++;
  return [huffmanFirstCode[l] + (k - huffmanStart[l]), l];
}

/**
 * Decodes `len` Huffman-coded octets of b from `off` into `out` (which must hold len * 8 / 5
 * octets); returns the decoded length, or -1 when the input is invalid: EOS inside the
 * string, or padding longer than 7 bits or not all ones (§5.2).
 */
export function huffmanDecode(b: Uint8Array, off: number, len: number, out: Uint8Array): number {
  let n = 0;
  let code = 0;
  let bits = 0;
  for (let i = off; i < off + len; i++) {
    const byte = b[i];
    for (let k = 7; k >= 0; k--) {
      code = (code << 1) | ((byte >> k) & 1);
      bits++;
      const idx = code - huffmanFirstCode[bits];
      if (idx >= 0 && idx < huffmanCount[bits]) {
        const sym = huffmanSymbols[huffmanStart[bits] + idx];
        if (sym === EOS) return -1;
        out[n++] = sym;
        code = 0;
        bits = 0;
      } else if (bits >= MAX_CODE_BITS) return -1;
    }
  }
  // Padding: the most significant bits of EOS (all ones), strictly shorter than a byte.
  if (bits > 7 || code !== (1 << bits) - 1) return -1;
  return n;
}

/** An HPACK decoding failure, with where in the block it happened. */
class HpackError {
  constructor(readonly message: string) {}
}

/** One direction's decoding context: the dynamic table the peer's encoder keeps in step with. */
export class HpackDecoder {
  /** Entries newest first: names and values in two parallel rings. */
  private names: string[] = [];
  private values: string[] = [];
  /** Ring start (index of the newest entry) and entry count. */
  private head = 0;
  private count = 0;
  /** Current table size in octets (§4.1) and its current maximum (§4.2). */
  size = 0;
  maxSize: number;
  /** The limit size updates may not exceed: the decoding endpoint's SETTINGS_HEADER_TABLE_SIZE. */
  private allowedMax: number;
  /** Set by the first error: later blocks cannot be decoded correctly. */
  failed: string | null = null;
  private scratch = new Uint8Array(256);
  private pos = 0;
  private end = 0;
  private buf: Uint8Array = this.scratch;

  constructor(allowedMax = DEFAULT_TABLE_SIZE) {
    this.allowedMax = Math.min(allowedMax, MAX_TABLE_SIZE);
    this.maxSize = this.allowedMax;
  }

  /** The decoding endpoint advertised SETTINGS_HEADER_TABLE_SIZE (RFC 9113 §6.5.2). */
  setAllowedMax(n: number): void {
    this.allowedMax = Math.min(n, MAX_TABLE_SIZE);
    // An encoder must acknowledge a reduction with a size update; a passive decoder applies it
    // at once so the table never exceeds what the endpoint allows.
    if (this.maxSize > this.allowedMax) this.setMaxSize(this.allowedMax);
  }

  /** Entries in the dynamic table. */
  get length(): number {
    return this.count;
  }

  /** Dynamic table entry i (0 = newest) as [name, value], for tests and the detail view. */
  entry(i: number): [string, string] | null {
    if (i < 0 || i >= this.count) return null;
    const k = (this.head + i) % this.names.length;
    return [this.names[k], this.values[k]];
  }

  /**
   * Decodes one complete header block b[off..off+len), calling `field` for each field in
   * order. Returns null, or the error that stopped it (fields before it were delivered).
   */
  decode(b: Uint8Array, off: number, len: number, field: (name: string, value: string, neverIndexed: boolean) => void): string | null {
    if (this.failed) return this.failed;
    this.buf = b;
    this.pos = off;
    this.end = off + len;
    let fieldsSeen = false;
    try {
      while (this.pos < this.end) {
        const c = b[this.pos];
        if (c & 0x80) {
          // §6.1 indexed header field.
          const idx = this.integer(7);
          const [n, v] = this.lookup(idx);
          field(n, v, false);
          fieldsSeen = true;
        } else if (c & 0x40) {
          // §6.2.1 literal with incremental indexing.
          const idx = this.integer(6);
          const name = idx === 0 ? this.string() : this.lookup(idx)[0];
          const value = this.string();
          this.insert(name, value);
          field(name, value, false);
          fieldsSeen = true;
        } else if (c & 0x20) {
          // §6.3 dynamic table size update: only at the start of a block (§4.2).
          if (fieldsSeen) throw new HpackError('dynamic table size update after a header field');
          const n = this.integer(5);
          if (n > this.allowedMax) throw new HpackError(`dynamic table size update to ${n} above the allowed ${this.allowedMax}`);
          this.setMaxSize(n);
        } else {
          // §6.2.2 without indexing (0000), §6.2.3 never indexed (0001).
          const never = (c & 0x10) !== 0;
          const idx = this.integer(4);
          const name = idx === 0 ? this.string() : this.lookup(idx)[0];
          const value = this.string();
          field(name, value, never);
          fieldsSeen = true;
        }
      }
    } catch (e) {
      if (!(e instanceof HpackError)) throw e;
      this.failed = `HPACK: ${e.message}`;
      return this.failed;
    }
    return null;
  }

  /** §5.1 integer with an N-bit prefix at this.pos. */
  private integer(prefixBits: number): number {
    const mask = (1 << prefixBits) - 1;
    let v = this.buf[this.pos++] & mask;
    if (v < mask) return v;
    let shift = 0;
    for (;;) {
      if (this.pos >= this.end) throw new HpackError('integer cut by the end of the block');
      const byte = this.buf[this.pos++];
      v += (byte & 0x7f) * 2 ** shift;
      if (v > MAX_INT) throw new HpackError('integer too large');
      if ((byte & 0x80) === 0) return v;
      shift += 7;
    }
  }

  /** §5.2 string literal at this.pos. */
  private string(): string {
    if (this.pos >= this.end) throw new HpackError('string literal cut by the end of the block');
    const huffman = (this.buf[this.pos] & 0x80) !== 0;
    const len = this.integer(7);
    if (len > this.end - this.pos) throw new HpackError(`string of ${len} octets longer than the rest of the block`);
    const at = this.pos;
    this.pos += len;
    if (!huffman) return Buffer.from(this.buf.buffer, this.buf.byteOffset + at, len).toString('latin1');
    const need = Math.ceil((len * 8) / 5);
    if (this.scratch.length < need) this.scratch = new Uint8Array(Math.max(need, this.scratch.length * 2));
    const n = huffmanDecode(this.buf, at, len, this.scratch);
    if (n < 0) throw new HpackError('invalid Huffman code');
    return Buffer.from(this.scratch.buffer, 0, n).toString('latin1');
  }

  /** §2.3.3 index space: static 1..61 then dynamic, newest first. */
  private lookup(idx: number): readonly [string, string] {
    if (idx === 0) throw new HpackError('index 0');
    if (idx <= STATIC_TABLE.length) return STATIC_TABLE[idx - 1];
    const e = this.entry(idx - STATIC_TABLE.length - 1);
    if (!e) throw new HpackError(`index ${idx} beyond the table (${STATIC_TABLE.length} static + ${this.count} dynamic)`);
    return e;
  }

  /** §4.4: add an entry, evicting the oldest until it fits (an entry larger than the table empties it). */
  private insert(name: string, value: string): void {
    const sz = name.length + value.length + ENTRY_OVERHEAD;
    if (sz > this.maxSize) {
      this.clear();
      return;
    }
    while (this.size + sz > this.maxSize) this.evictOldest();
    const cap = this.names.length;
    if (this.count === cap) this.grow();
    this.head = (this.head - 1 + this.names.length) % this.names.length;
    this.names[this.head] = name;
    this.values[this.head] = value;
    this.count++;
    this.size += sz;
  }

  private grow(): void {
    const cap = Math.max(8, this.names.length * 2);
    const names: string[] = new Array(cap);
    const values: string[] = new Array(cap);
    for (let i = 0; i < this.count; i++) {
      const k = (this.head + i) % this.names.length;
      names[i] = this.names[k];
      values[i] = this.values[k];
    }
    this.names = names;
    this.values = values;
    this.head = 0;
  }

  private evictOldest(): void {
    const k = (this.head + this.count - 1) % this.names.length;
    this.size -= this.names[k].length + this.values[k].length + ENTRY_OVERHEAD;
    this.names[k] = '';
    this.values[k] = '';
    this.count--;
  }

  private clear(): void {
    while (this.count > 0) this.evictOldest();
    this.size = 0;
  }

  /** §4.3: a new maximum evicts entries until the table fits. */
  private setMaxSize(n: number): void {
    this.maxSize = n;
    while (this.size > this.maxSize) this.evictOldest();
  }
}
