/*
 * THE ANALYSIS OFF THE EXPORT PATH (issue 13): a live sensor's primary outputs — the spool,
 * the IDS feeds and the flow records — are produced on the receiving thread from a light
 * decode (decode/decoder.ts + flows/flow-cache.ts); the full analysis (TCP, HTTP/DNS/TLS,
 * findings, the report) runs in a worker thread fed with copies of the packets in batches
 * through a bounded queue. When the analysis falls behind, whole batches are not sent and
 * their packets are counted as "analysis skipped" (CaptureCounters.analysisSkipped): the
 * receive path and the exports never wait for it, and nothing is dropped silently.
 *
 *   receiving thread (LiveSink)                         analysis worker (this file, worker side)
 *   decode -> flow cache -> spool, IDS feeds
 *   copy into a 1 MiB batch ---- batch (transferred) -->  AnalysisSession.feed each packet,
 *     (at most MAX_IN_FLIGHT batches unanswered;          budget restarts (analysisBudget),
 *      beyond: the batch is skipped and counted)          flow number -> its connection
 *   <------------------------ ack (buffer back) ---------
 *   ended flow records -------- records -------------->   analysis elements filled in
 *   <------------------------ records -----------------   (handshake RTT, HTTP host, SNI, ...)
 *   finish ---------------------------------------------> session.finish()
 *   report (eve alerts) --------------------------------> report JSON, alerts joined
 *
 * A packet in a batch: u32 caplen | u32 origLen | u32 tsSec | u32 tsNsec | u16 linkType |
 * u16 interfaceId | i32 flow number (-1 none) | f64 packet number | bytes (HEADER = 32).
 * Messages are handled in order on both sides, so flow records reach the worker after the
 * packets that made them (the sink sends its open batch first).
 */
import { getPriority, setPriority } from 'node:os';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { AnalysisSession } from '../engine/session.js';
import type { AnalysisReport } from '../engine/report.js';
import type { DecodeAs } from '../decode/decoder.js';
import type { PacketRecord } from '../pcap/record.js';
import type { FlowRecord } from '../flows/flow-records.js';
import { LiveAppFacts } from '../flows/live-app-facts.js';
import { KeyLogFollower } from '../decrypt/key-log-follower.js';
import { applyAlerts } from '../ids/analyze-alerts.js';
import type { EveReadResult } from '../ids/eve.js';
import type { CaptureInterface } from '../pcap/record.js';
import type { RotatedAnalyses } from './live-sink.js';

const HEADER = 32;
/** Bytes of one batch (a few thousand datagrams of a cloud-TAP feed). */
export const BATCH_BYTES = 1 << 20;
/**
 * Batches sent and not yet analysed before new ones are skipped: the queue, 64 MiB (about
 * 350,000 datagrams of 150 bytes, 2 s of analysis), enough to ride out the bursts in which the
 * receiving thread drains the receive program's queue; beyond it the analysis is behind for good.
 */
export const MAX_IN_FLIGHT = 64;
/**
 * Flow records waiting for their analysis elements at most; more are exported without them
 * (counted: recordsWithoutAnalysis), so a starved analysis costs those elements, never the
 * export's memory or latency.
 */
export const MAX_PENDING_RECORDS = 32_768;
/** A batch is sent at the latest this long after its first packet (the analysis follows within about this). */
const BATCH_MS = 50;

export interface AnalysisThreadOptions {
  decodeAs?: DecodeAs[];
  analysisBudget?: number;
  analysisPacketBudget?: number;
  keyLogPath?: string;
  /**
   * Nice value asked for the receiving thread (the export path) once the worker runs, so that
   * on a busy machine the analysis, not the exports, gives way (granted to root or
   * CAP_SYS_NICE; Linux nice values are per thread). The worker keeps the process's own. Unset:
   * unchanged.
   */
  exportNice?: number;
  /** Batches in flight before new ones are skipped (default MAX_IN_FLIGHT). */
  maxInFlight?: number;
}

/** What the worker reports after each batch. */
export interface AnalysisProgress {
  /** Packets analysed. */
  packets: number;
  /** Connections of the current analysis. */
  connections: number;
  rotated: RotatedAnalyses;
  analysisErrors: number;
}

export interface AnalysisThreadResult {
  report: AnalysisReport;
  progress: AnalysisProgress;
}

type ToWorker =
  | { type: 'batch'; buf: ArrayBuffer; n: number; bytes: number }
  | { type: 'decodeAs'; decodeAs: DecodeAs[] }
  | { type: 'records'; id: number; flows: Float64Array }
  | { type: 'finish' }
  | { type: 'report'; file: { path: string; format: 'pcapng'; interfaces: CaptureInterface[] }; eve: (EveReadResult & { path: string }) | null }
  | { type: 'close' };

