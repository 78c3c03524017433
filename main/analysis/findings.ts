import type { HttpExchange } from './http-exchanges.js';
import { timeToFirstByte } from './http-exchanges.js';
import type { DnsTransaction } from './dns-transactions.js';
import { qtypeName } from './dns-transactions.js';
import { RCODE_NAMES } from '../parsers/dns.js';
import type { TlsHandshake } from './tls-handshakes.js';
import type { IcmpUnreachable } from './icmp-errors.js';
import { unreachableText } from './icmp-errors.js';

export type Severity = 'critical' | 'warning' | 'info';

/** One finding as the JSON report presents it (README "JSON output", findings). */
export interface Finding {
  id: string;
  severity: Severity;
  kind: string;
  summary: string;
  site: string | null;
  server: string | null;
  count: number;
  total: number;
  firstTs: number;
  lastTs: number;
  connectionIds: number[];
}

/**
 * The connection facts the rules read: fields of the `connections` JSON (README), read
 * defensively so a missing field counts as zero/unknown.
 */
export interface ConnectionFacts {
  id: number;
  transport: string;
  client: { ip: string; port: number };
  server: { ip: string; port: number };
  firstTs: number;
  lastTs: number;
  packets: number;
  payloadBytes: number;
  state?: string;
  retransmissions?: number;
  lostSegments?: number;
  ackedUnseen?: number;
  zeroWindows?: number;
  synRetries?: number;
}

export interface FindingInput {
  connections: ConnectionFacts[];
  http: HttpExchange[];
  dns: DnsTransaction[];
  tls: TlsHandshake[];
  icmp: IcmpUnreachable[];
  http2: { connectionId: number; ts: number }[];
  captureFirstTs: number | null;
  captureLastTs: number | null;
}

/** Time to first byte above this (and well above the site's median) is an outlier. */
export const SLOW_TTFB_SECONDS = 1;
const SLOW_TTFB_MEDIAN_FACTOR = 5;
/** A query younger than this when the capture ended may simply not have been answered yet. */
const DNS_GRACE_SECONDS = 1;
/** The first SYN retransmission comes after 1 s (RFC 6298 §2): before that a SYN is not yet unanswered. */
const SYN_GRACE_SECONDS = 1;
const RETRANS_MIN = 3;
const RETRANS_MIN_FRACTION = 0.01;
const MAX_EVIDENCE_IDS = 1000;

const SEVERITY_RANK: Record<Severity, number> = { critical: 3, warning: 2, info: 1 };

function clock(ts: number): string {
  return new Date(ts * 1000).toISOString().slice(11, 19);
}

function span(first: number, last: number): string {
  if (last - first < 1) return `at ${clock(first)} UTC`;
  return `between ${clock(first)} and ${clock(last)} UTC`;
}

function plural(n: number, one: string, many = one + 's'): string {
  return `${n} ${n === 1 ? one : many}`;
}

function ep(e: { ip: string; port: number }): string {
  return e.ip.includes(':') ? `[${e.ip}]:${e.port}` : `${e.ip}:${e.port}`;
}

/** Host header or SNI without port or brackets, lower-cased. */
function hostName(h: string): string {
  let s = h.replace(/[\x00-\x20\x7f]/g, '').toLowerCase();
  if (s.startsWith('[')) return s.slice(1, s.indexOf(']') > 0 ? s.indexOf(']') : undefined);
  const c = s.lastIndexOf(':');
  if (c > 0 && s.indexOf(':') === c) s = s.slice(0, c);
  return s.replace(/\.$/, '');
}

/** Math.max without spreading (large arrays overflow the argument stack). */
function maxOf(v: number[]): number {
  let m = -Infinity;
  for (const x of v) if (x > m) m = x;
  return m;
}

