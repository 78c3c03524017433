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
  private buf: Float64Array | null = null;
  private kept = 0;
  private rng = 0x9e3779b9;

  add(v: number): void {
    this.count++;
    if (v < this.min) this.min = v;
    if (v > this.max) this.max = v;
    if (this.kept < EXACT_SAMPLES) {
      if (!this.buf) this.buf = new Float64Array(16);
      else if (this.kept === this.buf.length) {
        const b = new Float64Array(Math.min(this.buf.length * 2, EXACT_SAMPLES));
        b.set(this.buf);
        this.buf = b;
      }
      this.buf[this.kept++] = v;
      return;
    }
    // Reservoir sampling (Algorithm R) with a xorshift generator.
    let x = this.rng;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.rng = x >>> 0;
    const j = this.rng % this.count;
    if (j < EXACT_SAMPLES) this.buf![j] = v;
  }

  /** The kept samples (all of them while count <= EXACT_SAMPLES). */
  values(): Float64Array {
    return this.buf ? this.buf.subarray(0, this.kept) : new Float64Array(0);
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
  for (const p of parts) {
    all.set(p.values(), o);
    o += p.values().length;
  }
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
  private t: Float64Array;
  private v: Float64Array;
  private m: Uint32Array;
  private n = 0;
  private stride = 1;
  // Pending aggregate of up to `stride` inputs.
  private pn = 0;
  private pt = 0;
  private pv = 0;
  private pm = 0;

  constructor(private readonly cap = 512, initial = 16) {
    const c = Math.min(initial, cap);
    this.t = new Float64Array(c);
    this.v = new Float64Array(c);
    this.m = new Uint32Array(c);
  }

  add(t: number, v: number, mark = 0): void {
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
    this.push(this.pt, this.pv, this.pm);
    this.pn = 0;
  }

  private push(t: number, v: number, m: number): void {
    if (this.n === this.t.length) {
      if (this.n < this.cap) this.grow(Math.min(this.cap, this.n * 2));
      else this.halve();
    }
    this.t[this.n] = t;
    this.v[this.n] = v;
    this.m[this.n] = m;
    this.n++;
  }

  private grow(size: number): void {
    const t = new Float64Array(size);
    const v = new Float64Array(size);
    const m = new Uint32Array(size);
    t.set(this.t);
    v.set(this.v);
    m.set(this.m);
    this.t = t;
    this.v = v;
    this.m = m;
  }

  private halve(): void {
    let o = 0;
    for (let i = 0; i + 1 < this.n; i += 2, o++) {
      const a = i;
      const b = i + 1;
      // Keep the larger value (a marked point wins), union of marks.
      const pickB = (this.m[b] && !this.m[a]) || (!!this.m[b] === !!this.m[a] && this.v[b] > this.v[a]);
      const k = pickB ? b : a;
      const mark = this.m[a] | this.m[b];
      this.t[o] = this.t[k];
      this.v[o] = this.v[k];
      this.m[o] = mark;
    }
    if (this.n % 2) {
      this.t[o] = this.t[this.n - 1];
      this.v[o] = this.v[this.n - 1];
      this.m[o] = this.m[this.n - 1];
      o++;
    }
    this.n = o;
    this.stride *= 2;
  }

  points(): SeriesPoints {
    const t = Array.from(this.t.subarray(0, this.n));
    const v = Array.from(this.v.subarray(0, this.n));
    const mark = Array.from(this.m.subarray(0, this.n));
    if (this.pn > 0) {
      t.push(this.pt);
      v.push(this.pv);
      mark.push(this.pm);
    }
    return { t, v, mark, stride: this.stride };
  }

  get length(): number {
    return this.n + (this.pn > 0 ? 1 : 0);
  }
}
