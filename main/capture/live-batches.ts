/*
 * A live capture as the same batched messages the file-analysis worker sends
 * (engine/analyze-worker.ts: opened, batch*, done), so the service's SessionData can show a
 * capture growing exactly as it shows a file being read: at each throttled delta, the
 * connections that changed and the new slice of the packet index (whose file offsets point
 * into the spool file, flushed before each delta).
 *
 *   const cap = await captureService.start({ device, filter, keepIndex: true });
 *   const stop = liveWorkerMessages(cap, (m, transfer) => data.apply(m));
 */
import type { WorkerMessage } from '../engine/analyze-worker.js';
import { SessionDeltas } from '../engine/session-deltas.js';
import { addSessionAlerts } from '../ids/analyze-alerts.js';
import type { AnalysisWindow } from './live-sink.js';
import type { LiveSource } from './service.js';

const APP_SNAPSHOT_MS = 1000;

/**
 * A budgeted capture's analysis started afresh (live-sink.ts SinkOptions.analysisBudget): the
 * receiver drops what it holds of the previous analysis (connections, index, HTTP/DNS/TLS
 * rows) and takes the batches that follow as a new session. Sent before that new session's
 * 'opened'.
 */
export interface LiveRotatedMessage {
  type: 'rotated';
  analysis: AnalysisWindow;
}

export type LiveBatchMessage = WorkerMessage | LiveRotatedMessage;

export function liveWorkerMessages(src: LiveSource, post: (m: LiveBatchMessage, transfer?: ArrayBuffer[]) => void): () => void {
  let done = false;
  post({ type: 'opened', format: 'pcapng', size: 0 });
  // drainIndex: the receiver (SessionData) keeps the index; the sender keeps only the slice
  // of the next batch, so a long capture holds one copy of it, not two.
  let session = src.session;
  let deltas = new SessionDeltas(session, true);

  // The application-layer snapshot is sent at most once a second, as deltas (session-deltas.ts).
  let lastApp = 0;
  const batch = (): void => {
    if (src.session !== session) {
      // The analysis started afresh since the last batch: what the previous one added since
      // then is not sent (its connections were shown; the spool keeps its packets).
      session = src.session;
      deltas = new SessionDeltas(session, true);
      lastApp = 0;
      post({ type: 'rotated', analysis: src.sink.analysisWindow()! });
      post({ type: 'opened', format: 'pcapng', size: 0 });
    }
    const d = deltas.next();
    const bytes = src.counters.savedBytes;
    const now = Date.now();
    const app = now - lastApp >= APP_SNAPSHOT_MS ? deltas.app() : undefined;
    if (app) lastApp = now;
    post(
      { type: 'batch', bytesRead: bytes, size: bytes, packets: src.session.packets, connections: d.connections, index: d.index, interfaces: [...src.sink.interfaces], app },
      d.transfer,
    );
  };

  const offDelta = src.onDelta(() => {
    if (!done) batch();
  });
  const offEnd = src.onEnd((e) => {
    if (done) return;
    done = true;
    batch();
    const file = e.counters.files[e.counters.files.length - 1] ?? src.path;
    const report = src.session.report({ path: file, format: 'pcapng', interfaces: [...src.sink.interfaces], comments: [] });
    report.alerts = [];
    const eve = src.sink.eve;
    if (eve) addSessionAlerts(report, Object.assign(eve.end(), { path: eve.path }), src.session);
    if (e.error) report.warnings.push({ packet: null, offset: null, message: e.error.message });
    post({ type: 'done', report, cancelled: false, damaged: e.error ? e.error.message : null, interfaces: [...src.sink.interfaces] });
  });
  return () => {
    offDelta();
    offEnd();
  };
}
