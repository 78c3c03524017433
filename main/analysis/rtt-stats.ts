/**
 * Bounded-memory latency statistics and chart series.
 *
 * RttSamples keeps every sample exactly up to EXACT_SAMPLES per owner (so min, median,
 * p95 and max equal what a tool that keeps all of tshark's `tcp.analysis.ack_rtt`
 * values computes); past that it keeps a uniform reservoir of that size (deterministic
 * generator, so runs repeat), min and max stay exact and median/p95 become estimates
 * (`exact: false`).
 *
 * Series is a downsampled time series for charts: at most `cap` points; when full, pairs
 * of neighbours merge (the larger value and the union of the marks survive, so spikes and
 * retransmissions never disappear from the chart) and later input is pre-aggregated
 * over the doubled stride.
 *
 * Storage: numbers live in Columns carved out of an Arena's large Float64Array slabs
 * (8 numbers first, then blocks of 64). A capture with many connections keeps many short
 * growing series; as JS arrays their backing stores are copied on every growth and by
 * every young-generation GC (they outlive it), which made garbage collection the largest
 * cost of the analysis. Slab memory is off the JS heap: nothing to copy or scan. An
 * Arena belongs to one analysis session and is freed with it.
 */
export const EXACT_SAMPLES = 8192;

const FIRST = 8;
const BLOCK_BITS = 6;
const BLOCK = 1 << BLOCK_BITS;

/**
 * Bump allocator over Float64Array slabs of 2^bits numbers (default 2^15: 256 KB);
 * addresses are slab << bits | offset. Nothing is freed before the arena itself.
 */
export class Arena {
  readonly slabs: Float64Array[] = [];
  readonly mask: number;
  private used: number;

  constructor(readonly bits = 15) {
    this.mask = (1 << bits) - 1;
    this.used = 1 << bits;
  }

  alloc(n: number): number {
    const size = 1 << this.bits;
    if (this.used + n > size) {
      this.slabs.push(new Float64Array(size));
      this.used = 0;
    }
    const at = (this.slabs.length - 1) * size + this.used;
    this.used += n;
    return at;
  }

  /** Bytes held. */
  get bytes(): number {
    return this.slabs.length * (8 << this.bits);
  }
}

/** An arena for short-lived or test use (4 KB slabs). */
export function smallArena(): Arena {
  return new Arena(9);
}

/**
 * A growable list of records of `width` numbers in an Arena (8 records in the first
 * block, then blocks of 64). A record's numbers are adjacent, so appending one touches
 * one cache line rather than one per field.
 */
export class Column {
  length = 0;
  private first = -1;
  private blocks: number[] = [];
  // Where the next record goes: slab, offset in it, end of the current block.
  private slab: Float64Array | null = null;
  private off = 0;
  private end = 0;

  constructor(private readonly arena: Arena, readonly width = 1) {
    if ((BLOCK * width) > (1 << arena.bits)) throw new Error(`arena slabs too small for records of ${width}`);
  }

  /** Address of record i's first number. */
  private addr(i: number): number {
    if (i < FIRST) return this.first + i * this.width;
    const j = i - FIRST;
    return this.blocks[j >>> BLOCK_BITS] + (j & (BLOCK - 1)) * this.width;
  }

  /** Appends a record of width 1. */
  push(v: number): void {
    if (this.off === this.end) this.nextBlock();
    this.slab![this.off++] = v;
    this.length++;
  }

  /** Appends a record of width 2. */
  push2(a: number, b: number): void {
    if (this.off === this.end) this.nextBlock();
    const s = this.slab!;
    const o = this.off;
    s[o] = a;
    s[o + 1] = b;
    this.off = o + 2;
    this.length++;
  }

  /** Appends a record of width 3. */
  push3(a: number, b: number, c: number): void {
    if (this.off === this.end) this.nextBlock();
    const s = this.slab!;
    const o = this.off;
    s[o] = a;
    s[o + 1] = b;
    s[o + 2] = c;
    this.off = o + 3;
    this.length++;
  }

  /** Points the write cursor at record `length`, allocating its block when new. */
  private nextBlock(): void {
    const i = this.length;
    const ar = this.arena;
    const w = this.width;
    let a: number;
    let records: number;
    if (i < FIRST) {
      if (this.first < 0) this.first = ar.alloc(FIRST * w);
      a = this.first + i * w;
      records = FIRST - i;
    } else {
      const j = i - FIRST;
      const b = j >>> BLOCK_BITS;
      if (b === this.blocks.length) this.blocks.push(ar.alloc(BLOCK * w));
      a = this.blocks[b] + (j & (BLOCK - 1)) * w;
      records = BLOCK - (j & (BLOCK - 1));
    }
    this.slab = ar.slabs[a >>> ar.bits];
    this.off = a & ar.mask;
    this.end = this.off + records * w;
  }

