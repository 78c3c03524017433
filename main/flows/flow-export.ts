import { createSocket } from 'node:dgram';
import { isIP } from 'node:net';
import { closeSync, openSync, writeSync } from 'node:fs';
import { analyzeFile, type AnalyzeFileOptions } from '../engine/analyze-file.js';
import type { AnalysisReport } from '../engine/report.js';
import { FlowMeter } from './flow-meter.js';
import { buildFlowRecords, type FlowRecord } from './flow-records.js';

/*
 * Getting flow records out: from a capture file, to a collector over UDP (IPFIX RFC 7011
 * §10 / NetFlow v9), or to an IPFIX file (RFC 5655: the messages one after another).
 */

export interface FileFlows {
  report: AnalysisReport;
  records: FlowRecord[];
  /** Set when the file is damaged: the records cover the packets before the damage. */
  error: string | null;
}

/** Analyses a capture file with a flow meter and returns its flow records. Throws only when the file cannot be opened. */
export function flowsOfFile(path: string, opts: AnalyzeFileOptions & { communityIdSeed?: number } = {}): FileFlows {
  const meter = new FlowMeter();
  const r = analyzeFile(path, { ...opts, analyzers: [...(opts.analyzers ?? []), meter] });
  return { report: r.report, records: buildFlowRecords(r.report, meter, opts.communityIdSeed ?? 0), error: r.error ? r.error.message : null };
}

export interface Collector {
  host: string;
  port: number;
}

/** Parses HOST:PORT, [IPv6]:PORT or IPv6-without-brackets:PORT is refused (ambiguous). */
export function parseCollector(text: string, option: string): Collector {
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(text) ?? /^([^:]+):(\d+)$/.exec(text);
  const port = m ? Number(m[2]) : NaN;
  if (!m || !(port >= 1 && port <= 65535)) throw new Error(`bad --${option} ${JSON.stringify(text)}: HOST:PORT or [IPv6]:PORT`);
  return { host: m[1], port };
}

/** Datagrams per millisecond at most, so a collector on the same host keeps up. */
const BURST = 32;
/**
 * Most datagrams one pump sends: when timers fire late (a busy machine), the pump sends what
 * the elapsed time allows (a token bucket), so the average rate stays BURST per ms.
 */
const MAX_BURST = 256;

/**
 * One UDP socket to a collector with a paced send queue (BURST datagrams per ms). The
 * queue holds at most `maxQueue` datagrams: a live exporter never blocks on, nor grows
 * with, a collector that cannot keep up; what does not fit is counted in `dropped`.
 * The first socket error (unresolvable host, no route) is kept in `error` and stops sending.
 */
export class DatagramSender {
  sent = 0;
  dropped = 0;
  error: Error | null = null;
  private readonly sock;
  private queue: Buffer[] = [];
  private head = 0;
  private pumping = false;
  /** Handed to the socket, not yet confirmed sent. */
  private inFlight = 0;
  private waiters: (() => void)[] = [];
  private closed = false;
  private lastPumpMs = 0;

  constructor(private readonly to: Collector, private readonly maxQueue = Infinity) {
    this.sock = createSocket(isIP(to.host) === 6 ? 'udp6' : 'udp4');
    this.sock.on('error', (e) => this.fail(e));
  }

  /** Datagrams waiting to be sent. */
  get queued(): number {
    return this.queue.length - this.head;
  }

  enqueue(messages: Buffer[]): void {
    for (const m of messages) {
      if (this.error || this.queued >= this.maxQueue) this.dropped++;
      else this.queue.push(m);
    }
    if (!this.pumping) this.pump();
  }

  /** Resolves once the queue is empty (or sending failed). */
  drained(): Promise<void> {
    if ((this.queued === 0 && this.inFlight === 0) || this.error) return Promise.resolve();
    return new Promise((r) => this.waiters.push(r));
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    try { this.sock.close(); } catch { /* closed */ }
  }

  private fail(e: Error): void {
    if (this.error) return;
    this.error = e;
    this.dropped += this.queued;
    this.queue = [];
    this.head = 0;
    this.wake();
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const r of w) r();
  }

  private pump(): void {
    if (this.error || this.closed) return;
    if (this.queued === 0) {
      this.pumping = false;
      this.queue = [];
      this.head = 0;
      this.lastPumpMs = 0; // idle: the next burst starts afresh
      this.wake();
      return;
    }
    this.pumping = true;
    if (this.head >= 1024) {
      this.queue = this.queue.slice(this.head); // a queue that never empties must not grow
      this.head = 0;
    }
    const now = performance.now();
    const allowed = this.lastPumpMs === 0 ? BURST : Math.min(MAX_BURST, Math.max(BURST, Math.floor((now - this.lastPumpMs) * BURST)));
    this.lastPumpMs = now;
    const end = Math.min(this.queue.length, this.head + allowed);
    this.inFlight = end - this.head;
    for (; this.head < end; this.head++) {
      const m = this.queue[this.head];
      this.queue[this.head] = EMPTY;
      this.sock.send(m, this.to.port, this.to.host, (e) => {
        if (e) this.fail(e);
        else {
          this.sent++;
          if (--this.inFlight === 0) setTimeout(() => this.pump(), 1);
        }
      });
    }
  }
}

const EMPTY = Buffer.alloc(0);

/**
 * Sends messages as one datagram each, paced (BURST per ms). Resolves with the count sent;
 * rejects on a socket error (unresolvable host, no route).
 */
export async function sendDatagrams(messages: Buffer[], to: Collector): Promise<number> {
  const s = new DatagramSender(to);
  try {
    s.enqueue(messages);
    await s.drained();
    if (s.error) throw s.error;
    return s.sent;
  } finally {
    s.close();
  }
}

/** Writes messages to an IPFIX file (RFC 5655 §6: a serialised message stream). */
export function writeMessages(path: string, messages: Buffer[]): void {
  const fd = openSync(path, 'w');
  try {
    for (const m of messages) writeSync(fd, m);
  } finally {
    closeSync(fd);
  }
}
