import type { Connection } from './types.js';
import type { TcpCounters } from './tcp-report.js';
import { connectionCommunityId } from '../flows/community-id.js';

const NO_COUNTERS: TcpCounters = {
  retransmissions: 0,
  fastRetransmissions: 0,
  spuriousRetransmissions: 0,
  outOfOrder: 0,
  lostSegments: 0,
  ackedUnseen: 0,
  duplicateAcks: 0,
  zeroWindows: 0,
  zeroWindowProbes: 0,
  windowFull: 0,
  keepAlives: 0,
  resets: 0,
};

/** A connection as the CLI's JSON (README "connections") and the API present it. */
export function connectionJson(c: Connection): Record<string, unknown> {
  const tcp = c.tcp;
  const rtt = tcp ? tcp.rtt : null;
  return {
    id: c.id,
    transport: c.transport,
    client: c.client,
    server: c.server,
    tunnel: c.tunnel,
    firstTs: c.firstTs,
    lastTs: c.lastTs,
    packets: c.packets,
    bytes: c.bytes,
    packetsToServer: c.packetsToServer,
    packetsToClient: c.packetsToClient,
    payloadBytes: c.payloadBytes,
    state: tcp ? tcp.state : 'open',
    synRetries: tcp ? tcp.synRetries : 0,
    handshakeRtt: tcp ? tcp.handshakeRtt : null,
    rtt: rtt ? { samples: rtt.samples, min: rtt.min, median: rtt.median, p95: rtt.p95, max: rtt.max } : null,
    ...(tcp ? tcp.counters : NO_COUNTERS),
    // Community ID v1, seed 0 (analyze --community-id-seed re-hashes with another seed).
    communityId: connectionCommunityId(c),
  };
}
