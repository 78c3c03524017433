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
  min = Infinity;
  max = -Infinity;
  private buf: number[] = [];
  /** Sample times while every sample is kept (the chart series is derived from them). */
  private times: number[] = [];
  /** The chart series once samples are no longer all kept. */
  private series: Series | null = null;
  private rng = 0x9e3779b9;

  constructor(private readonly seriesPoints = 512) {}

  /** One sample `v` taken at time `t` (epoch seconds). */
  add(t: number, v: number): void {
    this.count++;
    if (v < this.min) this.min = v;
    if (v > this.max) this.max = v;
    if (this.buf.length < EXACT_SAMPLES) {
      this.buf.push(v);
      this.times.push(t);
      return;
    }
    if (!this.series) {
      this.series = new Series(this.seriesPoints);
      for (let i = 0; i < this.buf.length; i++) this.series.add(this.times[i], this.buf[i]);
      this.times = [];
    }
    this.series.add(t, v);
    // Reservoir sampling (Algorithm R) with a xorshift generator.
    let x = this.rng;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.rng = x >>> 0;
    const j = this.rng % this.count;
    if (j < EXACT_SAMPLES) this.buf[j] = v;
  }

  /** The kept samples (all of them while count <= EXACT_SAMPLES). */
  values(): readonly number[] {
    return this.buf;
  }

  /** The samples over time, downsampled to the series size. */
  points(): SeriesPoints | null {
    if (this.count === 0) return null;
    if (this.series) return this.series.points();
    const s = new Series(this.seriesPoints);
    for (let i = 0; i < this.buf.length; i++) s.add(this.times[i], this.buf[i]);
    return s.points();
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
  for (const p of parts) for (const x of p.values()) all[o++] = x;
  all.sort();
  const n = all.length;
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
  // Plain arrays: cheaper than typed arrays for the many short series of a capture with
  // many connections (no backing-store allocation per growth step); bounded by `cap`.
  private t: number[] = [];
  private v: number[] = [];
  private m: number[] = [];
  private stride = 1;
  // Pending aggregate of up to `stride` inputs.
  private pn = 0;
  private pt = 0;
  private pv = 0;
  private pm = 0;

  constructor(private readonly cap = 512) {}

  add(t: number, v: number, mark = 0): void {
    if (this.stride === 1) {
      if (this.t.length === this.cap) this.halve();
      else {
        this.t.push(t);
        this.v.push(v);
        this.m.push(mark);
        return;
      }
    }
    if (this.pn === 0) {
      this.pt = t;
      this.pv = v;
      this.pm = mark;
    } else {
      if (v > this.pv || (mark && !this.pm)) {
        this.pt = t;
        this.pv = v;
      }
      this.pm |= mark;
    }
    if (++this.pn < this.stride) return;
    if (this.t.length === this.cap) this.halve();
    this.t.push(this.pt);
    this.v.push(this.pv);
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
      t.push(this.pt);
      v.push(this.pv);
      mark.push(this.pm);
    }
    return { t, v, mark, stride: this.stride };
  }

  get length(): number {
    return this.t.length + (this.pn > 0 ? 1 : 0);
  }
}