  /** Field k of record i. */
  get(i: number, k = 0): number {
    const a = this.addr(i) + k;
    const ar = this.arena;
    return ar.slabs[a >>> ar.bits][a & ar.mask];
  }

  set(i: number, v: number, k = 0): void {
    const a = this.addr(i) + k;
    const ar = this.arena;
    ar.slabs[a >>> ar.bits][a & ar.mask] = v;
  }

  /** Shortens the list; its blocks stay for reuse. */
  truncate(n: number): void {
    if (n >= this.length) return;
    this.length = n;
    this.off = this.end = 0; // the next push finds its place again
  }

  /** Field k of every record. */
  toArray(k = 0): number[] {
    const out = new Array<number>(this.length);
    for (let i = 0; i < this.length; i++) out[i] = this.get(i, k);
    return out;
  }
}

export interface RttSummary {
  samples: number;
  min: number;
  median: number;
  p95: number;
  max: number;
  /** False when more than EXACT_SAMPLES were seen and median/p95 come from a reservoir. */
  exact: boolean;
}

/** Anything with a time stamp in epoch seconds (a decoded Frame, a record). */
export interface Timed {
  readonly ts: number;
}

export class RttSamples {
  count = 0;
  // min, max in a Float64Array: a double stored into an object field costs a heap number.
  private readonly mm = new Float64Array([Infinity, -Infinity]);
  /** Smallest and largest sample, in output units (see `unit`). */
  get min(): number { return this.mm[0] * this.unit; }
  get max(): number { return this.mm[1] * this.unit; }
  /** Records (sample, time); the times serve the chart while every sample is kept. */
  private buf: Column | null = null;
  /** The chart series once samples are no longer all kept. */
  private series: Series | null = null;
  private rng = 0x9e3779b9;

  /**
   * `unit`: what one stored unit is in output units (1e-9 for samples in ns reported in
   * s). Without an arena the samples get one of their own.
   */
  constructor(private readonly seriesPoints = 512, readonly unit = 1, private readonly arena: Arena | null = null) {}

  /**
   * One sample `v` taken at `at.ts` (epoch seconds). Callers pass integers where they can
   * (the TCP analyser: nanoseconds), which travel without boxing; see Series.add.
   */
  add(at: Timed, v: number): void {
    this.count++;
    const mm = this.mm;
    if (v < mm[0]) mm[0] = v;
    if (v > mm[1]) mm[1] = v;
    if (this.count <= EXACT_SAMPLES) {
      if (!this.buf) this.buf = new Column(this.arena ?? smallArena(), 2);
      this.buf.push2(v, at.ts);
    } else this.addBeyond(at.ts, v);
  }

  private addBeyond(t: number, v: number): void {
    const buf = this.buf!;
    if (!this.series) {
      this.series = new Series(this.seriesPoints, this.arena);
      for (let i = 0; i < buf.length; i++) this.series.addAt(buf.get(i, 1), buf.get(i));
    }
    this.series.addAt(t, v);
    // Reservoir sampling (Algorithm R) with a xorshift generator.
    let x = this.rng;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.rng = x >>> 0;
    const j = this.rng % this.count;
    if (j < EXACT_SAMPLES) buf.set(j, v); // its time field is no longer used
  }

  /** Smallest and largest sample in stored units. */
  get rawMin(): number { return this.mm[0]; }
  get rawMax(): number { return this.mm[1]; }

  /** Samples kept (all of them up to EXACT_SAMPLES, then the reservoir's). */
  get kept(): number {
    return this.buf ? this.buf.length : 0;
  }

  /** Writes the kept samples (stored units) into `dst` from `at`; returns the end. */
  copyKept(dst: Float64Array, at: number): number {
    const buf = this.buf;
    if (!buf) return at;
    for (let i = 0; i < buf.length; i++) dst[at++] = buf.get(i);
    return at;
  }

  /** Forgets every sample; the storage stays for the next owner (a pooled TCP heavy). */
  reset(): void {
    this.count = 0;
    this.mm[0] = Infinity;
    this.mm[1] = -Infinity;
    this.buf?.truncate(0);
    this.series = null;
    this.rng = 0x9e3779b9;
  }

  /** The kept samples in stored units (all of them while count <= EXACT_SAMPLES). */
  values(): number[] {
    return this.buf ? this.buf.toArray() : [];
  }

  /** The samples over time (output units), downsampled to the series size. */
  points(): SeriesPoints | null {
    if (this.count === 0) return null;
    let p: SeriesPoints;
    if (this.series) p = this.series.points();
    else {
      const s = new Series(this.seriesPoints, smallArena());
      for (let i = 0; i < this.buf!.length; i++) s.addAt(this.buf!.get(i, 1), this.buf!.get(i));
      p = s.points();
    }
    if (this.unit !== 1) p.v = p.v.map((x) => x * this.unit);
    return p;
  }
}