type FromWorker =
  | { type: 'ack'; buf: ArrayBuffer; progress: AnalysisProgress }
  | { type: 'records'; id: number; numbers: Float64Array; strings: (string | number | null)[] }
  | { type: 'report'; report: AnalysisReport; progress: AnalysisProgress }
  | { type: 'failed'; message: string };

interface WorkerJob {
  kind: 'tapscope-analysis';
  options: AnalysisThreadOptions;
  /** The nice value the worker runs at (the process's before the export path was raised). */
  nice: number | null;
}

/** The receiving thread's side: batches packets for the worker, skips (and counts) when it is behind. */
export class AnalysisThread {
  private readonly worker: Worker;
  private buf: ArrayBuffer;
  private view: DataView;
  private bytes: Uint8Array;
  private used = 0;
  private n = 0;
  private firstMs = 0;
  private readonly free: ArrayBuffer[] = [];
  private inFlight = 0;
  /** Packets not analysed: their batch found the queue full (the analysis was behind). */
  skipped = 0;
  skippedBatches = 0;
  /** Packets sent to the worker. */
  sent = 0;
  /** Flow records waiting for the worker's answer, and those exported without asking (the queue was full). */
  private pendingCount = 0;
  recordsWithoutAnalysis = 0;
  progress: AnalysisProgress = { packets: 0, connections: 0, rotated: { rotations: 0, packets: 0, connections: 0 }, analysisErrors: 0 };
  /** Set when the worker failed: the analysis stops, the exports go on. */
  failure: string | null = null;
  private nextId = 0;
  private readonly pendingRecords = new Map<number, (m: { numbers: Float64Array; strings: (string | number | null)[] } | null) => void>();
  private reportWaiter: ((r: AnalysisThreadResult) => void) | null = null;
  private reportFailed: ((e: Error) => void) | null = null;
  private readonly timer: NodeJS.Timeout;
  private closed = false;
  /**
   * Requests not yet answered (batches, records, report): the worker keeps the process alive
   * only while there are some, so a CLI that ends without close() is not held open by it,
   * and one waiting for an answer is not left by an empty event loop.
   */
  private busy = 0;
  private hold(): void {
    if (this.busy++ === 0) this.worker.ref();
  }
  private release(): void {
    if (this.busy > 0 && --this.busy === 0) this.worker.unref();
  }

  /** The nice value the receiving thread got (AnalysisThreadOptions.exportNice), null when not asked or not granted. */
  readonly exportNice: number | null = null;

  private readonly maxInFlight: number;

  constructor(options: AnalysisThreadOptions, workerFile: string) {
    this.maxInFlight = Math.max(1, options.maxInFlight ?? MAX_IN_FLIGHT);
    let nice: number | null = null;
    try {
      nice = getPriority(0);
    } catch {
      // unknown: the worker keeps what it inherits
    }
    this.worker = new Worker(workerFile, { workerData: { kind: 'tapscope-analysis', options, nice } satisfies WorkerJob });
    if (options.exportNice !== undefined && nice !== null && options.exportNice < nice) {
      try {
        setPriority(0, options.exportNice); // this thread only (Linux); the worker resets its own to `nice`
        this.exportNice = options.exportNice;
      } catch {
        // not permitted: both run as started
      }
    }
    this.buf = new ArrayBuffer(BATCH_BYTES);
    this.view = new DataView(this.buf);
    this.bytes = new Uint8Array(this.buf);
    this.worker.on('message', (m: FromWorker) => this.onMessage(m));
    this.worker.on('error', (e) => this.fail(`the analysis thread failed: ${e.message}`));
    this.worker.on('exit', () => { if (!this.closed) this.fail('the analysis thread ended'); });
    this.worker.unref(); // after the listeners (adding a 'message' listener refs the worker again)
    this.timer = setInterval(() => {
      if (this.n > 0 && Date.now() - this.firstMs >= BATCH_MS) this.post();
    }, BATCH_MS);
    this.timer.unref?.();
  }

  private fail(message: string): void {
    this.failure ??= message;
    this.busy = 0;
    this.worker.unref();
    for (const [, res] of this.pendingRecords) res(null);
    this.pendingRecords.clear();
    this.reportFailed?.(new Error(this.failure));
    this.reportWaiter = null;
    this.reportFailed = null;
  }

