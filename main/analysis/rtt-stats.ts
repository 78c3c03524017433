/**
 * Bounded-memory latency statistics and chart series.
 *
 * RttSamples keeps every sample exactly up to EXACT_SAMPLES per owner (so min, median,
 * p95 and max equal what a tool that keeps all of tshark's `tcp.analysis.ack_rtt`
 * values computes); past that it keeps a uniform reservoir of that size (deterministic
 * generator, so runs repeat), min and max stay exact and median/p95 become estimates
 * (`exact: false`). Storage starts small and grows by doubling.
 *
 * Series is a downsampled time series for charts: at most `cap` points; when full, pairs
 * of neighbours merge (the larger value and the union of the marks survive, so spikes and
 * retransmissions never disappear from the chart) and later input is pre-aggregated
 * over the doubled stride.
 */
export const EXACT_SAMPLES = 8192;

export interface RttSummary {
  samples: number;
  min: number;
  median: number;
  p95: number;
  max: number;
  /** False when more than EXACT_SAMPLES were seen and median/p95 come from a reservoir. */
  exact: boolean;
}

export class RttSamples {
  count = 0;
  // min, max in a Float64Array: a double stored into an object field costs a heap number.
  private readonly mm = new Float64Array([Infinity, -Infinity]);
  /** Smallest and largest sample, in output units (see `unit`). */
  get min(): number { return this.mm[0] * this.unit; }
  get max(): number { return this.mm[1] * this.unit; }
  private buf: number[] = [];
  /** Sample times while every sample is kept (the chart series is derived from them). */
  private times: number[] = [];
  /** The chart series once samples are no longer all kept. */
  private series: Series | null = null;
  private rng = 0x9e3779b9;

  /** `unit`: what one stored unit is in output units (1e-9 for samples in ns reported in s). */
  constructor(private readonly seriesPoints = 512, readonly unit = 1) {}

  /**
   * One sample `v` taken at `at.ts` (epoch seconds). Callers pass integers where they can
   * (the TCP analyser: nanoseconds), which travel without boxing; see Series.add.
   */
  add(at: Timed, v: number): void {
    const t = at.ts;
    this.count++;
    const mm = this.mm;
    if (v < mm[0]) mm[0] = v;
    if (v > mm[1]) mm[1] = v;
    if (this.buf.length < EXACT_SAMPLES) {
      this.buf.push(v);
      this.times.push(t);
    } else this.addBeyond(t, v);
  }

  private addBeyond(t: number, v: number): void {
    if (!this.series) {
      this.series = new Series(this.seriesPoints);
      for (let i = 0; i < this.buf.length; i++) this.series.addAt(this.times[i], this.buf[i]);
      this.times = [];
    }
    this.series.addAt(t, v);
    // Reservoir sampling (Algorithm R) with a xorshift generator.
    let x = this.rng;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.rng = x >>> 0;
    const j = this.rng % this.count;
    if (j < EXACT_SAMPLES) this.buf[j] = v;
  }

  /** The kept samples in stored units (all of them while count <= EXACT_SAMPLES). */
  values(): readonly number[] {
    return this.buf;
  }

  /** The samples over time (output units), downsampled to the series size. */
  points(): SeriesPoints | null {
    if (this.count === 0) return null;
    let p: SeriesPoints;
    if (this.series) p = this.series.points();
    else {
      const s = new Series(this.seriesPoints);
      for (let i = 0; i < this.buf.length; i++) s.addAt(this.times[i], this.buf[i]);
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
  let kept = 0;
  let exact = true;
  for (const p of parts) {
    count += p.count;
    if (p.min < min) min = p.min;
    if (p.max > max) max = p.max;
    kept += p.values().length;
    if (p.count > EXACT_SAMPLES) exact = false;
  }
  if (count === 0) return null;
  const all = new Float64Array(kept);
  let o = 0;
  for (const p of parts) for (const x of p.values()) all[o++] = x * p.unit;
  all.sort();
  const n = all.length;
  const median = n % 2 ? all[(n - 1) / 2] : (all[n / 2 - 1] + all[n / 2]) / 2;
  const p95 = all[Math.max(0, Math.ceil(0.95 * n) - 1)];
  return { samples: count, min, median, p95, max, exact };
}

/** Anything with a time stamp in epoch seconds (a decoded Frame, a record). */
export interface Timed {
  readonly ts: number;
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
  // Plain arrays: cheaper than typed arrays for the many short series of a capture with
  // many connections (no backing-store allocation per growth step); bounded by `cap`.
  private t: number[] = [];
  private v: number[] = [];
  private m: number[] = [];
  private stride = 1;
  // Pending aggregate of up to `stride` inputs.
  private pn = 0;
  /** Pending point's time and value (typed: no heap number per store). */
  private readonly p = new Float64Array(2);
  private pm = 0;

  constructor(private readonly cap = 512) {}

  /**
   * One point at `at.ts` (epoch seconds). The time is read here from the object rather
   * than passed as a number, so the hot caller never boxes a double for the call.
   */
  add(at: Timed, v: number, mark = 0): void {
    this.addAt(at.ts, v, mark);
  }

  addAt(t: number, v: number, mark = 0): void {
    if (this.stride === 1 && this.t.length < this.cap) {
      this.t.push(t);
      this.v.push(v);
      this.m.push(mark);
    } else this.addMerged(t, v, mark);
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
    if (this.t.length === this.cap) this.halve();
    this.t.push(p[0]);
    this.v.push(p[1]);
    this.m.push(this.pm);
    this.pn = 0;
  }

  private halve(): void {
    const { t, v, m } = this;
    const n = t.length;
    let o = 0;
    for (let i = 0; i + 1 < n; i += 2, o++) {
      const a = i;
      const b = i + 1;
      // Keep the larger value (a marked point wins), union of marks.
      const pickB = (m[b] && !m[a]) || (!!m[b] === !!m[a] && v[b] > v[a]);
      const k = pickB ? b : a;
      const mark = m[a] | m[b];
      t[o] = t[k];
      v[o] = v[k];
      m[o] = mark;
    }
    if (n % 2) {
      t[o] = t[n - 1];
      v[o] = v[n - 1];
      m[o] = m[n - 1];
      o++;
    }
    t.length = o;
    v.length = o;
    m.length = o;
    this.stride *= 2;
  }

  points(): SeriesPoints {
    const t = this.t.slice();
    const v = this.v.slice();
    const mark = this.m.slice();
    if (this.pn > 0) {
      t.push(this.p[0]);
      v.push(this.p[1]);
      mark.push(this.pm);
    }
    return { t, v, mark, stride: this.stride };
  }

  get length(): number {
    return this.t.length + (this.pn > 0 ? 1 : 0);
  }
}
