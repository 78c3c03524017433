import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import { addSessionAlerts } from '../ids/analyze-alerts.js';
import { openCapture, type CaptureReader } from '../pcap/reader.js';
import { AppStage, shouldSplit } from './split-analysis.js';
import { fileOfReport } from './analyze-file.js';
import { SessionDeltas, type AppSnapshot, type IndexSlice } from './session-deltas.js';
import type { ConnectionRows } from './connection-columns.js';
import { AnalysisSession } from './session.js';
import { parseDecodeAs } from '../decode/decoder.js';
import type { AnalysisReport } from './report.js';
import { HttpExchangeStore } from '../analysis/http-exchange-store.js';
import type { CaptureInterface } from '../pcap/record.js';
import { loadKeyLogFiles, secretsWarnings, useCaptureSecrets } from '../decrypt/capture-keys.js';

/*
 * File analysis off the main thread. The worker reads the file through an AnalysisSession
 * and sends small batched deltas a few times a second: progress, the connections that
 * changed since the last batch, and the new slice of the packet index (typed arrays,
 * transferred, never per-packet messages). The last message carries the full report.
 *
 * Cancel is a shared Int32 flag the reading loop polls between packets (a busy worker
 * cannot receive messages); partial results are finished and reported as for a damaged file.
 *
 * runAnalysis() is also used in-process (tests, tiny files) with the same messages.
 */

export interface AnalyzeJob {
  kind: 'tapscope-analyze';
  path: string;
  decodeAs: string[];
  /** Int32Array over a SharedArrayBuffer: [0] != 0 asks the reader to stop. */
  cancel: SharedArrayBuffer;
  /** Milliseconds between batches. */
  batchMs?: number;
  /** NSS key log files to decrypt TLS with (read in the worker). */
  keyLogPaths?: string[];
  /** A Suricata eve.json whose alerts are joined into the done report (read in the worker). */
  alertsPath?: string;
  /**
   * Test hook (deterministic cancel and partial progress): post a batch at the first cancel
   * check whatever the time, then wait up to this many ms for the cancel flag (woken by
   * Atomics.notify) before reading on. Worker threads only (a main thread cannot wait).
   */
  holdForCancelMs?: number;
  /** The split analysis's application-thread script (engine/app-stage-worker.ts, bundled); absent: one thread. */
  appStageWorker?: string;
}

export type { IndexSlice };

export type WorkerMessage =
  | { type: 'opened'; format: 'pcap' | 'pcapng'; size: number }
  | {
    type: 'batch'; bytesRead: number; size: number; packets: number; connections: ConnectionRows; index: IndexSlice; interfaces: CaptureInterface[];
    /** Live captures: the application layer and tap sources so far (files get them in 'done'). */
    app?: AppSnapshot;
  }
  | {
    type: 'done'; report: AnalysisReport; cancelled: boolean; damaged: string | null; interfaces: CaptureInterface[];
    /** The report's connections were left out: the batches (the last one after finish()) carried them all. */
    connectionsInBatches?: boolean;
    /** The report's `http` was left out: this exchange store (its buffers transferred) carries it. */
    httpStore?: HttpExchangeStore;
  }
  | { type: 'failed'; message: string };

/**
 * The worker's V8 limits (Worker resourceLimits). Its live JS heap is small (about 9 MB
 * after reading 200,000 connections: the analysis lives in typed arrays), but V8's default
 * young generation (up to 48 MB) filled with garbage the scavenger had not yet collected.
 * 12 MB, on the 200k synthetic capture (worker alone): peak RSS 382-416 -> 348-368 MB; the
 * price is garbage collection, 0.86-0.95 s -> 1.44-1.46 s of about 8 s CPU in the profile
 * (`--cpu-prof`). The workbench's open is well within its time target (under the CLI's
 * time) and over its memory one, so memory wins here; 8 MB was no smaller, 32 MB as large
 * as the default. (The CLI's split analysis makes the other choice for its CPU.)
 */
export const ANALYZE_WORKER_LIMITS = { maxYoungGenerationSizeMb: 12 };

const CHECK_EVERY = 4096;
/**
 * The first batch goes out after this many packets, so the first results show as soon as the
 * worker has read anything (a cold engine reads the first few thousand packets slowly);
 * later batches follow the batch timer, checked every CHECK_EVERY packets.
 */
const FIRST_BATCH = 256;

