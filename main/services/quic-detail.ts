import type { ConnectionRow, QuicDetail, QuicPacketRow, QuicRow } from '../../preload/api.js';
import { quicHandshakeTime, type QuicConnection } from '../analysis/quic-connections.js';
import { parseDecodeAs } from '../decode/decoder.js';
import type { KeyLog } from '../decrypt/key-log.js';
import type { PacketIndex } from '../engine/packet-index.js';
import { AnalysisSession } from '../engine/session.js';
import type { PacketRecord } from '../pcap/record.js';
import { endpointText, quicRow } from './rows.js';

/** QUIC packets listed per connection detail; the rest are counted as `truncated`. */
const MAX_LISTED_PACKETS = 2000;
/** Datagrams of one conversation re-read at most. */
const MAX_READ_PACKETS = 200_000;

/*
 * QUIC CONNECTION DETAIL. The conversation's datagrams are re-read through a fresh engine
 * session with the session's keys (its key log files and the capture's DSBs), and the QUIC
 * analyser reports every packet it reads: its type (Initial, 0-RTT, Handshake, 1-RTT, Retry,
 * Version Negotiation: the encryption level) and whether it was decrypted. The same analyser
 * on the same packets gives the same quic[] entries as the whole capture's analysis; the
 * timeline's milestones come from them and from the packet list. Paths (connection migration)
 * come from the session's own quic rows (`main`: those of this conversation, in order, and its
 * connection rows): the re-read sees this conversation only.
 */
export function quicDetail(
  index: PacketIndex, read: (i: number) => PacketRecord, connectionId: number, keys: KeyLog | null, decodeAs: string[],
  main: { rows: QuicRow[]; connection: (id: number) => ConnectionRow | null } | null = null,
): QuicDetail | null {
  const session = new AnalysisSession({ decodeAs: decodeAs.map(parseDecodeAs) });
  if (keys) session.app.keys.addFrom(keys);
  const packets: QuicPacketRow[] = [];
  let more = 0;
  let number = 0;
  session.app.quic.packetLog = (e) => {
    if (packets.length >= MAX_LISTED_PACKETS) {
      more++;
      return;
    }
    packets.push({ number, ts: e.ts, dir: e.fromClient ? 'c2s' : 's2c', type: e.type, decryption: e.decryption, quic: e.quic });
  };
  let seen = 0;
  for (let i = 0; i < index.length; i++) {
    if (index.connId[i] !== connectionId) continue;
    if (++seen > MAX_READ_PACKETS) {
      more++;
      break;
    }
    number = i + 1;
    session.feed(read(i));
  }
  session.finish();
  const qs = session.app.quic.connections;
  if (qs.length === 0) return null;
  const connections = (session.app.quic.json() as Record<string, unknown>[]).map((raw, i) => ({ ...quicRow(raw, i), connectionId, paths: main?.rows[i]?.paths ?? [connectionId] }));
  const paths: QuicDetail['paths'] = [];
  connections.forEach((q, i) => {
    for (const id of q.paths) {
      const c = main?.connection(id);
      if (c) paths.push({ quic: i, connectionId: id, client: endpointText(c.client), server: endpointText(c.server), firstTs: c.firstTs, lastTs: c.lastTs, packets: c.packets });
    }
  });
  const timeline = qs.flatMap((q, i) => milestones(q, i, packets.filter((p) => p.quic === i)));
  timeline.sort((a, b) => a.ts - b.ts);
  return { connections, paths, packets, timeline, truncated: more > 0 };
}

/** A QUIC connection's handshake milestones (docs/quic.md: handshake time, states). */
function milestones(q: QuicConnection, quic: number, packets: QuicPacketRow[]): QuicDetail['timeline'] {
  if (q.midConnection) {
    // The handshake is not in the capture (docs/quic.md "Connections"): no milestones but its end.
    const out: QuicDetail['timeline'] = [{ ts: q.firstTs, label: 'capture starts in the middle of the connection (no handshake seen)', quic }];
    if (q.close) out.push({ ts: q.close.ts, label: `CONNECTION_CLOSE by the ${q.close.fromClient ? 'client' : 'server'}: ${q.close.error}`, quic });
    return out;
  }
  const out: QuicDetail['timeline'] = [{ ts: q.clientInitialTs, label: 'client Initial', quic }];
  const first = (pred: (p: QuicPacketRow) => boolean, label: string) => {
    const p = packets.find(pred);
    if (p) out.push({ ts: p.ts, label, quic });
  };
  first((p) => p.type === 'Version Negotiation', 'server Version Negotiation');
  first((p) => p.type === 'Retry', 'server Retry');
  first((p) => p.dir === 's2c' && p.type === 'Initial', 'server Initial');
  if (q.serverHelloTs !== null) out.push({ ts: q.serverHelloTs, label: `ServerHello${q.cipher ? ` (${q.cipher})` : ''}`, quic });
  first((p) => p.dir === 's2c' && p.type === 'Handshake', 'server Handshake');
  const hs = quicHandshakeTime(q);
  if (q.clientHandshakeTs !== null) out.push({ ts: q.clientHandshakeTs, label: `client Handshake: handshake complete after ${hs === null ? '?' : `${(hs * 1000).toFixed(1)} ms`}`, quic });
  first((p) => p.dir === 'c2s' && p.type === '1-RTT', 'first client 1-RTT');
  first((p) => p.dir === 's2c' && p.type === '1-RTT', 'first server 1-RTT');
  if (q.close) out.push({ ts: q.close.ts, label: `CONNECTION_CLOSE by the ${q.close.fromClient ? 'client' : 'server'}: ${q.close.error}`, quic });
  return out;
}
