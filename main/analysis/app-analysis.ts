import type { Frame } from '../decode/frame.js';
import { TcpStreamDispatcher } from '../reassembly/tcp-streams.js';
import { DnsTransactions } from './dns-transactions.js';
import { buildFindings, type AlertFacts, type ConnectionFacts, type Finding } from './findings.js';
import { HttpExchanges } from './http-exchanges.js';
import { IcmpErrors } from './icmp-errors.js';
import { QuicConnections } from './quic-connections.js';
import { TlsHandshakes } from './tls-handshakes.js';
import { KeyLog } from '../decrypt/key-log.js';
import type { FrameAnalyzer, PacketContext } from './types.js';

/**
 * The application layer: TCP streams reassembled once and handed to DNS, TLS or HTTP
 * (first to claim a connection wins), DNS over UDP, ICMP errors; and the findings built
 * from all of it.
 */
export class AppAnalysis implements FrameAnalyzer {
  readonly http = new HttpExchanges();
  readonly dns = new DnsTransactions();
  /** TLS secrets (key log files, pcapng DSBs); decrypted application data goes to `http`. */
  readonly keys = new KeyLog();
  readonly tls = new TlsHandshakes({ keys: this.keys, app: this.http });
  readonly icmp = new IcmpErrors();
  /** QUIC (Initials without keys; Handshake, 1-RTT and HTTP/3 with the same secrets as TLS). */
  readonly quic = new QuicConnections(this.keys, (x) => this.http.add(x), this.http.headerLists);
  readonly streams = new TcpStreamDispatcher([this.dns, this.tls, this.http]);

  onFrame(f: Frame, ctx: PacketContext): void {
    this.streams.onFrame(f, ctx);
    this.dns.onFrame(f, ctx);
    this.icmp.onFrame(f, ctx);
    this.quic.onFrame(f, ctx);
  }

  finish(lastTs: number): void {
    try {
      this.streams.finish(lastTs);
    } catch (e) {
      this.streams.failures++;
      this.streams.firstFailure ??= `end of capture: ${(e as Error).message}`;
    }
    this.quic.finish();
  }

  /** Report warnings: application-layer parsing that failed (those connections are left out). */
  warnings(): { packet: number | null; offset: number | null; message: string }[] {
    const s = this.streams;
    const out: { packet: number | null; offset: number | null; message: string }[] = [];
    const keyProblems = this.keys.problems();
    if (keyProblems) out.push({ packet: null, offset: null, message: keyProblems });
    for (const message of this.tls.decryptWarnings) out.push({ packet: null, offset: null, message });
    if (this.tls.decryptWarningsDropped > 0) out.push({ packet: null, offset: null, message: `${this.tls.decryptWarningsDropped} more TLS decryption warning(s) not listed` });
    for (const message of this.http.h2.warnings()) out.push({ packet: null, offset: null, message });
    const headers = this.http.headerLists.warning();
    if (headers) out.push({ packet: null, offset: null, message: headers });
    const exchanges = this.http.warning();
    if (exchanges) out.push({ packet: null, offset: null, message: exchanges });
    if (s.failures > 0) out.push({ packet: null, offset: null, message: `HTTP/DNS/TLS parsing failed on ${s.failures} connection(s) (left out of http/dns/tls); first: ${s.firstFailure}` });
    return out;
  }

  /**
   * Findings from this session's facts and the `connections` JSON (whose TCP fields —
   * state, retransmissions, zeroWindows, ackedUnseen — the rules read).
   */
  findings(connections: unknown[], firstTs: number | null, lastTs: number | null, alerts?: AlertFacts[]): Finding[] {
    // HTTP/2 inside decrypted TLS is not h2c (clear text): the h2c finding leaves it out.
    const overTls = new Set(this.tls.handshakes.map((t) => t.connectionId));
    return buildFindings({
      connections: connections as ConnectionFacts[],
      http: this.http.lean(),
      dns: this.dns.transactions,
      tls: this.tls.handshakes,
      icmp: this.icmp.unreachables,
      http2: this.http.http2Connections.filter((h) => !overTls.has(h.connectionId)),
      quic: this.quic.connections,
      captureFirstTs: firstTs,
      captureLastTs: lastTs,
      alerts,
    });
  }
}
