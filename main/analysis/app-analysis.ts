import type { Frame } from '../decode/frame.js';
import { TcpStreamDispatcher } from '../reassembly/tcp-streams.js';
import { DnsTransactions } from './dns-transactions.js';
import { buildFindings, type ConnectionFacts, type Finding } from './findings.js';
import { HttpExchanges } from './http-exchanges.js';
import { IcmpErrors } from './icmp-errors.js';
import { TlsHandshakes } from './tls-handshakes.js';
import type { FrameAnalyzer, PacketContext } from './types.js';

/**
 * The application layer: TCP streams reassembled once and handed to DNS, TLS or HTTP
 * (first to claim a connection wins), DNS over UDP, ICMP errors; and the findings built
 * from all of it.
 */
export class AppAnalysis implements FrameAnalyzer {
  readonly http = new HttpExchanges();
  readonly dns = new DnsTransactions();
  readonly tls = new TlsHandshakes();
  readonly icmp = new IcmpErrors();
  readonly streams = new TcpStreamDispatcher([this.dns, this.tls, this.http]);

  onFrame(f: Frame, ctx: PacketContext): void {
    this.streams.onFrame(f, ctx);
    this.dns.onFrame(f, ctx);
    this.icmp.onFrame(f, ctx);
  }

  finish(lastTs: number): void {
    try {
      this.streams.finish(lastTs);
    } catch (e) {
      this.streams.failures++;
      this.streams.firstFailure ??= `end of capture: ${(e as Error).message}`;
    }
  }

  /** Report warnings: application-layer parsing that failed (those connections are left out). */
  warnings(): { packet: number | null; offset: number | null; message: string }[] {
    const s = this.streams;
    if (s.failures === 0) return [];
    return [{ packet: null, offset: null, message: `HTTP/DNS/TLS parsing failed on ${s.failures} connection(s) (left out of http/dns/tls); first: ${s.firstFailure}` }];
  }

  /**
   * Findings from this session's facts and the `connections` JSON (whose TCP fields —
   * state, retransmissions, zeroWindows, ackedUnseen — the rules read).
   */
  findings(connections: unknown[], firstTs: number | null, lastTs: number | null): Finding[] {
    return buildFindings({
      connections: connections as ConnectionFacts[],
      http: this.http.exchanges,
      dns: this.dns.transactions,
      tls: this.tls.handshakes,
      icmp: this.icmp.unreachables,
      http2: this.http.http2Connections,
      captureFirstTs: firstTs,
      captureLastTs: lastTs,
    });
  }
}
