import type { DirectionMeter } from './flow-meter.js';
import { IPPROTO_TCP, IPPROTO_UDP, connectionCommunityId } from './community-id.js';
import { reportAppIndex } from './flow-app-facts.js';

/*
 * Flow records: one uniflow (RFC 7011 §2 "Flow", one direction) per direction of a TCP/UDP
 * connection that carried packets. Uniflows rather than biflows (RFC 5103) because the
 * collectors people keep records in read them fully: nfdump 1.7 maps only reverse
 * octets/packets and reads other reverse elements as their forward ones.
 *
 * A record joins what the flow meter counted per direction with the connection's facts
 * from the `connections` JSON (README) and the application layer (http, dns, tls JSON):
 * these inputs are the stable report contract, not the engine's internal tables.
 */

/** flowEndReason (IANA IPFIX IE 136). */
export const END_IDLE = 1;
export const END_ACTIVE = 2;
export const END_OF_FLOW = 3;
export const END_FORCED = 4;

export interface FlowRecord {
  connectionId: number;
  ipVersion: 4 | 6;
  srcIp: string;
  dstIp: string;
  srcPort: number;
  dstPort: number;
  /** IP protocol number (6 TCP, 17 UDP). */
  proto: number;
  packets: number;
  /** IP-layer octets (IP header + payload), octetDeltaCount. */
  octets: number;
  /** Absolute epoch milliseconds of the direction's first and last packet. */
  startMs: number;
  endMs: number;
  tcpFlags: number;
  endReason: number;
  vlanId: number | null;
  vni: number | null;
  vniType: 'vxlan' | 'geneve' | null;
  /** Connection-wide facts (both directions of a connection carry the same values). */
  communityId: string | null;
  /** Handshake RTT in microseconds (rounded), null without a handshake. */
  handshakeRttUs: number | null;
  retransmissions: number;
  lostSegments: number;
  ackedUnseen: number;
  httpHost: string | null;
  httpStatus: number | null;
  dnsName: string | null;
  dnsRcode: number | null;
  tlsSni: string | null;
}

interface Endpoint { ip: string; port: number }

/** The fields of a `connections[]` entry the records use. */
export interface FlowConnectionFacts {
  id: number;
  transport: string;
  client: Endpoint;
  server: Endpoint;
  state?: string;
  handshakeRtt?: number | null;
  retransmissions?: number;
  lostSegments?: number;
  ackedUnseen?: number;
}

/** The report parts the records read (the `analyze --json` document). */
export interface FlowReportFacts {
  connections: unknown[];
  http: unknown[];
  dns: unknown[];
  tls: unknown[];
}

/** Per-direction counts by connection id (the FlowMeter). */
export interface DirectionSource {
  direction(connectionId: number, dir: 0 | 1): DirectionMeter | null;
}

/** Builds the flow records of a report: connection order, client->server first. */
export function buildFlowRecords(report: FlowReportFacts, meter: DirectionSource, seed = 0): FlowRecord[] {
  const app = reportAppIndex(report);
  const out: FlowRecord[] = [];
  for (const c of report.connections as FlowConnectionFacts[]) {
    const proto = c.transport === 'tcp' ? IPPROTO_TCP : c.transport === 'udp' ? IPPROTO_UDP : 0;
    if (proto === 0) continue;
    const closed = c.state === 'closed' || c.state === 'reset' || c.state === 'refused';
    const shared = {
      connectionId: c.id,
      ipVersion: (c.client.ip.includes(':') ? 6 : 4) as 4 | 6,
      proto,
      endReason: closed ? END_OF_FLOW : END_FORCED,
      communityId: connectionCommunityId(c, seed),
      handshakeRttUs: typeof c.handshakeRtt === 'number' ? Math.round(c.handshakeRtt * 1e6) : null,
      retransmissions: c.retransmissions ?? 0,
      lostSegments: c.lostSegments ?? 0,
      ackedUnseen: c.ackedUnseen ?? 0,
      ...app.facts(c),
    };
    for (const dir of [0, 1] as const) {
      const m = meter.direction(c.id, dir);
      if (!m) continue;
      const [src, dst] = dir === 0 ? [c.client, c.server] : [c.server, c.client];
      out.push({
        ...shared,
        srcIp: src.ip,
        dstIp: dst.ip,
        srcPort: src.port,
        dstPort: dst.port,
        packets: m.packets,
        octets: m.octets,
        startMs: m.firstMs,
        endMs: m.lastMs,
        tcpFlags: m.tcpFlags,
        vlanId: m.vlanId,
        vni: m.vni,
        vniType: m.vniType,
      });
    }
  }
  return out;
}
