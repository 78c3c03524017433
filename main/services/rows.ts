import type { ConnectionRow, DnsRow, Endpoint, FindingRow, HttpRow, TlsRow, TunnelRef } from '../../preload/api.js';

/*
 * The engine's JSON (README "JSON output") turned into the rows the API serves. Fields
 * that an analyser has not filled (yet) come out as null or 0 so the tables stay usable.
 */

type Obj = Record<string, unknown>;

const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);
const int = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? v : 0);
const str = (v: unknown): string | null => (typeof v === 'string' ? v : v === null || v === undefined ? null : String(v));

function endpoint(v: unknown): Endpoint {
  const o = (v ?? {}) as Obj;
  return { ip: String(o.ip ?? ''), port: int(o.port) };
}

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

export function connectionRow(raw: Obj, site: string | null): ConnectionRow {
  const rtt = (raw.rtt ?? null) as Obj | null;
  const firstTs = int(raw.firstTs);
  const lastTs = int(raw.lastTs);
  const state = str(raw.state);
  let problems = 0;
  const problemKinds: string[] = [];
  for (const [k, label] of PROBLEM_COUNTERS) {
    const n = int(raw[k]);
    if (n > 0) {
      problems += n;
      problemKinds.push(`${n} ${label}`);
    }
  }
  if (state && BAD_STATES.has(state)) {
    problems++;
    problemKinds.push(state);
  }
  return {
    id: int(raw.id),
    transport: raw.transport === 'udp' ? 'udp' : 'tcp',
    client: endpoint(raw.client),
    server: endpoint(raw.server),
    tunnel: Array.isArray(raw.tunnel) ? (raw.tunnel as Obj[]).map((t) => ({ type: String(t.type), id: num(t.id) })) : [],
    site,
    firstTs,
    lastTs,
    duration: Math.max(0, lastTs - firstTs),
    packets: int(raw.packets),
    bytes: int(raw.bytes),
    state,
    handshakeRtt: num(raw.handshakeRtt),
    rttMedian: rtt ? num(rtt.median) : null,
    rttMax: rtt ? num(rtt.max) : null,
    retransmissions: int(raw.retransmissions),
    resets: int(raw.resets),
    problems,
    problemKinds,
  };
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
