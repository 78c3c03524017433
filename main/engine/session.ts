import { Decoder, type DecodeAs } from '../decode/decoder.js';
import type { Frame } from '../decode/frame.js';
import type { PacketRecord, CaptureComment, CaptureInterface } from '../pcap/record.js';
import { linkTypeName } from '../pcap/link-types.js';
import { ConnectionTable } from '../analysis/connections.js';
import { TcpAnalyzer } from '../analysis/tcp-analyzer.js';
import { connectionJson } from '../analysis/connection-json.js';
import { TunnelCounter } from '../analysis/tunnels.js';
import { AppAnalysis } from '../analysis/app-analysis.js';
import type { FrameAnalyzer, PacketContext } from '../analysis/types.js';
import type { ConnectionFacts } from '../analysis/findings.js';
import { PacketIndex } from './packet-index.js';
import type { AnalysisReport, FileSummary, Warning } from './report.js';

/** What the reader tells the report about the file (the rest the session counted). */
export interface FileOfReport {
  path: string;
  format: 'pcap' | 'pcapng';
  interfaces: CaptureInterface[];
  comments: CaptureComment[];
}

export interface SessionOptions {
  decodeAs?: DecodeAs[];
  /** Keep the per-packet index (the UI needs it; the CLI does not). */
  keepIndex?: boolean;
  /** More analysers, run after the built-in ones (e.g. the flow meter of `tapscope flows`). */
  analyzers?: FrameAnalyzer[];
  /**
   * A connection's detail view: the TCP analyser keeps per-side RTT samples and the chart
   * series (RTT and Stevens) instead of releasing its state when a connection ends.
   */
  detail?: boolean;
  /**
   * The split analysis (engine/split-analysis.ts) runs a session in each of two threads:
   * 'transport' looks packets up and runs the TCP analyser only; 'application' gets each
   * packet's connection from the transport thread (feedReplay) and runs everything else
   * (tunnels, HTTP, DNS, TLS, QUIC, the extra analysers). Default 'whole': both.
   */
  stage?: 'whole' | 'transport' | 'application';
}

const MAX_MALFORMED_WARNINGS = 200;

/**
 * One capture being analysed: packets are fed one at a time (from a file or a live
 * source), decoded into a reused Frame and passed through every analyser in order.
 */
export class AnalysisSession {
  readonly decoder: Decoder;
  readonly connections: ConnectionTable;
  readonly tunnels = new TunnelCounter();
  /** HTTP, DNS, TLS, ICMP errors and the findings built from them. */
  readonly app = new AppAnalysis();
  readonly analyzers: FrameAnalyzer[] = [];
  readonly index: PacketIndex | null;
  readonly warnings: Warning[] = [];
  readonly linkTypes = new Set<number>();
  packets = 0;
  bytes = 0;
  /** NaN until the first packet (a number field, so the per-packet update allocates nothing). */
  private firstTsOrNaN = NaN;
  private lastTsOrNaN = NaN;
  private malformed = 0;

  constructor(opts: SessionOptions = {}) {
    this.decoder = new Decoder(opts.decodeAs ?? []);
    const stage = opts.stage ?? 'whole';
    this.connections = new ConnectionTable(stage === 'application' ? null : new TcpAnalyzer(opts.detail ?? false));
    this.index = opts.keepIndex ? new PacketIndex() : null;
    if (stage !== 'transport') {
      this.analyzers.push(this.tunnels);
      this.analyzers.push(this.app);
      for (const a of opts.analyzers ?? []) this.analyzers.push(a);
    }
  }

  feed(r: PacketRecord): Frame {
    const f = this.decode(r);
    this.analyze(f, r, this.connections.lookup(f));
    return f;
  }

  /** feed() for the 'application' stage: the packet's connection as the transport thread found it. */
  feedReplay(r: PacketRecord, connId: number, toServer: boolean, tcpFlags: number): Frame {
    const f = this.decode(r);
    this.analyze(f, r, this.connections.flows.replay(f, connId, toServer, tcpFlags));
    return f;
  }

  private decode(r: PacketRecord): Frame {
    const f = this.decoder.decode(r);
    this.packets++;
    this.bytes += r.origLen;
    if (this.packets === 1) this.firstTsOrNaN = r.ts;
    this.lastTsOrNaN = r.ts;
    this.linkTypes.add(r.linkType);
    if (f.malformed) this.noteMalformed(f);
    return f;
  }

  private analyze(f: Frame, r: PacketRecord, ctx: PacketContext): void {
    for (const a of this.analyzers) a.onFrame(f, ctx);
    this.index?.push(r.fileOffset, r.ts, ctx.connId, ctx.tcpFlags, r.origLen, ctx.connId >= 0 ? (ctx.toServer ? 1 : 2) : 0);
  }

  finish(): void {
    for (const [lt, n] of this.decoder.unknownLinkTypes) {
      this.warnings.push({ packet: null, offset: null, message: `${n} packet(s) with unsupported link type ${lt} (${linkTypeName(lt)}) were counted but not decoded` });
    }
    if (this.malformed > MAX_MALFORMED_WARNINGS) {
      this.warnings.push({ packet: null, offset: null, message: `${this.malformed - MAX_MALFORMED_WARNINGS} more malformed packet(s) not listed` });
    }
    for (const a of this.analyzers) a.finish?.(this.lastTs ?? 0);
    this.warnings.push(...this.app.warnings());
  }

  /** The report's `file`: what the reader knows of the file and what this session counted. */
  fileSummary(file: FileOfReport): FileSummary {
    return {
      path: file.path,
      format: file.format,
      linkTypes: [...this.linkTypes].sort((a, b) => a - b),
      packets: this.packets,
      bytes: this.bytes,
      firstTs: this.firstTs,
      lastTs: this.lastTs,
      interfaces: file.interfaces,
      comments: file.comments,
    };
  }

  get firstTs(): number | null {
    return Number.isNaN(this.firstTsOrNaN) ? null : this.firstTsOrNaN;
  }

  get lastTs(): number | null {
    return Number.isNaN(this.lastTsOrNaN) ? null : this.lastTsOrNaN;
  }

  private noteMalformed(f: Frame): void {
    if (++this.malformed <= MAX_MALFORMED_WARNINGS) {
      this.warnings.push({ packet: f.index + 1, offset: f.fileOffset, message: `malformed packet: ${f.malformed}` });
    }
  }

  /**
   * The report. `withConnections: false` leaves `connections` empty for a writer that
   * streams them from the columns (engine/report-json.ts), `withHttp: false` likewise `http`
   * (streamed from the exchange store); findings read the columns and the store either way.
   */
  report(file: FileOfReport, withConnections = true, withHttp = true, facts: ConnectionFacts[] = this.connections.facts()): AnalysisReport {
    const table = this.connections;
    // Findings first: the connection and http arrays (hundreds of MB at 200,000 connections)
    // are not yet alive while the findings pass allocates.
    const findings = this.app.findings(facts, this.firstTs, this.lastTs);
    const connections: unknown[] = [];
    if (withConnections) for (let i = 0; i < table.count; i++) connections.push(connectionJson(table.connection(i)));
    return {
      file: this.fileSummary(file),
      warnings: this.warnings,
      tunnels: this.tunnels.summary(),
      connections,
      http: withHttp ? this.app.http.json() : [],
      dns: this.app.dns.json(),
      tls: this.app.tls.json(),
      quic: this.app.quic.json(),
      findings,
    };
  }
}
