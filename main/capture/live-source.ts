import type { AnalysisSession } from '../engine/session.js';
import { CaptureError } from './errors.js';
import { LiveSink, SpoolError, type CaptureCounters, type CaptureDelta, type CaptureEnd, type SinkOptions } from './live-sink.js';

/** A running live source: an interface capture or a cloud-TAP receiver. */
export interface LiveSource {
  readonly sink: LiveSink;
  readonly session: AnalysisSession;
  readonly counters: CaptureCounters;
  /** The current spool file. */
  readonly path: string;
  onDelta(cb: (d: CaptureDelta) => void): () => void;
  onEnd(cb: (e: CaptureEnd) => void): () => void;
  stop(): Promise<CaptureEnd>;
  readonly ended: Promise<CaptureEnd>;
}

/**
 * What every live source shares: its spool-and-analysis sink, the delta and end listeners,
 * and ending exactly once. Subclasses feed the sink and call `settle()` with the sink's end.
 */
export abstract class LiveSourceBase implements LiveSource {
  readonly sink: LiveSink;
  readonly ended: Promise<CaptureEnd>;
  private resolveEnd!: (e: CaptureEnd) => void;
  private endCbs: ((e: CaptureEnd) => void)[] = [];
  private deltaCbs: ((d: CaptureDelta) => void)[] = [];
  /** The end, once the source has ended. */
  protected result: CaptureEnd | null = null;

  constructor(sinkOptions: SinkOptions) {
    this.ended = new Promise((r) => (this.resolveEnd = r));
    try {
      this.sink = new LiveSink(sinkOptions);
    } catch (e) {
      if (e instanceof SpoolError) throw new CaptureError(e.code, e.message);
      throw e;
    }
    this.sink.onDelta = (d) => { for (const cb of this.deltaCbs) cb(d); };
    this.sink.onStopRequest = () => void this.stop();
  }

  abstract stop(): Promise<CaptureEnd>;

  get session(): AnalysisSession {
    return this.sink.session;
  }
  get counters(): CaptureCounters {
    return this.sink.counters;
  }
  get path(): string {
    return this.sink.path;
  }

  onDelta(cb: (d: CaptureDelta) => void): () => void {
    this.deltaCbs.push(cb);
    return () => { this.deltaCbs = this.deltaCbs.filter((x) => x !== cb); };
  }

  onEnd(cb: (e: CaptureEnd) => void): () => void {
    if (this.result) cb(this.result);
    else this.endCbs.push(cb);
    return () => { this.endCbs = this.endCbs.filter((x) => x !== cb); };
  }

  /** Records the end and tells every listener, once. */
  protected settle(e: CaptureEnd): CaptureEnd {
    this.result = e;
    for (const cb of this.endCbs) cb(e);
    this.endCbs = [];
    this.resolveEnd(e);
    return e;
  }
}