  private onMessage(m: FromWorker): void {
    if (m.type === 'ack') {
      this.release();
      this.inFlight--;
      this.progress = m.progress;
      if (this.free.length < 2) this.free.push(m.buf);
    } else if (m.type === 'records') {
      this.release();
      const res = this.pendingRecords.get(m.id);
      this.pendingRecords.delete(m.id);
      res?.(m);
    } else if (m.type === 'report') {
      this.release();
      this.progress = m.progress;
      this.reportWaiter?.({ report: m.report, progress: m.progress });
      this.reportWaiter = null;
    } else if (m.type === 'failed') {
      this.release();
      this.fail(m.message);
    }
  }

  setDecodeAs(decodeAs: DecodeAs[]): void {
    this.worker.postMessage({ type: 'decodeAs', decodeAs } satisfies ToWorker);
  }

  /** Queues one packet (`flow`: its flow number in the flow cache, -1 none). */
  packet(r: PacketRecord, flow: number): void {
    if (this.failure) return;
    const len = r.caplen;
    if (this.used + HEADER + len > BATCH_BYTES) {
      this.post();
      if (HEADER + len > BATCH_BYTES) return; // cannot happen: datagrams are at most 64 KiB
    }
    const v = this.view;
    const o = this.used;
    v.setUint32(o, len, true);
    v.setUint32(o + 4, r.origLen, true);
    v.setUint32(o + 8, r.tsSec, true);
    v.setUint32(o + 12, r.tsNsec, true);
    v.setUint16(o + 16, r.linkType, true);
    v.setUint16(o + 18, r.interfaceId, true);
    v.setInt32(o + 20, flow, true);
    v.setFloat64(o + 24, r.index, true);
    const d = r.data;
    this.bytes.set(new Uint8Array(d.buffer, d.byteOffset + r.offset, len), o + HEADER); // a plain view: cheaper than Buffer#subarray
    this.used = o + HEADER + len;
    if (this.n++ === 0) this.firstMs = Date.now();
  }

  /** Sends the open batch, or skips it (counted) when MAX_IN_FLIGHT batches are unanswered. */
  post(): void {
    if (this.n === 0) return;
    if (this.inFlight >= this.maxInFlight || this.failure) {
      this.skipped += this.n;
      this.skippedBatches++;
    } else {
      this.hold();
      this.worker.postMessage({ type: 'batch', buf: this.buf, n: this.n, bytes: this.used } satisfies ToWorker, [this.buf]);
      this.inFlight++;
      this.sent += this.n;
      this.buf = this.free.pop() ?? new ArrayBuffer(BATCH_BYTES);
      this.view = new DataView(this.buf);
      this.bytes = new Uint8Array(this.buf);
    }
    this.used = 0;
    this.n = 0;
  }

  /** Ended flow records, with the analysis's elements filled in where it has their connection. */
  enrich(records: FlowRecord[]): Promise<FlowRecord[]> | null {
    if (this.failure || this.closed) return null;
    if (this.pendingCount + records.length > MAX_PENDING_RECORDS) {
      this.recordsWithoutAnalysis += records.length;
      return null;
    }
    this.post(); // the packets that ended these flows go first
    const id = this.nextId++;
    this.pendingCount += records.length;
    const flows = new Float64Array(records.length);
    for (let i = 0; i < records.length; i++) flows[i] = records[i].connectionId;
    return new Promise((resolve) => {
      this.pendingRecords.set(id, (m) => {
        this.pendingCount -= records.length;
        // Into the caller's objects (the sink's recent ring holds them): FACT_NUMBERS numbers
        // per record (NaN: the analysis has not its connection), then [index, host, dns, sni].
        if (m) {
          const v = m.numbers;
          for (let i = 0; i < records.length; i++) {
            const o = i * FACT_NUMBERS;
            if (Number.isNaN(v[o + 1])) continue;
            const r = records[i];
            r.handshakeRttUs = v[o] < 0 ? null : v[o];
            r.retransmissions = v[o + 1];
            r.lostSegments = v[o + 2];
            r.ackedUnseen = v[o + 3];
            r.httpStatus = v[o + 4] < 0 ? null : v[o + 4];
            r.dnsRcode = v[o + 5] < 0 ? null : v[o + 5];
          }
          const st = m.strings;
          for (let j = 0; j + 3 < st.length; j += 4) {
            const r = records[st[j] as number];
            r.httpHost = st[j + 1] as string | null;
            r.dnsName = st[j + 2] as string | null;
            r.tlsSni = st[j + 3] as string | null;
          }
        }
        resolve(records);
      });
      this.hold();
      this.worker.postMessage({ type: 'records', id, flows } satisfies ToWorker, [flows.buffer as ArrayBuffer]);
    });
  }