export function runAnalysis(job: AnalyzeJob, post: (m: WorkerMessage, transfer?: ArrayBuffer[]) => void): void | Promise<void> {
  const cancel = new Int32Array(job.cancel);
  const batchMs = job.batchMs ?? 200;
  let reader;
  try {
    reader = openCapture(job.path);
  } catch (e) {
    post({ type: 'failed', message: (e as Error).message });
    return;
  }
  // Big files in a worker thread: the application layer in a second thread (engine/split-analysis.ts).
  const appWorker = !isMainThread && !job.alertsPath ? job.appStageWorker ?? null : null;
  const split = appWorker && shouldSplit(job.path) ? new AppStage({ path: job.path, decodeAs: job.decodeAs, keyLogs: [], keyLogPaths: job.keyLogPaths, output: 'parts' }, appWorker) : null;
  let closeReader = true;
  try {
    const session = new AnalysisSession({ decodeAs: job.decodeAs.map(parseDecodeAs), keepIndex: true, stage: split ? 'transport' : 'whole' });
    const keyProblems = split ? [] : loadKeyLogFiles(job.keyLogPaths ?? [], session.app.keys);
    useCaptureSecrets(reader, session.app.keys);
    post({ type: 'opened', format: reader.format, size: reader.size });
    // The service keeps the packet index; here it only buffers the next batch's part.
    const deltas = new SessionDeltas(session, true);
    // 0: the first check (after FIRST_BATCH packets) posts at once, so the first results
    // show after a few hundred packets rather than after batchMs of reading.
    let lastBatch = 0;
    let cancelled = false;

    const batch = (): void => {
      const d = deltas.next();
      post(
        { type: 'batch', bytesRead: reader.bytesRead, size: reader.size, packets: session.packets, connections: d.connections, index: d.index, interfaces: reader.interfaces },
        d.transfer,
      );
      lastBatch = Date.now();
    };

    let n = 0;
    let hold = isMainThread ? 0 : job.holdForCancelMs ?? 0;
    const ctx = session.connections.flows.ctx;
    for (let r = reader.next(); r; r = reader.next()) {
      session.feed(r);
      split?.push(ctx);
      if (++n % CHECK_EVERY === 0 || n === FIRST_BATCH) {
        if (hold > 0) {
          batch();
          Atomics.wait(cancel, 0, 0, hold);
          hold = 0;
        }
        if (Atomics.load(cancel, 0) !== 0) {
          cancelled = true;
          break;
        }
        if (Date.now() - lastBatch >= batchMs) batch();
      }
    }
    split?.end();
    session.finish();
    batch();
    if (split) {
      const r = reader;
      closeReader = false;
      return finishSplit(split, session, r, job, cancelled, post).finally(() => r.close());
    }
    for (const message of [...keyProblems, ...secretsWarnings(reader)]) session.warnings.push({ packet: null, offset: null, message });
    if (reader.error) session.warnings.push({ packet: reader.error.packet + 1, offset: reader.error.offset, message: reader.error.message });
    if (cancelled) session.warnings.push({ packet: null, offset: reader.bytesRead, message: 'reading was cancelled; results cover the part read' });
    // Every connection already crossed in a batch (the last one ran after finish()): the
    // report leaves them out. This relies on a connection's facts changing only when it
    // gets a packet (finish() closes HTTP/DNS/TLS state, not connections);
    // test/services/worker.test.ts checks it on every corpus capture.
    // Likewise the http array: the exchange store's columns cross instead (transferred, so
    // no array of 200,000 exchanges exists on either side of the thread boundary).
    const report = session.report({ path: job.path, format: reader.format, interfaces: reader.interfaces, comments: reader.comments }, false, false);
    report.alerts = [];
    if (job.alertsPath) addSessionAlerts(report, job.alertsPath, session);
    const httpStore = session.app.http.store;
    post({ type: 'done', report, cancelled, damaged: reader.error ? reader.error.message : null, interfaces: reader.interfaces, connectionsInBatches: true, httpStore }, httpStore.buffers());
  } catch (e) {
    split?.abort();
    void split?.close();
    post({ type: 'failed', message: `analysis failed: ${(e as Error).message}` });
  } finally {
    if (closeReader) reader.close();
  }
}

/**
 * The end of a split file analysis: the application thread's findings, warnings and HTTP,
 * DNS, TLS and QUIC results (AppParts) make the same 'done' report as one thread's.
 */
async function finishSplit(split: AppStage, session: AnalysisSession, reader: CaptureReader, job: AnalyzeJob, cancelled: boolean, post: (m: WorkerMessage, transfer?: ArrayBuffer[]) => void): Promise<void> {
  try {
    split.sendTcpFacts(session.connections);
    const m = await split.next();
    if (m.type !== 'parts') throw new Error(m.type === 'failed' ? m.message : `unexpected ${m.type}`);
    const p = m.parts;
    const warnings = p.warnings as AnalysisReport['warnings'];
    if (cancelled) warnings.push({ packet: null, offset: reader.bytesRead, message: 'reading was cancelled; results cover the part read' });
    const report: AnalysisReport = {
      file: session.fileSummary(fileOfReport(job.path, reader)),
      warnings,
      tunnels: p.tunnels as AnalysisReport['tunnels'],
      connections: [],
      http: [],
      dns: p.dns,
      tls: p.tls,
      quic: p.quic,
      findings: p.findings,
      alerts: [],
    };
    const httpStore = HttpExchangeStore.revive(p.httpStore);
    post({ type: 'done', report, cancelled, damaged: reader.error ? reader.error.message : null, interfaces: reader.interfaces, connectionsInBatches: true, httpStore }, httpStore.buffers());
  } catch (e) {
    post({ type: 'failed', message: `analysis failed: ${(e as Error).message}` });
  } finally {
    await split.close();
  }
}

if (!isMainThread && parentPort && (workerData as AnalyzeJob | undefined)?.kind === 'tapscope-analyze') {
  const port = parentPort;
  runAnalysis(workerData as AnalyzeJob, (m, transfer) => port.postMessage(m, transfer ?? []));
}