/** Median (mean of the two middle values for an even count) and nearest-rank p95. */
export function summarize(parts: RttSamples[]): RttSummary | null {
  let count = 0;
  let min = Infinity;
  let max = -Infinity;
  let exact = true;
  const kept: number[][] = [];
  let n = 0;
  for (const p of parts) {
    count += p.count;
    if (p.count === 0) continue;
    if (p.min < min) min = p.min;
    if (p.max > max) max = p.max;
    const v = p.values();
    kept.push(v.map((x) => x * p.unit));
    n += v.length;
    if (p.count > EXACT_SAMPLES) exact = false;
  }
  if (count === 0) return null;
  const all = new Float64Array(n);
  let o = 0;
  for (const v of kept) for (const x of v) all[o++] = x;
  return summarizeKept(all, count, min, max, exact);
}

/**
 * The summary of `count` samples whose kept values (output units) are `all` (sorted here,
 * in place); min and max are exact whatever was kept.
 */
export function summarizeKept(all: Float64Array, count: number, min: number, max: number, exact: boolean): RttSummary {
  const n = all.length;
  all.sort();
  const median = n % 2 ? all[(n - 1) / 2] : (all[n / 2 - 1] + all[n / 2]) / 2;
  const p95 = all[Math.max(0, Math.ceil(0.95 * n) - 1)];
  return { samples: count, min, median, p95, max, exact };
}

export interface SeriesPoints {
  /** Epoch seconds. */
  t: number[];
  v: number[];
  /** Marks OR-ed over merged points (for sequence series: TcpA bits). */
  mark: number[];
  /** Input samples each point stands for (1 until the series was downsampled). */
  stride: number;
}

export class Series {
  /** Records (time, value, mark). */
  private readonly c: Column;
  private stride = 1;
  // Pending aggregate of up to `stride` inputs.
  private pn = 0;
  /** Pending point's time and value (typed: no heap number per store). */
  private readonly p = new Float64Array(2);
  private pm = 0;

  /** At most `cap` points (even). Without an arena the series gets one of its own. */
  constructor(private readonly cap = 512, arena: Arena | null = null) {
    this.c = new Column(arena ?? smallArena(), 3);
  }

  /**
   * One point at `at.ts` (epoch seconds). The time is read here from the object rather
   * than passed as a number, so the hot caller never boxes a double for the call.
   */
  add(at: Timed, v: number, mark = 0): void {
    this.addAt(at.ts, v, mark);
  }

  addAt(t: number, v: number, mark = 0): void {
    if (this.stride === 1 && this.c.length < this.cap) this.c.push3(t, v, mark);
    else this.addMerged(t, v, mark);
  }

  private addMerged(t: number, v: number, mark: number): void {
    if (this.stride === 1) this.halve();
    const p = this.p;
    if (this.pn === 0) {
      p[0] = t;
      p[1] = v;
      this.pm = mark;
    } else {
      if (v > p[1] || (mark && !this.pm)) {
        p[0] = t;
        p[1] = v;
      }
      this.pm |= mark;
    }
    if (++this.pn < this.stride) return;
    if (this.c.length === this.cap) this.halve();
    this.c.push3(p[0], p[1], this.pm);
    this.pn = 0;
  }

  private halve(): void {
    const c = this.c;
    const n = c.length;
    let o = 0;
    for (let i = 0; i + 1 < n; i += 2, o++) {
      const ma = c.get(i, 2);
      const mb = c.get(i + 1, 2);
      // Keep the larger value (a marked point wins), union of marks.
      const pickB = (mb && !ma) || (!!mb === !!ma && c.get(i + 1, 1) > c.get(i, 1));
      const k = pickB ? i + 1 : i;
      c.set(o, c.get(k, 0), 0);
      c.set(o, c.get(k, 1), 1);
      c.set(o, ma | mb, 2);
    }
    if (n % 2) {
      for (let f = 0; f < 3; f++) c.set(o, c.get(n - 1, f), f);
      o++;
    }
    c.truncate(o);
    this.stride *= 2;
  }

  points(): SeriesPoints {
    const t = this.c.toArray(0);
    const v = this.c.toArray(1);
    const mark = this.c.toArray(2);
    if (this.pn > 0) {
      t.push(this.p[0]);
      v.push(this.p[1]);
      mark.push(this.pm);
    }
    return { t, v, mark, stride: this.stride };
  }

  get length(): number {
    return this.c.length + (this.pn > 0 ? 1 : 0);
  }
}