  /** End of capture: the analysis finishes after the packets sent so far. */
  finish(): void {
    this.post();
    if (!this.failure) this.worker.postMessage({ type: 'finish' } satisfies ToWorker);
  }

  /** The report of the analysis (after finish(); the eve.json alerts joined in the worker). */
  report(file: { path: string; format: 'pcapng'; interfaces: CaptureInterface[] }, eve: (EveReadResult & { path: string }) | null): Promise<AnalysisThreadResult> {
    if (this.failure) return Promise.reject(new Error(this.failure));
    return new Promise((resolve, reject) => {
      this.reportWaiter = resolve;
      this.reportFailed = reject;
      this.hold();
      this.worker.postMessage({ type: 'report', file, eve } satisfies ToWorker);
    });
  }

  /** Ends the worker (after report(), or when no report is wanted). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
    this.worker.postMessage({ type: 'close' } satisfies ToWorker);
  }
}

// ---- worker side ------------------------------------------------------------------------

const TAG_EPOCH = 2 ** 32;
/** Numbers per record in a records answer: RTT µs (-1 none), retransmissions, lost, acked unseen, HTTP status (-1), DNS rcode (-1). */
const FACT_NUMBERS = 6;

/**
 * A flow record's analysis elements (handshake RTT, retransmissions, capture-loss counters;
 * HTTP host/status, DNS name/rcode, TLS SNI) from connection `id` of `session`.
 */
export function enrichFromConnection(r: FlowRecord, session: AnalysisSession, id: number, facts: LiveAppFacts): void {
  if (id < 0 || id >= session.connections.count) return;
  const c = session.connections.connection(id);
  Object.assign(r, facts.facts(c));
  const t = c.tcp;
  if (!t) return;
  r.handshakeRttUs = t.handshakeRtt === null ? null : Math.round(t.handshakeRtt * 1e6);
  r.retransmissions = t.counters.retransmissions;
  r.lostSegments = t.counters.lostSegments;
  r.ackedUnseen = t.counters.ackedUnseen;
}

function runAnalysisWorker(job: WorkerJob, port: NonNullable<typeof parentPort>): void {
  const o = job.options;
  // A thread inherits its creator's nice value: the analysis runs at the process's own, below the export path.
  if (job.nice !== null) try { setPriority(0, job.nice); } catch { /* as inherited */ }
  let decodeAs = o.decodeAs ?? [];
  let session = new AnalysisSession({ decodeAs });
  let facts = new LiveAppFacts(session.app);
  const rotated: RotatedAnalyses = { rotations: 0, packets: 0, connections: 0, sinceMs: Date.now() };
  let analysisErrors = 0;
  let fed = 0;
  const keyLog = o.keyLogPath ? new KeyLogFollower(o.keyLogPath, session.app.keys) : null;
  keyLog?.poll();
  let lastKeyPoll = Date.now();
  /** Flow number -> analysis number * TAG_EPOCH + connection id of its latest packet (one entry per flow in the cache). */
  const tags = new Map<number, number>();
  let ended: number[] = [];
  /** The analysis elements of one record, filled by enrichFromConnection. */
  const scratch = {} as FlowRecord;
  const rec: PacketRecord = {
    index: 0, fileOffset: 0, data: new Uint8Array(0), view: new DataView(new ArrayBuffer(0)), offset: 0,
    caplen: 0, origLen: 0, tsSec: 0, tsNsec: 0, ts: 0, linkType: 1, interfaceId: 0, comment: null,
  };
  const progress = (): AnalysisProgress => ({ packets: fed, connections: session.connections.count, rotated: { ...rotated }, analysisErrors });
  const overBudget = (): boolean => (o.analysisBudget !== undefined && session.connections.count >= o.analysisBudget)
    || (o.analysisPacketBudget !== undefined && session.packets >= o.analysisPacketBudget);

  port.on('message', (m: ToWorker) => {
    if (m.type === 'batch') {
      const bytes = new Uint8Array(m.buf);
      const v = new DataView(m.buf);
      rec.data = bytes;
      rec.view = v;
      let off = 0;
      for (let i = 0; i < m.n; i++) {
        const len = v.getUint32(off, true);
        rec.caplen = len;
        rec.origLen = v.getUint32(off + 4, true);
        rec.tsSec = v.getUint32(off + 8, true);
        rec.tsNsec = v.getUint32(off + 12, true);
        rec.ts = rec.tsSec + rec.tsNsec / 1e9;
        rec.linkType = v.getUint16(off + 16, true);
        rec.interfaceId = v.getUint16(off + 18, true);
        const flow = v.getInt32(off + 20, true);
        rec.index = v.getFloat64(off + 24, true);
        rec.offset = off + HEADER;
        off += HEADER + len;
        fed++;
        try {
          session.feed(rec);
          const connId = session.connections.flows.ctx.connId;
          if (flow >= 0 && connId >= 0) tags.set(flow, rotated.rotations * TAG_EPOCH + connId);
          if (overBudget()) {
            rotated.rotations++;
            rotated.packets += session.packets;
            rotated.connections += session.connections.count;
            rotated.sinceMs = Date.now();
            session = new AnalysisSession({ decodeAs });
            facts = new LiveAppFacts(session.app);
            keyLog?.retarget(session.app.keys);
          }
        } catch (e) {
          if (++analysisErrors <= 20) {
            session.warnings.push({ packet: rec.index + 1, offset: null, message: `analysis failed on this packet (it is saved): ${(e as Error).message}` });
          }
        }
      }
      if (keyLog && Date.now() - lastKeyPoll >= 250) {
        lastKeyPoll = Date.now();
        keyLog.poll();
      }
      port.postMessage({ type: 'ack', buf: m.buf, progress: progress() } satisfies FromWorker, [m.buf]);
    } else if (m.type === 'records') {
      // An ended flow's number is not used again (after an active timeout the flow goes on
      // under a new one): forgotten one message later, as its two records (one per
      // direction) may straddle two messages.
      for (const n of ended) tags.delete(n);
      ended = [];
      const n = m.flows.length;
      const numbers = new Float64Array(n * FACT_NUMBERS).fill(NaN);
      const strings: (string | number | null)[] = [];
      for (let i = 0; i < n; i++) {
        const flow = m.flows[i];
        const tag = tags.get(flow);
        if (tag === undefined) continue;
        ended.push(flow);
        const epoch = Math.floor(tag / TAG_EPOCH);
        const id = tag - epoch * TAG_EPOCH;
        if (epoch !== rotated.rotations || id >= session.connections.count) continue;
        const r = scratch;
        r.handshakeRttUs = null; r.retransmissions = 0; r.lostSegments = 0; r.ackedUnseen = 0;
        r.httpHost = null; r.httpStatus = null; r.dnsName = null; r.dnsRcode = null; r.tlsSni = null;
        enrichFromConnection(r, session, id, facts);
        const o = i * FACT_NUMBERS;
        numbers[o] = r.handshakeRttUs ?? -1;
        numbers[o + 1] = r.retransmissions;
        numbers[o + 2] = r.lostSegments;
        numbers[o + 3] = r.ackedUnseen;
        numbers[o + 4] = r.httpStatus ?? -1;
        numbers[o + 5] = r.dnsRcode ?? -1;
        if (r.httpHost !== null || r.dnsName !== null || r.tlsSni !== null) strings.push(i, r.httpHost, r.dnsName, r.tlsSni);
      }
      port.postMessage({ type: 'records', id: m.id, numbers, strings } satisfies FromWorker, [numbers.buffer as ArrayBuffer]);
    } else if (m.type === 'decodeAs') {
      decodeAs = m.decodeAs;
      if (fed === 0) {
        session = new AnalysisSession({ decodeAs });
        facts = new LiveAppFacts(session.app);
        keyLog?.retarget(session.app.keys);
        keyLog?.poll();
      }
    } else if (m.type === 'finish') {
      keyLog?.poll();
      try {
        session.finish();
      } catch (e) {
        session.warnings.push({ packet: null, offset: null, message: `analysis failed at the end of capture: ${(e as Error).message}` });
      }
      if (keyLog?.problem) session.warnings.push({ packet: null, offset: null, message: keyLog.problem });
    } else if (m.type === 'report') {
      try {
        const report = session.report({ ...m.file, comments: [] });
        report.alerts = [];
        if (m.eve) applyAlerts(report, m.eve, m.eve.path, session);
        port.postMessage({ type: 'report', report, progress: progress() } satisfies FromWorker);
      } catch (e) {
        port.postMessage({ type: 'failed', message: `the analysis report failed: ${(e as Error).message}` } satisfies FromWorker);
      }
    } else if (m.type === 'close') {
      port.close();
    }
  });
}

if (!isMainThread && parentPort && (workerData as WorkerJob | undefined)?.kind === 'tapscope-analysis') {
  runAnalysisWorker(workerData as WorkerJob, parentPort);
}
