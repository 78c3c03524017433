/*
 * A live capture (or cloud-TAP receiver) run in a worker thread, so the analysis of a fast
 * capture never competes with the UI's main process: the worker owns the helper process,
 * the spool and the AnalysisSession, and posts only throttled messages:
 *   started  { ready, path }                      once the interface is open
 *   opened / batch / done                         as the file-analysis worker (SessionData.apply)
 *   delta    { delta }                            counters, a few times a second
 *   end      { end }                              last; the worker then exits
 *   start-failed { error: { code, message, remedy } } could not start (no batches follow)
 *
 *   const w = await startLiveWorker({ mode: 'capture', options: { device: 'eth0', filter } }, (m) => ...);
 *   await w.stop();
 *
 * The worker script is the helper bundle (out/cli/capture-helper.mjs): it runs this file's
 * worker side when started as a worker with a 'tapscope-live' job.
 */
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import type { WorkerMessage } from '../engine/analyze-worker.js';
import type { HelperReady } from './framing.js';
import { CaptureError } from './errors.js';
import type { CaptureDelta, CaptureEnd } from './live-sink.js';
import type { LiveRotatedMessage } from './live-batches.js';
import { CaptureService, helperScript, liveWorkerMessages, type CaptureOptions, type ListenOptions, type LiveSource } from './service.js';

/**
 * The app's live analysis budget (docs/capture.md "Long captures in the app"): the analysis
 * starts afresh after this many connections or packets, so a capture that runs for hours
 * holds at most one window of connections, packet index and HTTP/DNS/TLS rows, in this
 * worker and in the service's SessionData. TAPSCOPE_LIVE_BUDGET=CONNECTIONS[:PACKETS]
 * overrides it (tests; 0 turns that bound off: 0:0 both).
 */
export const APP_ANALYSIS_BUDGET = { connections: 50_000, packets: 1_000_000 };

/** The budget a job runs with: its own if it names one, else TAPSCOPE_LIVE_BUDGET, else APP_ANALYSIS_BUDGET. */
export function liveBudget(o: { analysisBudget?: number; analysisPacketBudget?: number }, env = process.env.TAPSCOPE_LIVE_BUDGET): { analysisBudget?: number; analysisPacketBudget?: number } {
  if (o.analysisBudget !== undefined || o.analysisPacketBudget !== undefined) return { analysisBudget: o.analysisBudget, analysisPacketBudget: o.analysisPacketBudget };
  let { connections, packets }: { connections: number; packets: number } = APP_ANALYSIS_BUDGET;
  const m = env ? /^(\d+)(?::(\d+))?$/.exec(env.trim()) : null;
  if (m) {
    connections = Number(m[1]);
    packets = m[2] === undefined ? packets : Number(m[2]);
  }
  return { analysisBudget: connections > 0 ? connections : undefined, analysisPacketBudget: packets > 0 ? packets : undefined };
}

export type LiveJob =
  | { mode: 'capture'; options: Omit<CaptureOptions, 'wrap'> }
  | { mode: 'listen'; options: ListenOptions };

export type LiveWorkerEvent =
  | WorkerMessage
  | LiveRotatedMessage
  | { type: 'started'; ready: HelperReady | null; path: string; ports?: { encap: string; port: number }[] }
  | { type: 'delta'; delta: CaptureDelta }
  | { type: 'end'; end: CaptureEnd }
  | { type: 'start-failed'; error: { code: string; message: string; remedy: string | null } };

interface WorkerJob {
  kind: 'tapscope-live';
  job: LiveJob;
}

export interface LiveWorkerHandle {
  readonly ready: HelperReady | null;
  readonly path: string;
  /** A receiver's bound UDP ports (port 0 asks for a free one). */
  readonly ports: { encap: string; port: number }[];
  /** Resolves with the end once the worker has closed the spool. */
  readonly ended: Promise<CaptureEnd>;
  stop(): Promise<CaptureEnd>;
}

/** Starts a capture in a worker; resolves once capturing, rejects with a CaptureError. */
export function startLiveWorker(job: LiveJob, onMessage: (m: LiveWorkerEvent) => void, workerFile = helperScript()): Promise<LiveWorkerHandle> {
  return new Promise((resolve, reject) => {
    const w = new Worker(workerFile, { workerData: { kind: 'tapscope-live', job } satisfies WorkerJob });
    let started = false;
    let endResolve!: (e: CaptureEnd) => void;
    const ended = new Promise<CaptureEnd>((r) => (endResolve = r));
    let last: CaptureEnd | null = null;
    w.on('message', (m: LiveWorkerEvent) => {
      if (m.type === 'started') {
        started = true;
        resolve({ ready: m.ready, path: m.path, ports: m.ports ?? [], ended, stop: () => { w.postMessage({ type: 'stop' }); return ended; } });
      } else if (m.type === 'start-failed') {
        reject(new CaptureError(m.error.code, m.error.message, m.error.remedy));
      } else if (m.type === 'end') {
        last = m.end;
      }
      onMessage(m);
    });
    w.on('error', (e) => {
      if (!started) reject(new CaptureError('EHELPER', `capture worker failed: ${e.message}`));
    });
    w.on('exit', () => {
      const e = last ?? { counters: null as never, reason: 'error' as const, error: { code: 'EHELPER', message: 'the capture worker ended unexpectedly' } };
      if (!started) reject(new CaptureError('EHELPER', 'the capture worker ended before capturing'));
      endResolve(e);
    });
  });
}

/** Worker side: runs the capture and posts its messages. */
async function runLiveWorker(wj: WorkerJob, port: NonNullable<typeof parentPort>): Promise<void> {
  const svc = new CaptureService();
  let src: LiveSource & { ready?: HelperReady | null; ports?: { encap: string; port: number }[] };
  try {
    const budget = liveBudget(wj.job.options);
    src = wj.job.mode === 'capture'
      ? await svc.start({ ...wj.job.options, ...budget, keepIndex: wj.job.options.keepIndex ?? true })
      : await svc.listen({ ...wj.job.options, ...budget, keepIndex: wj.job.options.keepIndex ?? true });
  } catch (e) {
    const ce = e instanceof CaptureError ? e : new CaptureError('EHELPER', (e as Error).message);
    port.postMessage({ type: 'start-failed', error: { code: ce.code, message: ce.summary, remedy: ce.remedy } } satisfies LiveWorkerEvent);
    port.close();
    return;
  }
  port.postMessage({ type: 'started', ready: src.ready ?? null, path: src.path, ports: src.ports ?? [] } satisfies LiveWorkerEvent);
  liveWorkerMessages(src, (m, transfer) => port.postMessage(m, transfer ?? []));
  src.onDelta((delta) => port.postMessage({ type: 'delta', delta } satisfies LiveWorkerEvent));
  port.on('message', (m: { type?: string }) => {
    if (m?.type === 'stop') void src.stop();
  });
  const end = await src.ended;
  port.postMessage({ type: 'end', end } satisfies LiveWorkerEvent);
  port.close();
}

if (!isMainThread && parentPort && (workerData as WorkerJob | undefined)?.kind === 'tapscope-live') {
  void runLiveWorker(workerData as WorkerJob, parentPort);
}
