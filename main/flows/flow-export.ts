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

/** Datagrams sent before a pause of 1 ms, so a collector on the same host keeps up. */
const BURST = 32;

/**
 * Sends messages as one datagram each, paced (BURST per ms). Resolves with the count sent;
 * rejects on a socket error (unresolvable host, no route).
 */
export function sendDatagrams(messages: Buffer[], to: Collector): Promise<number> {
  const family = isIP(to.host) === 6 ? 'udp6' : 'udp4';
  const sock = createSocket(family);
  return new Promise<number>((resolve, reject) => {
    let sent = 0;
    let failed = false;
    sock.on('error', (e) => {
      failed = true;
      sock.close();
      reject(e);
    });
    const next = (): void => {
      if (failed) return;
      if (sent >= messages.length) {
        sock.close();
        resolve(sent);
        return;
      }
      const end = Math.min(messages.length, sent + BURST);
      let pending = end - sent;
      for (; sent < end; sent++) {
        sock.send(messages[sent], to.port, to.host, (e) => {
          if (e) {
            if (!failed) {
              failed = true;
              sock.close();
              reject(e);
            }
          } else if (--pending === 0) setTimeout(next, 1);
        });
      }
    };
    next();
  });
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
