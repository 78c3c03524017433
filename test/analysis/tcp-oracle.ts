/*
 * tshark as the oracle for TCP analysis: per-packet tcp.analysis marks and per-stream
 * summaries, and the same per-stream figures from a Tapscope session, so tests can
 * compare them field by field.
 */
import { analyzeFile } from '../../main/engine/analyze-file.js';
import { parseDecodeAs } from '../../main/decode/decoder.js';
import { DUPACK_SHIFT, TcpA, type TcpFlagName } from '../../main/analysis/tcp-flags.js';
import { ackRtt, handshakeRtt, tcpCount, tcpState } from '../../main/analysis/tcp-report.js';
import { tsharkFields } from '../helpers/captures.js';
import type { AnalysisSession } from '../../main/engine/session.js';

/** tshark field marking the same packets as each TcpA flag. */
export const FLAG_FIELDS: [TcpFlagName, string][] = [
  ['Retransmission', 'tcp.analysis.retransmission'],
  ['FastRetransmission', 'tcp.analysis.fast_retransmission'],
  ['SpuriousRetransmission', 'tcp.analysis.spurious_retransmission'],
  ['OutOfOrder', 'tcp.analysis.out_of_order'],
  ['LostSegment', 'tcp.analysis.lost_segment'],
  ['AckedUnseen', 'tcp.analysis.ack_lost_segment'],
  ['DuplicateAck', 'tcp.analysis.duplicate_ack'],
  ['ZeroWindow', 'tcp.analysis.zero_window'],
  ['ZeroWindowProbe', 'tcp.analysis.zero_window_probe'],
  ['ZeroWindowProbeAck', 'tcp.analysis.zero_window_probe_ack'],
  ['WindowFull', 'tcp.analysis.window_full'],
  ['WindowUpdate', 'tcp.analysis.window_update'],
  ['KeepAlive', 'tcp.analysis.keep_alive'],
  ['KeepAliveAck', 'tcp.analysis.keep_alive_ack'],
  ['ReusedPorts', 'tcp.analysis.reused_ports'],
];

const BASE_FIELDS = ['frame.number', 'tcp.stream', 'frame.len', 'tcp.flags', 'ip.src', 'ipv6.src', 'tcp.srcport', 'icmp.type', 'icmpv6.type',
  'tcp.analysis.ack_rtt', 'tcp.analysis.initial_rtt', 'tcp.analysis.duplicate_ack_num'];

export interface OraclePacket {
  frame: number;
  stream: number;
  len: number;
  tcpFlags: number;
  src: string;
  /** TcpA bits tshark gave the packet (Reset from tcp.flags). */
  flags: number;
  ackRtt: number | null;
  initialRtt: number | null;
  dupAckNum: number;
}

export interface StreamSummary {
  packets: number;
  bytes: number;
  state: string;
  handshakeRtt: number | null;
  rtt: { samples: number; min: number; median: number; max: number } | null;
  counts: Record<TcpFlagName | 'Reset', number>;
}

const last = (v: string): string => {
  const i = v.lastIndexOf(',');
  return i < 0 ? v : v.slice(i + 1);
};

/** Per-packet TCP analysis as tshark 4.x sees it (only packets that belong to a tcp.stream). */
export function oraclePackets(path: string, tsharkArgs: string[] = []): OraclePacket[] {
  const fields = [...BASE_FIELDS, ...FLAG_FIELDS.map((f) => f[1])];
  const rows = tsharkFields(path, fields, tsharkArgs);
  const out: OraclePacket[] = [];
  for (const r of rows) {
    // Skip frames without TCP, and TCP headers quoted inside ICMP errors.
    if (!r[1] || r[1].includes(',') || r[7] || r[8]) continue;
    let flags = 0;
    FLAG_FIELDS.forEach(([name], i) => {
      if (r[BASE_FIELDS.length + i]) flags |= TcpA[name];
    });
    const tcpFlags = parseInt(last(r[3]), 16);
    if (tcpFlags & 0x04) flags |= TcpA.Reset;
    out.push({
      frame: Number(r[0]),
      stream: Number(r[1]),
      len: Number(r[2]),
      tcpFlags,
      src: `${last(r[4] || r[5])}|${r[6]}`,
      flags,
      ackRtt: r[9] ? Number(r[9]) : null,
      initialRtt: r[10] ? Number(r[10]) : null,
      dupAckNum: r[11] ? Number(last(r[11])) : 0,
    });
  }
  return out;
}