function median(v: number[]): number {
  if (v.length === 0) return 0;
  const s = [...v].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function uniq(ids: number[]): number[] {
  return [...new Set(ids)].sort((a, b) => a - b).slice(0, MAX_EVIDENCE_IDS);
}

interface Event {
  ts: number;
  connId: number | null;
}

function range(ev: Event[]): { firstTs: number; lastTs: number; ids: number[] } {
  let firstTs = Infinity;
  let lastTs = -Infinity;
  const ids: number[] = [];
  for (const e of ev) {
    if (e.ts < firstTs) firstTs = e.ts;
    if (e.ts > lastTs) lastTs = e.ts;
    if (e.connId !== null) ids.push(e.connId);
  }
  return { firstTs, lastTs, ids: uniq(ids) };
}

function groupBy<T>(items: T[], key: (t: T) => string): Map<string, T[]> {
  const m = new Map<string, T[]>();
  for (const it of items) {
    const k = key(it);
    const g = m.get(k);
    if (g) g.push(it);
    else m.set(k, [it]);
  }
  return m;
}

/*
 * FINDINGS. Each rule turns connection, HTTP, DNS, TLS and ICMP facts into findings grouped
 * by site (HTTP Host, TLS SNI, else the name DNS resolved to the address) and server
 * address, with how many attempts were affected out of how many, when, and which
 * connections show it. "Intermittent" is made explicit: a failing server is compared with
 * the other servers of the same site, and the fraction of attempts that failed is given.
 * Ranking: severity, then the fraction of attempts affected, then the count.
 */
export function buildFindings(inp: FindingInput): Finding[] {
  const out: Finding[] = [];
  const lastTs = inp.captureLastTs ?? Infinity;
  const conns = new Map<number, ConnectionFacts>();
  for (const c of inp.connections) conns.set(c.id, c);

  // SITES: a connection's own name (Host/SNI) first, then any name seen for its address.
  const connSite = new Map<number, string>();
  const ipSite = new Map<string, string>();
  for (const t of inp.tls) if (t.sni) connSite.set(t.connectionId, hostName(t.sni));
  for (const x of inp.http) if (x.host && !connSite.has(x.connectionId)) connSite.set(x.connectionId, hostName(x.host));
  for (const [id, s] of connSite) {
    const c = conns.get(id);
    if (c && !ipSite.has(c.server.ip)) ipSite.set(c.server.ip, s);
  }
  for (const d of inp.dns) {
    if (d.rcode !== 0) continue;
    for (const a of d.answers) if (/^[0-9.]+$|:/.test(a) && !ipSite.has(a)) ipSite.set(a, d.qname.toLowerCase());
  }
  const siteOf = (connId: number | null, ip: string): string | null => (connId !== null ? connSite.get(connId) : undefined) ?? ipSite.get(ip) ?? null;

  // Attempts per server endpoint and the servers behind each site (for "k of n are fine").
  const tcp = inp.connections.filter((c) => c.transport === 'tcp');
  const byServer = groupBy(tcp, (c) => ep(c.server));
  const siteServers = new Map<string, Set<string>>();
  for (const c of tcp) {
    const s = siteOf(c.id, c.server.ip);
    if (!s) continue;
    let set = siteServers.get(s);
    if (!set) siteServers.set(s, (set = new Set()));
    set.add(ep(c.server));
  }
  const othersFine = (site: string | null, bad: Set<string>, universe?: Set<string>): string => {
    if (!site) return '';
    const all = universe ?? siteServers.get(site);
    if (!all || all.size < 2) return '';
    const fine = [...all].filter((s) => !bad.has(s)).length;
    return fine > 0 ? `; ${fine} of ${all.size} servers behind ${site} are fine` : `; all ${all.size} servers behind ${site} are affected`;
  };

  const push = (f: Omit<Finding, 'id'>, idKey: string): void => {
    out.push({ id: `${f.kind}:${idKey}`, ...f });
  };

  // CONNECTION FAILURES: SYN never answered, RST to SYN (refused). Per server endpoint.
  const connRule = (state: string, kind: string, verb: string, hint: string): void => {
    const badServers = new Set<string>();
    const groups: [string, ConnectionFacts[]][] = [];
    for (const [srv, cs] of byServer) {
      // A lone SYN in the capture's last second may simply not have been answered yet.
      const bad = cs.filter((c) => c.state === state && (state !== 'syn-unanswered' || (c.synRetries ?? 0) > 0 || lastTs - c.firstTs >= SYN_GRACE_SECONDS));
      if (bad.length === 0) continue;
      badServers.add(srv);
      groups.push([srv, bad]);
    }
    for (const [srv, bad] of groups) {
      const total = byServer.get(srv)!.length;
      const site = siteOf(bad[0].id, bad[0].server.ip);
      const r = range(bad.map((c) => ({ ts: c.firstTs, connId: c.id })));
      const siteBad = new Set([...badServers].filter((s) => site && siteServers.get(site)?.has(s)));
      push({
        severity: 'critical', kind, site, server: srv, count: bad.length, total, firstTs: r.firstTs, lastTs: r.lastTs, connectionIds: r.ids,
        summary: `${site ? `${site}: ` : ''}${srv} ${verb} ${bad.length} of ${plural(total, 'connection')} ${span(r.firstTs, r.lastTs)}${othersFine(site, siteBad.size ? siteBad : new Set([srv]))} (${hint})`,
      }, srv);
    }
  };
  connRule('syn-unanswered', 'tcp.syn-unanswered', 'never answered', 'SYN unanswered: a firewall dropping it, or the host is down');
  connRule('refused', 'tcp.refused', 'refused', 'RST to SYN: nothing listening on the port, or a firewall rejecting');

  // HTTP: per (site, server) the exchanges, their 5xx, unanswered requests and slow TTFB.
  const httpGroups = groupBy(inp.http.filter((x) => x.method !== null || x.status !== null), (x) => `${siteOf(x.connectionId, x.serverIp) ?? ''}|${ep({ ip: x.serverIp, port: x.serverPort })}`);
  const resetConnsWithPending = new Set<number>();
  const bad5xx = new Map<string, Set<string>>();
  /** Servers that answered HTTP for each site (the universe for "k of n servers are fine"). */
  const httpServers = new Map<string, Set<string>>();
  for (const xs of httpGroups.values()) {
    const site = siteOf(xs[0].connectionId, xs[0].serverIp);
    if (!site) continue;
    if (!httpServers.has(site)) httpServers.set(site, new Set());
    httpServers.get(site)!.add(ep({ ip: xs[0].serverIp, port: xs[0].serverPort }));
  }
  for (const xs of httpGroups.values()) {
    const site = siteOf(xs[0].connectionId, xs[0].serverIp);
    if (site && xs.some((x) => x.status !== null && x.status >= 500)) {
      if (!bad5xx.has(site)) bad5xx.set(site, new Set());
      bad5xx.get(site)!.add(ep({ ip: xs[0].serverIp, port: xs[0].serverPort }));
    }
  }
  const badLost = new Map<string, Set<string>>();
  for (const xs of httpGroups.values()) {
    const site = siteOf(xs[0].connectionId, xs[0].serverIp);
    if (site && xs.some((x) => x.method !== null && (x.noResponse === 'reset' || x.noResponse === 'closed'))) {
      if (!badLost.has(site)) badLost.set(site, new Set());
      badLost.get(site)!.add(ep({ ip: xs[0].serverIp, port: xs[0].serverPort }));
    }
  }
  for (const xs of httpGroups.values()) {
    const srv = ep({ ip: xs[0].serverIp, port: xs[0].serverPort });
    const site = siteOf(xs[0].connectionId, xs[0].serverIp);
    const where = site ? `${site} (${srv})` : srv;
    const requests = xs.filter((x) => x.method !== null).length || xs.length;
    const err = xs.filter((x) => x.status !== null && x.status >= 500);
    if (err.length > 0) {
      const codes = [...groupBy(err, (x) => String(x.status))].map(([c, v]) => `${c} ×${v.length}`).join(', ');
      const r = range(err.map((x) => ({ ts: x.responseTs ?? x.requestTs ?? 0, connId: x.connectionId })));
      push({
        severity: 'critical', kind: 'http.5xx', site, server: srv, count: err.length, total: requests, firstTs: r.firstTs, lastTs: r.lastTs, connectionIds: r.ids,
        summary: `${where} answered ${err.length} of ${plural(requests, 'request')} with a server error (${codes}) ${span(r.firstTs, r.lastTs)}${topUris(err)}${othersFine(site, bad5xx.get(site ?? '') ?? new Set([srv]), httpServers.get(site ?? ''))}`,
      }, `${site ?? ''}|${srv}`);
    }
    // Reset or closed before the response completed; capture artifacts (not-captured,
    // incomplete) and the capture's end are not server faults.
    const lost = xs.filter((x) => x.method !== null && (x.noResponse === 'reset' || x.noResponse === 'closed'));
    if (lost.length > 0) {
      for (const x of lost) if (x.noResponse === 'reset') resetConnsWithPending.add(x.connectionId);
      const why = [...groupBy(lost, (x) => `${x.noResponse}${x.status !== null ? '-cut' : ''}`)]
        .map(([w, v]) => `${w.startsWith('reset') ? 'connection reset' : 'connection closed'}${w.endsWith('-cut') ? ' during the response' : ''} ×${v.length}`).join(', ');
      const r = range(lost.map((x) => ({ ts: x.requestTs ?? 0, connId: x.connectionId })));
      push({
        severity: 'critical', kind: 'http.no-response', site, server: srv, count: lost.length, total: requests, firstTs: r.firstTs, lastTs: r.lastTs, connectionIds: r.ids,
        summary: `${where}: ${lost.length} of ${plural(requests, 'request')} got no complete response (${why}) ${span(r.firstTs, r.lastTs)}${topUris(lost)}${othersFine(site, badLost.get(site ?? '') ?? new Set([srv]), httpServers.get(site ?? ''))}`,
      }, `${site ?? ''}|${srv}`);
    }
    const pendingAtEnd = xs.filter((x) => x.method !== null && x.noResponse === 'capture-ended');
    if (pendingAtEnd.length > 0) {
      const r = range(pendingAtEnd.map((x) => ({ ts: x.requestTs ?? 0, connId: x.connectionId })));
      push({
        severity: 'info', kind: 'http.pending-at-end', site, server: srv, count: pendingAtEnd.length, total: requests, firstTs: r.firstTs, lastTs: r.lastTs, connectionIds: r.ids,
        summary: `${where}: ${plural(pendingAtEnd.length, 'request')} still waiting for (the rest of) a response when the capture ended${topUris(pendingAtEnd)}`,
      }, `${site ?? ''}|${srv}`);
    }
  }
  // Slow time to first byte, per site (or server): outliers against the site's own median.
  const ttfbGroups = groupBy(inp.http.filter((x) => timeToFirstByte(x) !== null && x.method !== null), (x) => siteOf(x.connectionId, x.serverIp) ?? ep({ ip: x.serverIp, port: x.serverPort }));
  for (const [name, xs] of ttfbGroups) {
    const t = xs.map((x) => timeToFirstByte(x)!);
    const med = median(t);
    const limit = Math.max(SLOW_TTFB_SECONDS, SLOW_TTFB_MEDIAN_FACTOR * med);
    const slow = xs.filter((x) => timeToFirstByte(x)! > limit);
    const site = siteOf(xs[0].connectionId, xs[0].serverIp);
    if (slow.length > 0) {
      const max = maxOf(slow.map((x) => timeToFirstByte(x)!));
      const servers = [...new Set(slow.map((x) => ep({ ip: x.serverIp, port: x.serverPort })))];
      const r = range(slow.map((x) => ({ ts: x.requestTs ?? 0, connId: x.connectionId })));
      push({
        severity: 'warning', kind: 'http.slow-ttfb', site, server: servers.length === 1 ? servers[0] : null, count: slow.length, total: xs.length, firstTs: r.firstTs, lastTs: r.lastTs, connectionIds: r.ids,
        summary: `${name}: ${slow.length} of ${plural(xs.length, 'response')} took over ${limit.toFixed(limit < 10 ? 1 : 0)} s to the first byte (max ${max.toFixed(2)} s, median ${fmtSec(med)})${servers.length === 1 ? ` from ${servers[0]}` : ` from ${servers.length} servers`} ${span(r.firstTs, r.lastTs)}${topUris(slow)}`,
      }, name);
    } else if (xs.length >= 3 && med > SLOW_TTFB_SECONDS) {
      const r = range(xs.map((x) => ({ ts: x.requestTs ?? 0, connId: x.connectionId })));
      push({
        severity: 'warning', kind: 'http.slow-ttfb', site, server: null, count: xs.length, total: xs.length, firstTs: r.firstTs, lastTs: r.lastTs, connectionIds: r.ids,
        summary: `${name}: consistently slow, median time to first byte ${fmtSec(med)} over ${plural(xs.length, 'response')}`,
      }, name);
    }
  }
  for (const h of inp.http2) {
    const c = conns.get(h.connectionId);
    push({
      severity: 'info', kind: 'http.h2c', site: c ? siteOf(c.id, c.server.ip) : null, server: c ? ep(c.server) : null, count: 1, total: 1, firstTs: h.ts, lastTs: h.ts, connectionIds: [h.connectionId],
      summary: `connection ${h.connectionId}${c ? ` to ${ep(c.server)}` : ''} speaks HTTP/2 in clear text (h2c); its requests are not decoded`,
    }, String(h.connectionId));
  }

  // RESETS: connections reset while a request was waiting or before TLS completed.
  const tlsIncomplete = new Set(inp.tls.filter((t) => t.doneTs === null).map((t) => t.connectionId));
  const resetBad = tcp.filter((c) => c.state === 'reset' && (resetConnsWithPending.has(c.id) || tlsIncomplete.has(c.id)));
  for (const [srv, cs] of groupBy(resetBad, (c) => ep(c.server))) {
    const total = byServer.get(srv)?.length ?? cs.length;
    const site = siteOf(cs[0].id, cs[0].server.ip);
    const r = range(cs.map((c) => ({ ts: c.lastTs, connId: c.id })));
    push({
      severity: 'warning', kind: 'tcp.reset-mid-exchange', site, server: srv, count: cs.length, total, firstTs: r.firstTs, lastTs: r.lastTs, connectionIds: r.ids,
      summary: `${site ? `${site}: ` : ''}${srv}: ${cs.length} of ${plural(total, 'connection')} were reset in the middle of an exchange ${span(r.firstTs, r.lastTs)}`,
    }, srv);
  }

  // NETWORK: retransmission hot spots and zero-window stalls, per server endpoint.
  for (const [srv, cs] of byServer) {
    const live = cs.filter((c) => c.state !== 'syn-unanswered' && c.state !== 'refused');
    const site = siteOf(cs[0].id, cs[0].server.ip);
    const retr = live.filter((c) => (c.retransmissions ?? 0) > 0);
    const nRetr = retr.reduce((a, c) => a + (c.retransmissions ?? 0), 0);
    const packets = live.reduce((a, c) => a + c.packets, 0);
    if (nRetr >= RETRANS_MIN && packets > 0 && nRetr / packets >= RETRANS_MIN_FRACTION) {
      const r = range(retr.map((c) => ({ ts: c.firstTs, connId: c.id })));
      r.lastTs = maxOf(retr.map((c) => c.lastTs));
      push({
        severity: 'warning', kind: 'tcp.analysis.retransmission', site, server: srv, count: retr.length, total: live.length, firstTs: r.firstTs, lastTs: r.lastTs, connectionIds: r.ids,
        summary: `${site ? `${site}: ` : ''}${srv}: ${nRetr} retransmissions (${((100 * nRetr) / packets).toFixed(1)}% of ${packets} packets) in ${retr.length} of ${plural(live.length, 'connection')}: packet loss on the path ${span(r.firstTs, r.lastTs)}`,
      }, srv);
    }
    const zw = live.filter((c) => (c.zeroWindows ?? 0) > 0);
    if (zw.length > 0) {
      const n = zw.reduce((a, c) => a + (c.zeroWindows ?? 0), 0);
      const r = range(zw.map((c) => ({ ts: c.firstTs, connId: c.id })));
      r.lastTs = maxOf(zw.map((c) => c.lastTs));
      push({
        severity: 'warning', kind: 'tcp.analysis.zero_window', site, server: srv, count: zw.length, total: live.length, firstTs: r.firstTs, lastTs: r.lastTs, connectionIds: r.ids,
        summary: `${site ? `${site}: ` : ''}${srv}: a receiver advertised a zero window ${plural(n, 'time')} in ${zw.length} of ${plural(live.length, 'connection')} (an application not reading fast enough stalls the transfer) ${span(r.firstTs, r.lastTs)}`,
      }, srv);
    }
  }

  // CAPTURE LOSS: data the receiver acknowledged but the capture never saw.
  const unseen = inp.connections.filter((c) => (c.ackedUnseen ?? 0) > 0);
  if (unseen.length > 0) {
    const n = unseen.reduce((a, c) => a + (c.ackedUnseen ?? 0), 0);
    const r = range(unseen.map((c) => ({ ts: c.firstTs, connId: c.id })));
    r.lastTs = maxOf(unseen.map((c) => c.lastTs));
    push({
      severity: 'warning', kind: 'tcp.analysis.ack_lost_segment', site: null, server: null, count: unseen.length, total: tcp.length, firstTs: r.firstTs, lastTs: r.lastTs, connectionIds: r.ids,
      summary: `The capture missed packets the endpoints did receive (${plural(n, 'ACKed-unseen segment')} in ${unseen.length} of ${plural(tcp.length, 'connection')}): the tap or capture dropped them, not the network; loss figures may be understated`,
    }, 'capture');
  }

  // DNS: errors and unanswered queries, per name.
  const okNames = new Set(inp.dns.filter((d) => d.rcode === 0).map((d) => d.qname.toLowerCase()));
  // "name.search-domain" failing while "name" resolved: the resolver's search list at work.
  const isSearchExpansion = (q: string): boolean => {
    const l = q.toLowerCase();
    for (let i = l.lastIndexOf('.'); i > 0; i = l.lastIndexOf('.', i - 1)) if (okNames.has(l.slice(0, i))) return true;
    return false;
  };
  const last = lastTs;
  const names = (v: DnsTransaction[]): string => {
    const n = [...new Set(v.map((d) => d.qname.toLowerCase()))];
    return n.length <= 3 ? n.join(', ') : `${n.slice(0, 3).join(', ')} and ${n.length - 3} more`;
  };
  const dnsFinding = (kind: string, severity: Severity, v: DnsTransaction[], total: number, site: string | null, server: string | null, text: string, idKey: string, note = ''): void => {
    const r = range(v.map((d) => ({ ts: d.queryTs ?? d.responseTs ?? 0, connId: d.connectionId })));
    const retries = v.reduce((a, d) => a + d.retries, 0);
    push({
      severity, kind, site, server, count: v.length, total, firstTs: r.firstTs, lastTs: r.lastTs, connectionIds: r.ids,
      summary: `${text} for ${v.length} of ${plural(total, 'query', 'queries')}${retries ? ` (${plural(retries, 'retry', 'retries')})` : ''} ${span(r.firstTs, r.lastTs)}${note}`,
    }, idKey);
  };
  // A missing name is about the name; a failing or silent server is about the server.
  for (const [name, ds] of groupBy(inp.dns, (d) => d.qname.toLowerCase())) {
    const nx = ds.filter((d) => d.rcode === 3);
    if (nx.length === 0) continue;
    const search = isSearchExpansion(name);
    const types = [...new Set(nx.map((d) => qtypeName(d.qtype)))].join('/');
    const servers = [...new Set(ds.map((d) => d.server.ip))];
    dnsFinding('dns.nxdomain', search ? 'info' : 'warning', nx, ds.length, name, servers.length === 1 ? servers[0] : null,
      `DNS: ${name} does not exist (NXDOMAIN, ${types})`, name, search ? '; a resolver search-domain expansion of a name that resolved, harmless' : '');
  }
  for (const [server, ds] of groupBy(inp.dns, (d) => d.server.ip)) {
    const sf = ds.filter((d) => d.rcode === 2);
    if (sf.length) dnsFinding('dns.servfail', 'critical', sf, ds.length, sf.length === ds.length || new Set(sf.map((d) => d.qname)).size === 1 ? sf[0].qname.toLowerCase() : null, server, `DNS server ${server} failed (SERVFAIL) on ${names(sf)}`, server);
    const other = ds.filter((d) => d.rcode !== null && d.rcode !== 0 && d.rcode !== 2 && d.rcode !== 3);
    if (other.length) dnsFinding('dns.error', 'warning', other, ds.length, null, server, `DNS server ${server} answered with an error (${[...new Set(other.map((d) => RCODE_NAMES[d.rcode!] ?? `rcode ${d.rcode}`))].join(', ')}) on ${names(other)}`, server);
    const un = ds.filter((d) => d.rcode === null && d.queryTs !== null && last - d.queryTs >= DNS_GRACE_SECONDS);
    if (un.length) dnsFinding('dns.unanswered', 'critical', un, ds.length, new Set(un.map((d) => d.qname)).size === 1 ? un[0].qname.toLowerCase() : null, server, `DNS server ${server} never answered queries for ${names(un)}`, server);
  }

  // TLS: alerts during the handshake, expired or not-yet-valid certificates.
  const tlsByServer = groupBy(inp.tls, (t) => `${t.sni ? hostName(t.sni) : ''}|${ep({ ip: t.serverIp, port: t.serverPort })}`);
  for (const ts of tlsByServer.values()) {
    const srv = ep({ ip: ts[0].serverIp, port: ts[0].serverPort });
    const site = siteOf(ts[0].connectionId, ts[0].serverIp);
    const alerts = ts.filter((t) => t.alert !== null && t.alertFatal && !t.alert.endsWith('close_notify'));
    if (alerts.length) {
      const names = [...groupBy(alerts, (t) => `${t.alert}${t.alertFromClient ? ' from client' : ' from server'}`)].map(([a, v]) => `${a} ×${v.length}`).join(', ');
      const r = range(alerts.map((t) => ({ ts: t.alertTs ?? 0, connId: t.connectionId })));
      push({
        severity: 'critical', kind: 'tls.alert', site, server: srv, count: alerts.length, total: ts.length, firstTs: r.firstTs, lastTs: r.lastTs, connectionIds: r.ids,
        summary: `${site ? `${site} (${srv})` : srv}: TLS alert in ${alerts.length} of ${plural(ts.length, 'handshake')} (${names}) ${span(r.firstTs, r.lastTs)}`,
      }, `${site ?? ''}|${srv}`);
    }
    const bad = ts.filter((t) => {
      if (!t.certificate) return false;
      const at = t.clientHelloTs ?? t.serverHelloTs ?? inp.captureFirstTs ?? 0;
      return Date.parse(t.certificate.notAfter) / 1000 < at || Date.parse(t.certificate.notBefore) / 1000 > at;
    });
    if (bad.length) {
      const c = bad[0].certificate!;
      const at = bad[0].clientHelloTs ?? 0;
      const expired = Date.parse(c.notAfter) / 1000 < at;
      const r = range(bad.map((t) => ({ ts: t.clientHelloTs ?? 0, connId: t.connectionId })));
      const okServers = inp.tls.filter((t) => t.certificate && site && siteOf(t.connectionId, t.serverIp) === site && !bad.includes(t)).map((t) => ep({ ip: t.serverIp, port: t.serverPort }));
      push({
        severity: 'critical', kind: expired ? 'tls.certificate-expired' : 'tls.certificate-not-yet-valid', site, server: srv, count: bad.length, total: ts.length, firstTs: r.firstTs, lastTs: r.lastTs, connectionIds: r.ids,
        summary: `${site ? `${site}: ` : ''}${srv} presents a certificate that ${expired ? `expired on ${c.notAfter.slice(0, 10)}` : `is not valid before ${c.notBefore.slice(0, 10)}`} (capture taken ${new Date(at * 1000).toISOString().slice(0, 10)}; subject ${c.subject})${okServers.length ? `; ${new Set(okServers).size} other server(s) of ${site} present a valid one` : ''}`,
      }, `${site ?? ''}|${srv}`);
    }
  }

  // ICMP UNREACHABLES, per unreachable destination and reason; the quoted packet names the connection.
  const connByTuple = new Map<string, number>();
  for (const c of inp.connections) {
    connByTuple.set(`${c.transport}|${c.client.ip}|${c.client.port}|${c.server.ip}|${c.server.port}`, c.id);
    connByTuple.set(`${c.transport}|${c.server.ip}|${c.server.port}|${c.client.ip}|${c.client.port}`, c.id);
  }
  for (const us of groupBy(inp.icmp, (u) => `${u.dst}|${u.proto}|${u.dstPort}|${u.version}|${u.code}`).values()) {
    const u = us[0];
    const proto = u.proto === 6 ? 'tcp' : u.proto === 17 ? 'udp' : `proto ${u.proto}`;
    const dst = u.proto === 6 || u.proto === 17 ? `${ep({ ip: u.dst, port: u.dstPort })}/${proto}` : `${u.dst} (${proto})`;
    const ids = us.map((x) => connByTuple.get(`${x.proto === 6 ? 'tcp' : 'udp'}|${x.src}|${x.srcPort}|${x.dst}|${x.dstPort}`) ?? null);
    const r = range(us.map((x, i) => ({ ts: x.ts, connId: ids[i] })));
    const reporters = [...new Set(us.map((x) => x.reporter))];
    const pmtu = (u.version === 4 && u.code === 4);
    push({
      severity: pmtu ? 'info' : 'warning', kind: 'icmp.unreachable', site: ipSite.get(u.dst) ?? null, server: ep({ ip: u.dst, port: u.dstPort }), count: us.length, total: us.length, firstTs: r.firstTs, lastTs: r.lastTs, connectionIds: r.ids,
      summary: `ICMP ${unreachableText(u)} for ${dst} ×${us.length}, reported by ${reporters.join(', ')} ${span(r.firstTs, r.lastTs)}`,
    }, `${u.dst}|${proto}|${u.dstPort}|${u.code}`);
  }

  out.sort((a, b) => SEVERITY_RANK[b.severity] - SEVERITY_RANK[a.severity] || b.count / Math.max(1, b.total) - a.count / Math.max(1, a.total) || b.count - a.count || a.firstTs - b.firstTs);
  return out;
}

function fmtSec(s: number): string {
  return s < 1 ? `${(s * 1000).toFixed(s < 0.01 ? 1 : 0)} ms` : `${s.toFixed(2)} s`;
}

/** ", mostly GET /slow" when the affected requests share a path. */
function topUris(xs: HttpExchange[]): string {
  const withUri = xs.filter((x) => x.uri !== null);
  if (withUri.length === 0) return '';
  const g = [...groupBy(withUri, (x) => `${x.method} ${(x.uri ?? '').split('?')[0]}`)].sort((a, b) => b[1].length - a[1].length);
  const [what, v] = g[0];
  if (g.length === 1) return `, all ${what}`;
  return v.length * 2 > withUri.length ? `, mostly ${what}` : '';
}
