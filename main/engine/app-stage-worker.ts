import { isMainThread, parentPort, workerData, type MessagePort } from 'node:worker_threads';
import { openCapture } from '../pcap/reader.js';
import { parseDecodeAs } from '../decode/decoder.js';
import { AnalysisSession } from './session.js';
import { fileOfReport, finishFile, useKeys } from './analyze-file.js';
import { ContextRingReader } from './context-ring.js';
import { factsFromColumns, type TcpFactColumns } from '../analysis/connection-facts.js';
import { writeReportMembersBytes, type JsonChunk } from './report-json.js';
import { MessageQueue } from './message-queue.js';
import { loadKeyLogFiles } from '../decrypt/capture-keys.js';
import type { Warning } from './report.js';
import type { HttpExchangeStore } from '../analysis/http-exchange-store.js';

/*
 * The application thread of the split analysis (engine/split-analysis.ts). It reads the
 * same file as the transport thread, takes each packet's connection from the context ring,
 * and runs everything but the TCP analyser: tunnels, HTTP/1.x, HTTP/2, HTTP/3, DNS, TLS,
 * QUIC, ICMP errors; then the findings, from the TCP fact columns the transport thread
 * sends. It writes two parts of the report document and posts them as text:
 *
 *   head  "file", "warnings", "tunnels"             (as soon as reading is done)
 *   tail  "http", "dns", "tls", "quic", "findings", "alerts"   (when asked, in ~1 MB pieces)
 *
 * The transport thread writes head, its own "connections", then tail: the single-thread
 * document, byte for byte. For the workbench (output 'parts') it posts the same parts as
 * values and the HTTP exchange store (AppParts), which the analysis worker's report carries.
 */

export interface AppStageJob {
  kind: 'tapscope-app-stage';
  path: string;
  decodeAs: string[];
  keyLogs: { text: string; source: string }[];
  /** Key log files to read here (the workbench's job names files; their problems become warnings). */
  keyLogPaths?: string[];
  ring: SharedArrayBuffer;
  /**
   * 'json' (analyze --json): the head and tail of the document as text. 'parts' (the
   * workbench's analysis worker): the application layer's report parts as values, and the
   * HTTP exchange store with its buffers moved.
   */
  output: 'json' | 'parts';
}

/** The application layer's share of the report, for the workbench (output 'parts'). */
export interface AppParts {
  warnings: Warning[];
  tunnels: unknown[];
  dns: unknown[];
  tls: unknown[];
  quic: unknown[];
  findings: unknown[];
  httpStore: HttpExchangeStore;
}

/** Application thread -> transport thread. */
export type AppStageMessage =
  | { type: 'head'; chunks: JsonChunk[] }
  | { type: 'tail'; chunk: JsonChunk }
  | { type: 'parts'; parts: AppParts }
  | { type: 'end' }
  | { type: 'failed'; message: string };

/** Transport thread -> application thread. */
export type TransportStageMessage =
  | { type: 'tcp-facts'; columns: TcpFactColumns }
  | { type: 'send-tail' };

/** The transport thread's next message, which must be of `type`. */
async function expectMessage<T extends TransportStageMessage['type']>(inbox: MessageQueue<TransportStageMessage>, type: T): Promise<Extract<TransportStageMessage, { type: T }>> {
  const m = await inbox.next();
  if (m.type !== type) throw new Error(`split analysis: expected ${type}, got ${m.type}`);
  return m as Extract<TransportStageMessage, { type: T }>;
}

export async function runAppStage(job: AppStageJob, port: MessagePort): Promise<void> {
  const post = (m: AppStageMessage, transfer: ArrayBuffer[] = []): void => port.postMessage(m, transfer);
  // Each chunk of JSON octets has a buffer of its own (JsonOut allocates one per chunk): moved, not copied.
  const buffers = (chunks: JsonChunk[]): ArrayBuffer[] => chunks.flatMap((c) => (typeof c === 'string' ? [] : [c.buffer as ArrayBuffer]));
  const inbox = new MessageQueue<TransportStageMessage>();
  port.on('message', inbox.deliver);
  const ring = new ContextRingReader(job.ring);
  try {
    const reader = openCapture(job.path);
    const session = new AnalysisSession({ decodeAs: job.decodeAs.map(parseDecodeAs), stage: 'application' });
    try {
      useKeys(session, reader, job.keyLogs);
      const keyProblems = loadKeyLogFiles(job.keyLogPaths ?? [], session.app.keys);
      // The transport thread decides where the file ends (it may have grown since, or the user cancelled).
      for (let r = reader.next(); r && ring.next(); r = reader.next()) session.feedReplay(r, ring.connId, ring.toServer, ring.tcpFlags);
      if (ring.next()) throw new Error(`the file changed while it was read: the transport thread read more than ${session.packets} packets`);
      finishFile(session, reader, keyProblems);
      const app = session.app;
      const findingsFrom = async (): Promise<unknown[]> => {
        const { columns } = await expectMessage(inbox, 'tcp-facts');
        return app.findings(factsFromColumns(session.connections.flows, columns), session.firstTs, session.lastTs);
      };
      if (job.output === 'parts') {
        const findings = await findingsFrom();
        const parts: AppParts = { warnings: session.warnings, tunnels: session.tunnels.summary(), dns: app.dns.json(), tls: app.tls.json(), quic: app.quic.json(), findings, httpStore: app.http.store };
        post({ type: 'parts', parts }, app.http.store.buffers());
        return;
      }
      const head: JsonChunk[] = [];
      writeReportMembersBytes({ file: session.fileSummary(fileOfReport(job.path, reader)), warnings: session.warnings, tunnels: session.tunnels.summary() }, session.connections, (c) => head.push(c));
      post({ type: 'head', chunks: head }, [...new Set(buffers(head))]);
      const findings = await findingsFrom();
      await expectMessage(inbox, 'send-tail');
      writeReportMembersBytes(
        { http: [], dns: app.dns.json(), tls: app.tls.json(), quic: app.quic.json(), findings, alerts: [] },
        session.connections,
        (chunk) => post({ type: 'tail', chunk }, buffers([chunk])),
        undefined,
        app.http,
      );
      post({ type: 'end' });
    } finally {
      reader.close();
    }
  } catch (e) {
    ring.abort();
    post({ type: 'failed', message: (e as Error).stack ?? String(e) });
  } finally {
    port.close();
  }
}

if (!isMainThread && parentPort && (workerData as AppStageJob | undefined)?.kind === 'tapscope-app-stage') {
  void runAppStage(workerData as AppStageJob, parentPort);
}
