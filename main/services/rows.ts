import type { ConnectionRow, DnsRow, FindingRow, HttpRow, QuicRow, TlsRow, TunnelRef } from '../../preload/api.js';
import type { Connection } from '../analysis/types.js';
import type { TcpCounters } from '../analysis/tcp-report.js';

/*
 * The rows the API serves: connections from their values (built from compact rows, see
 * engine/connection-columns.ts); HTTP, DNS, TLS and findings from the engine's JSON
 * (README "JSON output"), where fields an analyser has not filled (yet) come out as null
 * or 0 so the tables stay usable.
 */

type Obj = Record<string, unknown>;

const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);
const int = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? v : 0);
const str = (v: unknown): string | null => (typeof v === 'string' ? v : v === null || v === undefined ? null : String(v));


export function endpointText(v: unknown): string {
  if (typeof v === 'string') return v;
  if (v && typeof v === 'object') {
    const e = v as Obj;
    const ip = String(e.ip ?? '');
    return e.port !== undefined ? (ip.includes(':') ? `[${ip}]:${e.port}` : `${ip}:${e.port}`) : ip;
  }
  return '';
}

/** Problem indicators: the counter, the label shown in the UI. */
const PROBLEM_COUNTERS: [string, string][] = [
  ['retransmissions', 'retransmissions'],
  ['resets', 'resets'],
  ['lostSegments', 'segments not captured'],
  ['ackedUnseen', 'ACKed unseen'],
  ['zeroWindows', 'zero window'],
  ['outOfOrder', 'out of order'],
  ['synRetries', 'SYN retries'],
];
const BAD_STATES = new Set(['refused', 'syn-unanswered', 'reset']);

/** A connection's table row, straight from the connection value (no JSON in between). */
export function connectionRowOf(c: Connection, site: string | null, communityId: string | null = null): ConnectionRow {
  const t = c.tcp;
  const state = t ? t.state : 'open';
  let problems = 0;
  const problemKinds: string[] = [];
  for (const [k, label] of PROBLEM_COUNTERS) {
    const n = !t ? 0 : k === 'synRetries' ? t.synRetries : t.counters[k as keyof TcpCounters];
    if (n > 0) {
      problems += n;
      problemKinds.push(`${n} ${label}`);
    }
  }
  if (BAD_STATES.has(state)) {
    problems++;
    problemKinds.push(state);
  }
  return {
    id: c.id,
    transport: c.transport,
    client: { ip: c.client.ip, port: c.client.port },
    server: { ip: c.server.ip, port: c.server.port },
    tunnel: c.tunnel.map((x) => ({ type: x.type, id: x.id })),
    site,
    firstTs: c.firstTs,
    lastTs: c.lastTs,
    duration: Math.max(0, c.lastTs - c.firstTs),
    packets: c.packets,
    bytes: c.bytes,
    state,
    handshakeRtt: t ? t.handshakeRtt : null,
    rttMedian: t?.rtt ? t.rtt.median : null,
    rttMax: t?.rtt ? t.rtt.max : null,
    retransmissions: t ? t.counters.retransmissions : 0,
    resets: t ? t.counters.resets : 0,
    problems,
    problemKinds,
    communityId,
  };
}

/** A header list from the JSON: [name, value] string pairs, null when not kept. */
function headerList(v: unknown): [string, string][] | null {
  if (!Array.isArray(v)) return null;
  return v.filter((f): f is [string, string] => Array.isArray(f) && typeof f[0] === 'string' && typeof f[1] === 'string').map(([n, x]) => [n, x]);
}

export function httpRow(raw: Obj, index: number): HttpRow {
  return {
    index,
    connectionId: int(raw.connectionId),
    method: String(raw.method ?? ''),
    host: str(raw.host),
    uri: String(raw.uri ?? ''),
    status: num(raw.status),
    requestTs: int(raw.requestTs),
    responseTs: num(raw.responseTs),
    timeToFirstByte: num(raw.timeToFirstByte),
    duration: num(raw.duration),
    requestBytes: int(raw.requestBytes),
    responseBytes: int(raw.responseBytes),
    contentType: str(raw.contentType),
    protocol: raw.protocol === 'h2' || raw.protocol === 'h3' ? raw.protocol : 'http/1.1',
    streamId: raw.streamId === null || raw.streamId === undefined ? null : int(raw.streamId),
    error: str(raw.error),
    requestHeaders: headerList(raw.requestHeaders),
    responseHeaders: headerList(raw.responseHeaders),
  };
}

export function dnsRow(raw: Obj, index: number): DnsRow {
  return {
    index,
    transport: String(raw.transport ?? 'udp'),
    client: endpointText(raw.client),
    server: endpointText(raw.server),
    id: int(raw.id),
    qname: String(raw.qname ?? ''),
    qtype: String(raw.qtype ?? ''),
    rcode: num(raw.rcode),
    answers: Array.isArray(raw.answers) ? raw.answers.map((a) => String(a)) : [],
    queryTs: int(raw.queryTs),
    responseTime: num(raw.responseTime),
  };
}

export function tlsRow(raw: Obj, index: number): TlsRow {
  const c = raw.certificate as Obj | null | undefined;
  return {
    index,
    connectionId: int(raw.connectionId),
    sni: str(raw.sni),
    alpn: Array.isArray(raw.alpn) ? raw.alpn.map((a) => String(a)) : [],
    version: str(raw.version),
    handshakeTime: num(raw.handshakeTime),
    alert: str(raw.alert),
    certificate: c ? { subject: String(c.subject ?? ''), issuer: String(c.issuer ?? ''), notBefore: String(c.notBefore ?? ''), notAfter: String(c.notAfter ?? '') } : null,
    decrypted: raw.decrypted === true,
    undecryptedReason: str(raw.undecryptedReason),
  };
}

export function quicRow(raw: Obj, index: number): QuicRow {
  return {
    index,
    connectionId: int(raw.connectionId),
    version: String(raw.version ?? ''),
    sni: str(raw.sni),
    alpn: Array.isArray(raw.alpn) ? raw.alpn.map((a) => String(a)) : [],
    state: String(raw.state ?? ''),
    handshakeTime: num(raw.handshakeTime),
    closeError: str(raw.closeError),
    closedBy: raw.closedBy === 'client' || raw.closedBy === 'server' ? raw.closedBy : null,
    spinRtt: num(raw.spinRtt),
    tlsVersion: str(raw.tlsVersion),
    cipher: str(raw.cipher),
    retry: raw.retry === 'valid' || raw.retry === 'invalid' ? raw.retry : null,
    zeroRtt: raw.zeroRtt === true,
    paths: Array.isArray(raw.paths) ? raw.paths.filter((x): x is number => typeof x === 'number') : [int(raw.connectionId)],
  };
}

export function findingRow(raw: Obj, index: number): FindingRow {
  const sev = raw.severity === 'critical' || raw.severity === 'warning' ? raw.severity : 'info';
  return {
    id: String(raw.id ?? index),
    severity: sev,
    kind: String(raw.kind ?? ''),
    summary: String(raw.summary ?? ''),
    site: str(raw.site),
    server: str(raw.server),
    count: int(raw.count),
    total: int(raw.total),
    firstTs: num(raw.firstTs),
    lastTs: num(raw.lastTs),
    connectionIds: Array.isArray(raw.connectionIds) ? raw.connectionIds.filter((x): x is number => typeof x === 'number') : [],
  };
}

export function tunnelKey(t: TunnelRef): string {
  return `${t.type}:${t.id ?? ''}`;
}
