/*
 * JSON text written as UTF-8 octets into a chunk buffer, handed to `sink` about every
 * CHUNK octets (a new buffer each time, as the sink may keep it, unless told otherwise). The report writer
 * (report-json.ts) puts whole values as JSON.stringify text and the big arrays field by
 * field: numbers formatted here exactly as JSON.stringify formats them (fastNumber below),
 * constant keys and interned strings as ready octets. No string per field, no string per
 * element: nothing for the garbage collector but the chunks.
 */

const CHUNK = 1 << 20;

/** ASCII text as octets (keys and other constant pieces). */
export function asciiBytes(s: string): Uint8Array {
  const b = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c > 0x7f) throw new Error(`not ASCII: ${JSON.stringify(s)}`);
    b[i] = c;
  }
  return b;
}

/** UTF-8 octets of a string (JSON.stringify text: no lone surrogates). */
export function utf8Bytes(s: string): Uint8Array {
  return new Uint8Array(Buffer.from(s, 'utf8'));
}

const NULL = asciiBytes('null');

/**
 * Output buffer of the report writer. Hot writers reserve room once (`room`) and then write
 * with the put* functions at `pos` of `buf`, storing the end back in `pos`.
 */
export class JsonOut {
  buf: Buffer;
  pos = 0;
  /** Octets handed to the sink so far. */
  written = 0;
  /** Some octet of the current chunk may be above 0x7f (set by text and by writers of other such octets). */
  nonAscii = false;

  /**
   * `reuse`: the sink is done with a chunk when it returns (it copies or decodes it), so one
   * buffer serves them all.
   */
  constructor(private readonly sink: (chunk: Uint8Array | string, ascii: boolean) => void, private readonly chunk = CHUNK, private readonly reuse = false) {
    this.buf = Buffer.allocUnsafe(chunk);
  }

  /** Makes room for n more octets (n at most the chunk size). */
  room(n: number): void {
    if (this.pos + n > this.buf.length) this.flush();
  }

  /** Hands what is buffered to the sink and starts a new buffer. */
  flush(): void {
    if (this.pos === 0) return;
    this.sink(this.buf.subarray(0, this.pos), !this.nonAscii);
    this.nonAscii = false;
    this.written += this.pos;
    if (!this.reuse) this.buf = Buffer.allocUnsafe(this.chunk);
    this.pos = 0;
  }

  /** Ends the document: the rest to the sink. */
  end(): void {
    this.flush();
  }

  /** Any text (JSON text from JSON.stringify, or ASCII), as UTF-8. */
  text(s: string): void {
    if (s.length * 3 > this.chunk) {
      this.flush();
      const n = Buffer.byteLength(s);
      this.sink(s, n === s.length);
      this.written += n;
      return;
    }
    this.room(s.length * 3);
    const n = this.buf.write(s, this.pos, 'utf8');
    if (n !== s.length) this.nonAscii = true;
    this.pos += n;
  }

  /** Ready octets (at most a chunk). */
  bytes(b: Uint8Array): void {
    this.room(b.length);
    this.pos = putBytes(this.buf, this.pos, b);
  }

  /** One ASCII character code. */
  byte(c: number): void {
    if (this.pos >= this.buf.length) this.flush();
    this.buf[this.pos++] = c;
  }

  /** A number as JSON.stringify writes it (null when not finite). */
  num(x: number): void {
    this.room(MAX_NUMBER);
    this.pos = putNum(this.buf, this.pos, x);
  }

  /** A non-negative integer below 2^53 (counts, ports, ids): its decimal digits. */
  uint(n: number): void {
    this.room(16);
    this.pos = putUint(this.buf, this.pos, n);
  }
}

/** Octets putNum writes at most (String of a double is at most 25 characters). */
export const MAX_NUMBER = 32;

/** Copies b to buf at p; returns the end. */
export function putBytes(buf: Uint8Array, p: number, b: Uint8Array): number {
  const n = b.length;
  if (n > 48) buf.set(b, p);
  else for (let i = 0; i < n; i++) buf[p + i] = b[i];
  return p + n;
}

/** Copies src[from, to) to buf at p; returns the end. */
export function putRange(buf: Uint8Array, p: number, src: Uint8Array, from: number, to: number): number {
  for (let i = from; i < to; i++) buf[p++] = src[i];
  return p;
}

/** ASCII text (String(number), base64, …) at p; returns the end. */
export function putAscii(buf: Uint8Array, p: number, s: string): number {
  for (let i = 0; i < s.length; i++) buf[p + i] = s.charCodeAt(i);
  return p + s.length;
}

/** Decimal digits of a non-negative integer below 2^53 at p; returns the end. */
export function putUint(buf: Uint8Array, p: number, n: number): number {
  if (n < 10) {
    buf[p] = 48 + n;
    return p + 1;
  }
  if (n < 0x80000000) {
    let v = n | 0;
    let len = 1;
    for (let t = (v / 10) | 0; t > 0; t = (t / 10) | 0) len++;
    let e = p + len;
    while (v >= 10) {
      const q = (v / 10) | 0;
      buf[--e] = 48 + v - q * 10;
      v = q;
    }
    buf[--e] = 48 + v;
    return p + len;
  }
  let len = 1;
  for (let t = Math.floor(n / 10); t > 0; t = Math.floor(t / 10)) len++;
  let e = p + len;
  let v = n;
  while (v >= 10) {
    const q = Math.floor(v / 10);
    buf[--e] = 48 + (v - q * 10);
    v = q;
  }
  buf[--e] = 48 + v;
  return p + len;
}