export function median(v: number[]): number {
  const s = [...v].sort((a, b) => a - b);
  const n = s.length;
  return n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

function emptyCounts(): Record<TcpFlagName | 'Reset', number> {
  const c = {} as Record<TcpFlagName | 'Reset', number>;
  for (const [n] of FLAG_FIELDS) c[n] = 0;
  c.Reset = 0;
  return c;
}

function countBits(c: Record<TcpFlagName | 'Reset', number>, flags: number): void {
  for (const [n] of FLAG_FIELDS) if (flags & TcpA[n]) c[n]++;
  if (flags & TcpA.Reset) c.Reset++;
}

/**
 * Connection state from tshark's packets, by the definitions in docs/analysis.md:
 * client = sender of the first SYN; refused = RST from the server before any SYN-ACK;
 * closed = FIN from both sides (before any RST); reset = other RST;
 * syn-unanswered = SYN and nothing from the server; established = handshake seen; else open.
 */
export function oracleState(pk: OraclePacket[]): string {
  const SYN = 0x02;
  const ACK = 0x10;
  const FIN = 0x01;
  const RST = 0x04;
  const syn = pk.find((p) => (p.tcpFlags & (SYN | ACK)) === SYN);
  const synAckIdx = pk.findIndex((p) => (p.tcpFlags & (SYN | ACK)) === (SYN | ACK));
  const clientSrc = syn ? syn.src : synAckIdx >= 0 ? null : null;
  const serverSrc = syn ? null : synAckIdx >= 0 ? pk[synAckIdx].src : null;
  const fromServer = (p: OraclePacket): boolean => (clientSrc !== null ? p.src !== clientSrc : serverSrc !== null ? p.src === serverSrc : false);
  const finSrcs = new Set<string>();
  let finBothBeforeRst = false;
  let rst = false;
  let refused = false;
  let synAckSeen = false;
  for (const p of pk) {
    if ((p.tcpFlags & (SYN | ACK)) === (SYN | ACK)) synAckSeen = true;
    if (p.tcpFlags & RST) {
      if (!rst) finBothBeforeRst = finSrcs.size >= 2;
      if (fromServer(p) && !synAckSeen) refused = true;
      rst = true;
    }
    if (p.tcpFlags & FIN) finSrcs.add(p.src);
  }
  if (rst) {
    if (syn && refused && !synAckSeen) return 'refused';
    if (finBothBeforeRst) return 'closed';
    return 'reset';
  }
  if (finSrcs.size >= 2) return 'closed';
  if (syn && !pk.some(fromServer)) return 'syn-unanswered';
  if (syn || synAckSeen) return 'established';
  return 'open';
}

export function oracleStreams(pk: OraclePacket[]): Map<number, { first: number; packets: OraclePacket[]; summary: StreamSummary }> {
  const byStream = new Map<number, OraclePacket[]>();
  for (const p of pk) {
    let l = byStream.get(p.stream);
    if (!l) byStream.set(p.stream, (l = []));
    l.push(p);
  }
  const out = new Map<number, { first: number; packets: OraclePacket[]; summary: StreamSummary }>();
  for (const [id, l] of byStream) {
    const counts = emptyCounts();
    let bytes = 0;
    const rtts: number[] = [];
    let initial: number | null = null;
    for (const p of l) {
      countBits(counts, p.flags);
      bytes += p.len;
      if (p.ackRtt !== null) rtts.push(p.ackRtt);
      if (p.initialRtt !== null && initial === null) initial = p.initialRtt;
    }
    out.set(id, {
      first: l[0].frame,
      packets: l,
      summary: {
        packets: l.length,
        bytes,
        state: oracleState(l),
        handshakeRtt: initial,
        rtt: rtts.length ? { samples: rtts.length, min: Math.min(...rtts), median: median(rtts), max: Math.max(...rtts) } : null,
        counts,
      },
    });
  }
  return out;
}

/** Tapscope's analysis of a file, with the per-packet index (`detail`: series and per-side samples kept). */
export function tapscopeSession(path: string, decodeAs: string[] = [], detail = false): AnalysisSession {
  return analyzeFile(path, { decodeAs: decodeAs.map(parseDecodeAs), keepIndex: true, detail }).session;
}

export function tapscopeSummary(session: AnalysisSession, connId: number): StreamSummary {
  const t = session.connections.tcp!.table;
  const flows = session.connections.flows;
  const counts = emptyCounts();
  for (const [n] of FLAG_FIELDS) counts[n] = tcpCount(t, connId, n);
  counts.Reset = tcpCount(t, connId, 'Reset');
  const r = ackRtt(t, connId);
  return {
    packets: flows.packetsOf(connId),
    bytes: flows.bytesOf(connId),
    state: tcpState(t, connId),
    handshakeRtt: handshakeRtt(t, connId),
    rtt: r ? { samples: r.samples, min: r.min, median: r.median, max: r.max } : null,
    counts,
  };
}

/** Differences between tshark's stream and Tapscope's connection, as readable lines. */
export function compareStream(name: string, stream: number, want: StreamSummary, got: StreamSummary): string[] {
  const d: string[] = [];
  const at = `${name} stream ${stream}`;
  if (want.packets !== got.packets) d.push(`${at}: packets ${got.packets} != tshark ${want.packets}`);
  if (want.bytes !== got.bytes) d.push(`${at}: bytes ${got.bytes} != tshark ${want.bytes}`);
  if (want.state !== got.state) d.push(`${at}: state ${got.state} != tshark-derived ${want.state}`);
  const near = (a: number | null, b: number | null): boolean => (a === null || b === null ? a === b : Math.abs(a - b) <= 1e-6 + 1e-12);
  if (!near(want.handshakeRtt, got.handshakeRtt)) d.push(`${at}: handshake RTT ${got.handshakeRtt} != tshark ${want.handshakeRtt}`);
  if ((want.rtt === null) !== (got.rtt === null)) d.push(`${at}: ACK RTT ${JSON.stringify(got.rtt)} != tshark ${JSON.stringify(want.rtt)}`);
  else if (want.rtt && got.rtt) {
    if (want.rtt.samples !== got.rtt.samples) d.push(`${at}: ACK RTT samples ${got.rtt.samples} != tshark ${want.rtt.samples}`);
    for (const k of ['min', 'median', 'max'] as const) {
      if (!near(want.rtt[k], got.rtt[k])) d.push(`${at}: ACK RTT ${k} ${got.rtt[k]} != tshark ${want.rtt[k]}`);
    }
  }
  for (const k of Object.keys(want.counts) as (keyof StreamSummary['counts'])[]) {
    if (want.counts[k] !== got.counts[k]) d.push(`${at}: ${k} ${got.counts[k]} != tshark ${want.counts[k]}`);
  }
  return d;
}

const ALL_BITS = Object.values(TcpA).reduce((a, b) => a | b, 0);

/**
 * The full per-flag comparison of one capture: every packet's marks (and duplicate-ACK
 * number) and every connection's figures, Tapscope's session (with its packet index) vs
 * tshark's packets; tshark streams are matched to Tapscope connections by their first
 * packet. Returns the differences as readable lines.
 */
export function oracleDifferences(name: string, pk: OraclePacket[], session: AnalysisSession): string[] {
  const streams = oracleStreams(pk);
  const index = session.index!;
  const diffs: string[] = [];
  const matched = new Set<number>();
  for (const [id, st] of streams) {
    const connId = st.first - 1 < index.length ? index.connId[st.first - 1] : -1;
    const conn = connId >= 0 && connId < session.connections.count ? session.connections.connection(connId) : undefined;
    if (!conn || conn.transport !== 'tcp') {
      diffs.push(`${name} stream ${id}: frame ${st.first} is in no Tapscope TCP connection`);
      continue;
    }
    matched.add(connId);
    for (const p of st.packets) {
      const i = p.frame - 1;
      if (index.connId[i] !== connId) {
        diffs.push(`${name} stream ${id}: frame ${p.frame} is in connection ${index.connId[i]}, not ${connId}`);
        continue;
      }
      const got = index.flags[i] & ALL_BITS;
      if (got !== p.flags) diffs.push(`${name} frame ${p.frame}: flags 0x${got.toString(16)} != tshark 0x${p.flags.toString(16)}`);
      const dup = index.flags[i] >>> DUPACK_SHIFT;
      if (p.flags & TcpA.DuplicateAck && dup !== p.dupAckNum) diffs.push(`${name} frame ${p.frame}: dup ACK #${dup} != tshark #${p.dupAckNum}`);
    }
    diffs.push(...compareStream(name, id, st.summary, tapscopeSummary(session, connId)));
  }
  for (const c of session.connections.all) {
    if (c.transport === 'tcp' && !matched.has(c.id)) diffs.push(`${name}: Tapscope connection ${c.id} (${c.client.ip}:${c.client.port} -> ${c.server.ip}:${c.server.port}) has no tshark stream`);
  }
  return diffs;
}
