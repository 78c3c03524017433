import { Worker } from 'node:worker_threads';
import { existsSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { openCapture } from '../pcap/reader.js';
import type { CaptureFormatError } from '../pcap/record.js';
import type { DecodeAs } from '../decode/decoder.js';
import { AnalysisSession } from './session.js';
import { ContextRingWriter, contextRingBuffer, RingAborted } from './context-ring.js';
import type { ConnectionTable } from '../analysis/connections.js';
import type { FlowContext } from '../flows/flow-table.js';
import { tcpFactBuffers, tcpFactColumns } from '../analysis/connection-facts.js';
import { writeReportMembersBytes, type JsonChunk } from './report-json.js';
import { MessageQueue } from './message-queue.js';
import type { AppStageJob, AppStageMessage, TransportStageMessage } from './app-stage-worker.js';

/*
 * THE SPLIT ANALYSIS: `tapscope analyze --json` on two cores. Two threads read the same
 * file (the page cache makes the second read cheap) and split the work by layer:
 *
 *   transport thread (this one)          application thread (app-stage-worker.ts)
 *   read, decode                         read, decode
 *   connection lookup, TCP analyser  ->  context ring: connection, direction, tcp flags
 *                                        tunnels, HTTP, DNS, TLS, QUIC, ICMP (replayed rows)
 *   TCP fact columns                 ->  findings
 *   writes: {  <- head  "connections"    head: file, warnings, tunnels
 *              <- tail  }                tail: http, dns, tls, quic, findings, alerts
 *
 * The per-packet hand-over is the shared-memory ring (engine/context-ring.ts); the only
 * messages are the two report parts and the fact columns, so nothing is sent per packet.
 * Both threads see every packet in file order and the application thread's flow table is
 * a replay of this one's, so connection numbers, counters and every analyser's input are
 * what the single-thread session sees: the document is the same byte for byte
 * (test/engine/split-analysis.test.ts, every corpus capture).
 */

/**
 * The application thread's young generation. Parsing allocates many short-lived strings and
 * records; with V8's default (16 MB) scavenges took 20 % of that thread at 200,000 HTTP
 * connections, with 32 MB 12 %, with 64 MB 10 % but 30 MB more of reserved heap (measured
 * with --cpu-prof and v8.getHeapStatistics).
 */
const APP_YOUNG_GENERATION_MB = 32;

export interface SplitOptions {
  decodeAs: DecodeAs[];
  /** The same rules as text, for the worker (parseDecodeAs there). */
  decodeAsText: string[];
  keyLogs: { text: string; source: string }[];
  workerFile: string;
  /** Changes each connection's JSON before it is written (--community-id-seed). */
  eachConnection?: (json: Record<string, unknown>) => void;
}

export interface SplitResult {
  error: CaptureFormatError | null;
  packets: number;
}

/** The worker script beside the CLI bundle (out/cli/app-stage-worker.mjs), or null when absent (running from sources). */
export function appStageWorkerFile(bundleUrl: string): string | null {
  const file = new URL('./app-stage-worker.mjs', bundleUrl);
  if (file.protocol !== 'file:') return null;
  return appStageWorkerBeside(decodeURIComponent(file.pathname)) ?? null;
}

/** The application thread's script in the folder of `file` (a bundle: out/cli), or undefined. */
export function appStageWorkerBeside(file: string): string | undefined {
  const path = join(dirname(file), 'app-stage-worker.mjs');
  return existsSync(path) ? path : undefined;
}

/**
 * Whether to split: only when TAPSCOPE_ANALYZE_THREADS=2, and only regular files (a pipe
 * cannot be read twice). Not by default: measured on the idle 2-core machine the split
 * saves 5-10 % of the wall time at 200,000 connections (3.26 s against 3.45-3.64 s) and
 * nothing on the 1 GB bulk capture (1.0 s both: reading and decoding, which both threads
 * do, are most of it), for about 100 MB more peak RSS (two heaps, two flow tables);
 * README "Performance".
 */
export function shouldSplit(path: string, env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.TAPSCOPE_ANALYZE_THREADS !== '2') return false;
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/** Thrown when the split analysis stopped before it wrote anything: the caller may analyse in one thread instead. */
export class SplitNotStarted extends Error {
  override name = 'SplitNotStarted';
}

/**
 * The application thread seen from the transport thread: start it, push() each packet's
 * connection context after the transport session's feed(), end(), then sendTcpFacts() and
 * read its messages. Used by analyze --json (below) and the workbench's analysis worker.
 */
export class AppStage {
  private readonly ring: ContextRingWriter;
  private readonly worker: Worker;
  private readonly inbox: WorkerInbox;

  constructor(job: Omit<AppStageJob, 'kind' | 'ring'>, workerFile: string) {
    const ring = contextRingBuffer();
    this.ring = new ContextRingWriter(ring);
    this.worker = new Worker(workerFile, { workerData: { ...job, kind: 'tapscope-app-stage', ring } satisfies AppStageJob, resourceLimits: { maxYoungGenerationSizeMb: APP_YOUNG_GENERATION_MB } });
    this.inbox = new WorkerInbox(this.worker);
  }

  /** The packet the transport session just fed (its flow table's context). Throws RingAborted when the application thread failed. */
  push(ctx: FlowContext): void {
    this.ring.push(ctx.connId, ctx.tcpFlags, ctx.toServer);
  }

  /** No more packets (the file's end, damage or cancel): the application thread finishes. */
  end(): void {
    this.ring.end();
  }

  /** The transport thread failed: the application thread stops too. */
  abort(): void {
    this.ring.abort();
  }

  /** What the findings need of the TCP analysis, once the transport session is finished. */
  sendTcpFacts(table: ConnectionTable): void {
    const columns = tcpFactColumns(table.flows, table.tcp?.table ?? null);
    this.worker.postMessage({ type: 'tcp-facts', columns } satisfies TransportStageMessage, tcpFactBuffers(columns));
  }

  send(m: TransportStageMessage): void {
    this.worker.postMessage(m);
  }

  next(): Promise<AppStageMessage> {
    return this.inbox.next();
  }

  /** The application thread's failure message (after RingAborted). */
  failure(): Promise<string> {
    return this.inbox.failure();
  }

  close(): Promise<number> {
    return this.worker.terminate();
  }
}

/**
 * Analyses `path` on two threads and writes the `analyze --json` document through `write`.
 * Throws (as analyzeFile does) when the file cannot be opened, SplitNotStarted when the
 * worker failed before any output, and other errors after output began.
 */
export async function analyzeFileSplit(path: string, opts: SplitOptions, write: (chunk: JsonChunk) => void): Promise<SplitResult> {
  const reader = openCapture(path);
  const app = new AppStage({ path, decodeAs: opts.decodeAsText, keyLogs: opts.keyLogs, output: 'json' }, opts.workerFile);
  try {
    const session = new AnalysisSession({ decodeAs: opts.decodeAs, stage: 'transport' });
    const ctx = session.connections.flows.ctx;
    try {
      for (let r = reader.next(); r; r = reader.next()) {
        session.feed(r);
        app.push(ctx);
      }
    } catch (e) {
      if (e instanceof RingAborted) throw new SplitNotStarted(await app.failure());
      app.abort();
      throw e;
    }
    app.end();
    session.finish();
    app.sendTcpFacts(session.connections);
    const head = await app.next();
    if (head.type !== 'head') throw new SplitNotStarted(head.type === 'failed' ? head.message : `unexpected ${head.type}`);
    write('{');
    for (const c of head.chunks) write(c);
    write(',');
    writeReportMembersBytes({ connections: [] }, session.connections, write, opts.eachConnection);
    app.send({ type: 'send-tail' });
    for (let first = true; ; first = false) {
      const m = await app.next();
      if (m.type === 'end') break;
      if (m.type !== 'tail') throw new Error(m.type === 'failed' ? m.message : `unexpected ${m.type}`);
      if (first) write(',');
      write(m.chunk);
    }
    write('}\n');
    return { error: reader.error, packets: session.packets };
  } finally {
    reader.close();
    await app.close();
  }
}

/** The worker's messages in order, its failure (an error event or an exit before 'end') as a 'failed' message. */
class WorkerInbox extends MessageQueue<AppStageMessage> {
  constructor(worker: Worker) {
    super();
    worker.on('message', this.deliver);
    worker.on('error', (e) => this.deliver({ type: 'failed', message: e.stack ?? String(e) }));
    worker.on('exit', (code) => this.deliver({ type: 'failed', message: `the application thread exited (code ${code})` }));
  }

  /** The worker's failure message, once it arrives. */
  async failure(): Promise<string> {
    for (;;) {
      const m = await this.next();
      if (m.type === 'failed') return m.message;
    }
  }
}