const TWO_53 = 9007199254740992;
const TWO_32 = 4294967296;
const TWO_23 = 8388608;

/**
 * Writes x as JSON.stringify does (String(x); null when not finite) at p; returns the end.
 * Room for MAX_NUMBER octets must be there. Fast paths that give String's digits without
 * a string:
 *
 * - An integer below 2^53 in magnitude: its exact digits (the shortest round-trip digits of
 *   such a double are the integer's: other integers are at least 1 away, its rounding
 *   interval at most 1 wide). -0 is "0", as in JSON.stringify.
 * - x === k / 10^d for an integer k, with d = 9 (nanoseconds: durations, RTTs) when
 *   10^-6 <= |x| < 2^23, d = 6 (microseconds: capture times) when |x| < 2^32: "int.frac",
 *   the d fraction digits without trailing zeros. In those ranges the rounding interval of
 *   x is narrower than 10^-d, so no other decimal of at most d fraction digits rounds to x
 *   and none with fewer significant digits does either: String(x) gives exactly these
 *   digits, and at >= 10^-6 no exponent. (k / 10^d is correctly rounded, as is the parse of
 *   the digits: the same double.) test/engine/json-out.test.ts checks this against String
 *   on random and edge values.
 */
export function putNum(buf: Uint8Array, p: number, x: number): number {
  const a = x < 0 ? -x : x;
  if (Math.floor(a) === a) {
    if (a >= TWO_53) return x - x === 0 ? putAscii(buf, p, '' + x) : putBytes(buf, p, NULL);
    if (x < 0) buf[p++] = 45;
    return putUint(buf, p, a);
  }
  if (!(a >= 1e-6 && a < TWO_32)) return x - x === 0 ? putAscii(buf, p, '' + x) : putBytes(buf, p, NULL);
  const ip = Math.floor(a);
  if (a < TWO_23) {
    const k = nearestScaled(a, 1e9);
    if (k >= 0) {
      if (x < 0) buf[p++] = 45;
      p = putUint(buf, p, ip);
      const frac = (k - ip * 1e9) | 0; // 1 .. 999999999: a is not an integer
      const hi = (frac / 1e6) | 0;
      const rest = frac - hi * 1e6;
      const mid = (rest / 1000) | 0;
      return putFraction(buf, p, hi, mid, rest - mid * 1000, 9);
    }
    return putAscii(buf, p, '' + x);
  }
  const k = nearestScaled(a, 1e6);
  if (k < 0) return putAscii(buf, p, '' + x);
  if (x < 0) buf[p++] = 45;
  p = putUint(buf, p, ip);
  const frac = (k - ip * 1e6) | 0; // 1 .. 999999
  const hi = (frac / 1000) | 0;
  return putFraction(buf, p, hi, frac - hi * 1000, 0, 6);
}

/**
 * The integer k with k / scale === a, or -1: a * scale rounded, or one off it when that
 * product is large enough for its rounding error and a's own to reach 0.5 (above 2^40 here).
 */
function nearestScaled(a: number, scale: number): number {
  const k = Math.round(a * scale);
  if (k / scale === a) return k;
  if (k < 1099511627776) return -1;
  if ((k - 1) / scale === a) return k - 1;
  if ((k + 1) / scale === a) return k + 1;
  return -1;
}

/** "." and the 6 or 9 fraction digits of groups g1 g2 [g3] (0..999 each), trailing zeros dropped. */
function putFraction(buf: Uint8Array, p: number, g1: number, g2: number, g3: number, digits: number): number {
  const D = DIGITS3;
  buf[p++] = 46; // '.'
  buf[p] = D[g1 * 3];
  buf[p + 1] = D[g1 * 3 + 1];
  buf[p + 2] = D[g1 * 3 + 2];
  buf[p + 3] = D[g2 * 3];
  buf[p + 4] = D[g2 * 3 + 1];
  buf[p + 5] = D[g2 * 3 + 2];
  if (digits === 9) {
    buf[p + 6] = D[g3 * 3];
    buf[p + 7] = D[g3 * 3 + 1];
    buf[p + 8] = D[g3 * 3 + 2];
  }
  p += digits;
  while (buf[p - 1] === 48) p--; // trailing zeros (some fraction digit is not zero)
  return p;
}

/** "000" .. "999" as octets, three per number. */
const DIGITS3 = (() => {
  const d = new Uint8Array(3000);
  for (let i = 0; i < 1000; i++) {
    d[i * 3] = 48 + ((i / 100) | 0);
    d[i * 3 + 1] = 48 + (((i / 10) | 0) % 10);
    d[i * 3 + 2] = 48 + (i % 10);
  }
  return d;
})();
