import type { HttpExchange } from './http-exchanges.js';
import { timeToFirstByte } from './http-exchanges.js';
import type { DnsTransaction } from './dns-transactions.js';
import { qtypeName } from './dns-transactions.js';
import { RCODE_NAMES } from '../parsers/dns.js';
import type { TlsHandshake } from './tls-handshakes.js';
import type { IcmpUnreachable } from './icmp-errors.js';
import { unreachableText } from './icmp-errors.js';
import { quicHandshakeTime, quicState, type QuicConnection } from './quic-connections.js';

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
  handshakeRtt?: number | null;
}

export interface FindingInput {
  connections: ConnectionFacts[];
  http: HttpExchange[];
  dns: DnsTransaction[];
  tls: TlsHandshake[];
  icmp: IcmpUnreachable[];
  http2: { connectionId: number; ts: number }[];
  /** QUIC connections (analysis/quic-connections.ts); absent when not analysed. */
  quic?: QuicConnection[];
  captureFirstTs: number | null;
  captureLastTs: number | null;
  /** IDS alerts joined to the connections (main/ids/eve.ts, analyze --alerts); absent without. */
  alerts?: AlertFacts[];
}

/** The fields of a report `alerts[]` entry (README) the ids.alert rule reads. */
export interface AlertFacts {
  signatureId: number;
  signature: string;
  category: string;
  /** Suricata's: 1 highest; null when the record had none. */
  severity: number | null;
  ts: number;
  dst: { ip: string; port: number | null };
  connectionId: number | null;
}

/** Time to first byte above this (and well above the site's median) is an outlier. */
export const SLOW_TTFB_SECONDS = 1;
/** An HTTP/2 stream that waited this long in total for WINDOW_UPDATE is stalled by its receiver. */
export const H2_STALL_SECONDS = 0.2;
const SLOW_TTFB_MEDIAN_FACTOR = 5;
/**
 * A path slow against its own site, under the absolute bar (docs/protocols.md "Findings",
 * `http.slow-path`): the site has at least this many responses with a time to first byte...
 */
export const SLOW_PATH_MIN_SAMPLES = 5;
/** ...and the path's median time to first byte is at least this many times the site's median... */
export const SLOW_PATH_MEDIAN_FACTOR = 10;
/** ...and at least this long, so that 3 ms against a 0.2 ms median (noise) is not a finding. */
export const SLOW_PATH_MIN_SECONDS = 0.2;
/**
 * A server slower than the rest of its site, from TLS record timing alone (`tls.slow-server`,
 * docs/protocols.md "TLS timing without keys"): the address has at least this many answered
 * turns, and so have the site's other addresses together...
 */
export const TLS_SLOW_MIN_TURNS = 3;
/** ...its median answer time is at least this many times theirs... */
export const TLS_SLOW_FACTOR = 5;
/** ...and longer than theirs by at least this (a 3 ms against a 0.5 ms median is noise). */
export const TLS_SLOW_MIN_SECONDS = 0.05;
/** A query younger than this when the capture ended may simply not have been answered yet. */
const DNS_GRACE_SECONDS = 1;
/** The first SYN retransmission comes after 1 s (RFC 6298 §2): before that a SYN is not yet unanswered. */
const SYN_GRACE_SECONDS = 1;
const RETRANS_MIN = 3;
const RETRANS_MIN_FRACTION = 0.01;
const MAX_EVIDENCE_IDS = 1000;

const SEVERITY_RANK: Record<Severity, number> = { critical: 3, warning: 2, info: 1 };

/**
 * Ranking: severity, then the fraction of attempts affected, then the count, then the
 * earliest. Exported for its unit test.
 */
export function compareFindings(a: Finding, b: Finding): number {
  return SEVERITY_RANK[b.severity] - SEVERITY_RANK[a.severity] || b.count / Math.max(1, b.total) - a.count / Math.max(1, a.total) || b.count - a.count || a.firstTs - b.firstTs;
}

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

/** The one endpoint formatter: `ip:port`, IPv6 in brackets. */
function ep(ip: string, port: number): string {
  return ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`;
}

/** "site: " before a summary, or nothing. */
function sitePrefix(site: string | null): string {
  return site ? `${site}: ` : '';
}

/** "site (server)", or the server alone. */
function siteAndServer(site: string | null, server: string): string {
  return site ? `${site} (${server})` : server;
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
  // A typed copy sorts numerically in place: 8 bytes a value, no iterator or boxed numbers.
  const s = Float64Array.from(v).sort();
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

interface Range {
  firstTs: number;
  lastTs: number;
  ids: number[];
}

function range(ev: Event[]): Range {
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

/** Indexed loops here and in Facts: they run once over every connection or exchange, often before V8 optimises them, when for-of allocates an iterator result per element. */
function groupBy<T>(items: T[], key: (t: T) => string): Map<string, T[]> {
  const m = new Map<string, T[]>();
  for (let i = 0; i < items.length; i++) {
    const it = items[i];
    const k = key(it);
    const g = m.get(k);
    if (g) g.push(it);
    else m.set(k, [it]);
  }
  return m;
}

function addTo(m: Map<string, Set<string>>, key: string, v: string): void {
  let s = m.get(key);
  if (!s) m.set(key, (s = new Set()));
  s.add(v);
}

const serverOfExchange = (x: HttpExchange): string => ep(x.serverIp, x.serverPort);
const serverOfConn = (c: ConnectionFacts): string => ep(c.server.ip, c.server.port);
const requestEvent = (x: HttpExchange): Event => ({ ts: x.requestTs ?? 0, connId: x.connectionId });
const connEvent = (c: ConnectionFacts): Event => ({ ts: c.firstTs, connId: c.id });

/** One (site, server) group of HTTP exchanges, sorted into what the rules look at, in one pass. */
interface HttpGroup {
  site: string | null;
  server: string;
  /** Requests in the group (or exchanges, when no request was captured). */
  requests: number;
  serverErrors: HttpExchange[];
  /** Reset or closed by an endpoint before the response was complete: server faults. */
  cut: HttpExchange[];
  /** The response was in bytes the capture lost, or cut after such a loss: capture faults. */
  notCaptured: HttpExchange[];
  pendingAtEnd: HttpExchange[];
  /** HTTP/2 streams ended by RST_STREAM or GOAWAY (their `error`). */
  streamErrors: HttpExchange[];
  /** HTTP/2 streams that waited on flow control at least H2_STALL_SECONDS in total. */
  flowStalled: HttpExchange[];
}

/** A TTFB site group (site, else server): its exchanges with a TTFB and their median. */
interface TtfbGroup {
  name: string;
  site: string | null;
  xs: HttpExchange[];
  ttfb: number[];
  median: number;
  /** Above max(SLOW_TTFB_SECONDS, SLOW_TTFB_MEDIAN_FACTOR × median). */
  limit: number;
  slow: Set<HttpExchange>;
}

/**
 * The site of each connection id: a site number per id in a typed column for the engine's
 * connection numbers (0..n-1), each distinct site text once; other ids (tests) in a Map.
 */
class SiteById {
  /** Site number + 1 per id; 0: none. */
  private readonly idx: Int32Array;
  private readonly names: string[] = [];
  private readonly numbers = new Map<string, number>();
  private readonly other = new Map<number, string>();

  constructor(private readonly limit: number) {
    this.idx = new Int32Array(limit);
  }

  private inColumn(id: number): boolean {
    return id >= 0 && id < this.limit && Number.isInteger(id);
  }

  has(id: number): boolean {
    return this.inColumn(id) ? this.idx[id] !== 0 : this.other.has(id);
  }

  get(id: number): string | undefined {
    if (!this.inColumn(id)) return this.other.get(id);
    const k = this.idx[id];
    return k === 0 ? undefined : this.names[k - 1];
  }

  set(id: number, s: string): void {
    if (!this.inColumn(id)) {
      this.other.set(id, s);
      return;
    }
    let k = this.numbers.get(s);
    if (k === undefined) {
      this.names.push(s);
      this.numbers.set(s, (k = this.names.length));
    }
    this.idx[id] = k;
  }
}

/*
 * FACTS. Everything the rules share, computed once: connections by id and by server, the
 * site of each connection (HTTP Host, TLS SNI, else the name DNS resolved to the address),
 * the servers behind each site, and one pass over the HTTP exchanges.
 */
class Facts {
  readonly lastTs: number;
  readonly tcp: ConnectionFacts[];
  readonly byServer: Map<string, ConnectionFacts[]>;
  readonly ipSite = new Map<string, string>();
  /** Connections by id: the input list itself when it holds the engine's dense numbers 0..n-1, else a Map. */
  private readonly connList: ConnectionFacts[] | null;
  private readonly connMap: Map<number, ConnectionFacts> | null;
  /** The site of each connection that named one (Host, SNI), and the ids in the order they were first named. */
  private readonly connSite: SiteById;
  private readonly connSiteOrder: number[] = [];
  /** Servers (by TCP connection) behind each site. */
  readonly siteServers = new Map<string, Set<string>>();
  /** Servers that answered HTTP for each site (the universe for "k of n servers are fine" in HTTP rules). */
  readonly httpServers = new Map<string, Set<string>>();
  readonly http: HttpGroup[] = [];
  /** Per site, the servers with 5xx answers and those that cut requests. */
  readonly bad5xx = new Map<string, Set<string>>();
  readonly badCut = new Map<string, Set<string>>();
  /** Connections reset while a request waited for its response. */
  readonly resetWithPending = new Set<number>();
  readonly ttfb: TtfbGroup[] = [];

  /*
   * Memory: at 200,000 connections and as many exchanges, everything kept here per
   * connection or exchange is one array slot (ById, the groups' lists); no key string, Map
   * entry or intermediate filtered array is made per connection or exchange.
   */
  constructor(readonly inp: FindingInput) {
    this.lastTs = inp.captureLastTs ?? Infinity;
    const cs = inp.connections;
    // The engine's connections are numbered 0..n-1 in order: the list is its own index.
    let dense = true;
    for (let i = 0; i < cs.length && dense; i++) dense = cs[i].id === i;
    this.connList = dense ? cs : null;
    this.connMap = dense ? null : new Map();
    if (this.connMap) for (let i = 0; i < cs.length; i++) this.connMap.set(cs[i].id, cs[i]);
    this.connSite = new SiteById(cs.length);

    // SITES: a connection's own name (Host/SNI) first, then any name seen for its address.
    const name = (id: number, s: string): void => {
      if (!this.connSite.has(id)) this.connSiteOrder.push(id);
      this.connSite.set(id, s);
    };
    for (const t of inp.tls) if (t.sni) name(t.connectionId, this.hostName(t.sni));
    for (let i = 0; i < inp.http.length; i++) {
      const x = inp.http[i];
      if (x.host && !this.connSite.has(x.connectionId)) name(x.connectionId, this.hostName(x.host));
    }
    for (let i = 0; i < this.connSiteOrder.length; i++) {
      const id = this.connSiteOrder[i];
      const c = this.conn(id);
      if (c && !this.ipSite.has(c.server.ip)) this.ipSite.set(c.server.ip, this.connSite.get(id)!);
    }
    for (const d of inp.dns) {
      if (d.rcode !== 0) continue;
      for (const a of d.answers) if (/^[0-9.]+$|:/.test(a) && !this.ipSite.has(a)) this.ipSite.set(a, d.qname.toLowerCase());
    }

    this.tcp = cs.filter((c) => c.transport === 'tcp');
    this.byServer = groupBy(this.tcp, (c) => this.endpoint(c.server.ip, c.server.port));
    for (let i = 0; i < this.tcp.length; i++) {
      const c = this.tcp[i];
      const s = this.siteOf(c.id, c.server.ip);
      if (s) addTo(this.siteServers, s, this.endpoint(c.server.ip, c.server.port));
    }

    // HTTP, one pass: per (site, server) the exchanges sorted by what became of them.
    // Groups keyed by site, then endpoint text (no key string per exchange), in the order
    // of their first exchange.
    const groups = new Map<string, Map<string, HttpGroup & { exchanges: number }>>();
    const order: (HttpGroup & { exchanges: number })[] = [];
    for (let i = 0; i < inp.http.length; i++) {
      const x = inp.http[i];
      if (x.method === null && x.status === null) continue;
      const site = this.siteOf(x.connectionId, x.serverIp);
      const server = this.endpoint(x.serverIp, x.serverPort);
      let bySite = groups.get(site ?? '');
      if (!bySite) groups.set(site ?? '', (bySite = new Map()));
      let g = bySite.get(server);
      if (!g) {
        bySite.set(server, (g = {
          site, server: serverOfExchange(x), requests: 0, exchanges: 0,
          serverErrors: [], cut: [], notCaptured: [], pendingAtEnd: [], streamErrors: [], flowStalled: [],
        }));
        order.push(g);
      }
      g.exchanges++;
      if (x.status !== null && x.status >= 500) g.serverErrors.push(x);
      if (x.method === null) continue;
      g.requests++;
      if ((x.flowControlStallSeconds ?? 0) >= H2_STALL_SECONDS) g.flowStalled.push(x);
      if (x.error) g.streamErrors.push(x);
      else if (x.noResponse === 'reset' || x.noResponse === 'closed') g.cut.push(x);
      else if (x.noResponse === 'not-captured' || x.noResponse === 'incomplete') g.notCaptured.push(x);
      else if (x.noResponse === 'capture-ended') g.pendingAtEnd.push(x);
      if (x.noResponse === 'reset') this.resetWithPending.add(x.connectionId);
    }
    for (const { exchanges, ...g } of order) {
      if (g.requests === 0) g.requests = exchanges;
      if (g.site) {
        addTo(this.httpServers, g.site, g.server);
        if (g.serverErrors.length) addTo(this.bad5xx, g.site, g.server);
        if (g.cut.length) addTo(this.badCut, g.site, g.server);
      }
      this.http.push(g);
    }

    // Time to first byte per site (or server), with the site's median and the outlier limit.
    const timed = new Map<string, TtfbGroup>();
    for (let i = 0; i < inp.http.length; i++) {
      const x = inp.http[i];
      const t = timeToFirstByte(x);
      if (t === null || x.method === null) continue;
      const key = this.siteOf(x.connectionId, x.serverIp) ?? this.endpoint(x.serverIp, x.serverPort);
      let g = timed.get(key);
      if (!g) timed.set(key, (g = { name: key, site: this.siteOf(x.connectionId, x.serverIp), xs: [], ttfb: [], median: 0, limit: 0, slow: new Set() }));
      g.xs.push(x);
      g.ttfb.push(t);
    }
    for (const g of timed.values()) {
      g.median = median(g.ttfb);
      g.limit = Math.max(SLOW_TTFB_SECONDS, SLOW_TTFB_MEDIAN_FACTOR * g.median);
      for (let i = 0; i < g.xs.length; i++) if (g.ttfb[i] > g.limit) g.slow.add(g.xs[i]);
      this.ttfb.push(g);
    }
  }

  conn(id: number): ConnectionFacts | undefined {
    if (this.connList) return id >= 0 && id < this.connList.length ? this.connList[id] : undefined;
    return this.connMap!.get(id);
  }

  /** Every connection once, by id (of several with one id, the last, at the place of the first). */
  connections(): Iterable<ConnectionFacts> {
    return this.connList ?? this.connMap!.values();
  }

  /** `ip:port` text, one string per endpoint however many connections and exchanges use it. */
  endpoint(ip: string, port: number): string {
    let ports = this.endpointTexts.get(ip);
    if (!ports) this.endpointTexts.set(ip, (ports = new Map()));
    let text = ports.get(port);
    if (text === undefined) ports.set(port, (text = ep(ip, port)));
    return text;
  }

  private readonly endpointTexts = new Map<string, Map<number, string>>();

  /** hostName(h), computed once per distinct Host header or SNI. */
  private hostName(h: string): string {
    let name = this.hostNames.get(h);
    if (name === undefined) this.hostNames.set(h, (name = hostName(h)));
    return name;
  }

  private readonly hostNames = new Map<string, string>();

  siteOf(connId: number | null, ip: string): string | null {
    return (connId !== null ? this.connSite.get(connId) : undefined) ?? this.ipSite.get(ip) ?? null;
  }

  /** "; k of n servers behind SITE are fine" (or "all n ... are affected"), when the site has several. */
  othersFine(site: string | null, bad: Set<string>, universe?: Set<string>): string {
    if (!site) return '';
    const all = universe ?? this.siteServers.get(site);
    if (!all || all.size < 2) return '';
    const fine = [...all].filter((s) => !bad.has(s)).length;
    return fine > 0 ? `; ${fine} of ${all.size} servers behind ${site} are fine` : `; all ${all.size} servers behind ${site} are affected`;
  }

  /** The servers of `site` in `bad` (for othersFine), or just `server`. */
  badOf(bad: Map<string, Set<string>>, site: string | null, server: string): Set<string> {
    return bad.get(site ?? '') ?? new Set([server]);
  }
}

/** What one rule found in one group: the finding's fields before the summary is written. */
interface Hit {
  site: string | null;
  server: string | null;
  count: number;
  total: number;
  /** When and where: the finding's time range and evidence connections. */
  events: Event[];
  /** Overrides the range's end (a connection's last packet rather than its start). */
  lastTs?: number;
  /** The part of the finding id after the kind. */
  idKey: string;
}

/**
 * A declared rule (as Wireshark declares expert info up front): its kind, severity and the
 * group it belongs to, how it detects hits in the facts and how it words one.
 */
interface Rule<H extends Hit> {
  kind: string | ((h: H) => string);
  severity: Severity | ((h: H) => Severity);
  group: 'connection' | 'http' | 'tcp' | 'capture' | 'dns' | 'tls' | 'icmp' | 'quic' | 'ids';
  detect(f: Facts): H[];
  text(h: H, r: Range, f: Facts): string;
}

/** Declares a rule with its own hit type (the table holds them all as Rule<Hit>). */
function rule<H extends Hit>(r: Rule<H>): Rule<Hit> {
  return r as unknown as Rule<Hit>;
}


interface ServerHit extends Hit {
  server: string;
  /** The site's servers showing the same fault, and the universe they are counted in. */
  bad: Set<string>;
  universe?: Set<string>;
}

/* CONNECTION FAILURES: SYN never answered, RST to SYN (refused). Per server endpoint. */
function connectionFailures(state: string): (f: Facts) => ServerHit[] {
  return (f) => {
    const groups: [string, ConnectionFacts[]][] = [];
    for (const [srv, cs] of f.byServer) {
      // A lone SYN in the capture's last second may simply not have been answered yet.
      const bad = cs.filter((c) => c.state === state && (state !== 'syn-unanswered' || (c.synRetries ?? 0) > 0 || f.lastTs - c.firstTs >= SYN_GRACE_SECONDS));
      if (bad.length) groups.push([srv, bad]);
    }
    return groups.map(([srv, bad]) => {
      const site = f.siteOf(bad[0].id, bad[0].server.ip);
      const siteBad = new Set(groups.map((g) => g[0]).filter((s) => site && f.siteServers.get(site)?.has(s)));
      return { site, server: srv, count: bad.length, total: f.byServer.get(srv)!.length, events: bad.map(connEvent), idKey: srv, bad: siteBad.size ? siteBad : new Set([srv]) };
    });
  };
}

function connectionFailureText(verb: string, hint: string): (h: ServerHit, r: Range, f: Facts) => string {
  return (h, r, f) => `${sitePrefix(h.site)}${h.server} ${verb} ${h.count} of ${plural(h.total, 'connection')} ${span(r.firstTs, r.lastTs)}${f.othersFine(h.site, h.bad)} (${hint})`;
}

/* HTTP: per (site, server) group, the exchanges one list of the group holds. */
interface HttpHit extends ServerHit {
  xs: HttpExchange[];
  requests: number;
}

function httpHits(list: (g: HttpGroup) => HttpExchange[], bad: ((f: Facts) => Map<string, Set<string>>) | null, event: (x: HttpExchange) => Event = requestEvent): (f: Facts) => HttpHit[] {
  return (f) => f.http.filter((g) => list(g).length > 0).map((g) => {
    const xs = list(g);
    return {
      site: g.site, server: g.server, count: xs.length, total: g.requests, events: xs.map(event), idKey: `${g.site ?? ''}|${g.server}`, xs, requests: g.requests,
      bad: bad ? f.badOf(bad(f), g.site, g.server) : new Set([g.server]), universe: f.httpServers.get(g.site ?? ''),
    };
  });
}

/** "connection reset ×2, connection closed during the response ×1": how the requests were cut. */
function cutHow(xs: HttpExchange[]): string {
  return [...groupBy(xs, (x) => `${x.noResponse}${x.status !== null ? '-cut' : ''}`)]
    .map(([w, v]) => `${w.startsWith('reset') ? 'connection reset' : 'connection closed'}${w.endsWith('-cut') ? ' during the response' : ''} ×${v.length}`).join(', ');
}

/** "response not captured ×2, response cut after lost bytes ×1": how the capture lost them. */
function lostHow(xs: HttpExchange[]): string {
  return [...groupBy(xs, (x) => String(x.noResponse))]
    .map(([w, v]) => `${w === 'not-captured' ? 'response not captured' : 'response cut after bytes the capture lost'} ×${v.length}`).join(', ');
}

/* SLOW TIME TO FIRST BYTE: outliers against the site's own median, or a consistently slow site. */
interface SlowHit extends Hit {
  g: TtfbGroup;
  xs: HttpExchange[];
  servers: string[];
  consistently: boolean;
}

function slowTtfb(f: Facts): SlowHit[] {
  const out: SlowHit[] = [];
  for (const g of f.ttfb) {
    if (g.slow.size > 0) {
      const xs = [...g.slow];
      const servers = [...new Set(xs.map(serverOfExchange))];
      out.push({ site: g.site, server: servers.length === 1 ? servers[0] : null, count: xs.length, total: g.xs.length, events: xs.map(requestEvent), idKey: g.name, g, xs, servers, consistently: false });
    } else if (g.xs.length >= 3 && g.median > SLOW_TTFB_SECONDS) {
      out.push({ site: g.site, server: null, count: g.xs.length, total: g.xs.length, events: g.xs.map(requestEvent), idKey: g.name, g, xs: g.xs, servers: [], consistently: true });
    }
  }
  return out;
}

function slowTtfbText(h: SlowHit, r: Range): string {
  const { g } = h;
  if (h.consistently) return `${g.name}: consistently slow, median time to first byte ${fmtSec(g.median)} over ${plural(g.xs.length, 'response')}`;
  const max = maxOf(h.xs.map((x) => timeToFirstByte(x)!));
  return `${g.name}: ${h.xs.length} of ${plural(g.xs.length, 'response')} took over ${g.limit.toFixed(g.limit < 10 ? 1 : 0)} s to the first byte (max ${max.toFixed(2)} s, median ${fmtSec(g.median)})${h.servers.length === 1 ? ` from ${h.servers[0]}` : ` from ${h.servers.length} servers`} ${span(r.firstTs, r.lastTs)}${topUris(h.xs)}`;
}

/*
 * SLOW PATH: a path (method and URI without the query) many times slower than its site,
 * even under the absolute bar. The site has ≥ SLOW_PATH_MIN_SAMPLES responses with a time to
 * first byte; the path's median, over its responses not already slow-ttfb outliers, is
 * ≥ SLOW_PATH_MEDIAN_FACTOR × the site's median and ≥ SLOW_PATH_MIN_SECONDS.
 */
interface SlowPathHit extends Hit {
  g: TtfbGroup;
  path: string;
  pathMedian: number;
  servers: string[];
}

const pathOf = (x: HttpExchange): string => {
  const uri = x.uri ?? '';
  const q = uri.indexOf('?');
  return `${x.method} ${q < 0 ? uri : uri.slice(0, q)}`;
};

function slowPaths(f: Facts): SlowPathHit[] {
  const out: SlowPathHit[] = [];
  for (const g of f.ttfb) {
    if (g.xs.length < SLOW_PATH_MIN_SAMPLES) continue;
    const bar = Math.max(SLOW_PATH_MIN_SECONDS, SLOW_PATH_MEDIAN_FACTOR * g.median);
    // A path's median reaches the bar only if one of its times does: without such a time
    // (most sites) no path text is made for the site's exchanges.
    let reaches = false;
    for (let i = 0; i < g.xs.length && !reaches; i++) reaches = g.ttfb[i] >= bar && !g.slow.has(g.xs[i]);
    if (!reaches) continue;
    const rest = g.xs.filter((x) => !g.slow.has(x));
    for (const [path, xs] of groupBy(rest, pathOf)) {
      const pathMedian = median(xs.map((x) => timeToFirstByte(x)!));
      if (pathMedian < bar) continue;
      const servers = [...new Set(xs.map(serverOfExchange))];
      out.push({ site: g.site, server: servers.length === 1 ? servers[0] : null, count: xs.length, total: g.xs.length, events: xs.map(requestEvent), idKey: `${g.name}|${path}`, g, path, pathMedian, servers });
    }
  }
  return out;
}

function slowPathText(h: SlowPathHit, r: Range): string {
  const { g } = h;
  const times = g.median > 0 ? `${Math.round(h.pathMedian / g.median)} × the site's median of ${fmtSec(g.median)}` : `the site's median is ${fmtSec(g.median)}`;
  return `${g.name}: ${h.path} is slow against the rest of the site: median time to first byte ${fmtSec(h.pathMedian)} over ${plural(h.count, 'response')}, ${times} (${plural(g.xs.length, 'response')})${h.servers.length === 1 ? ` from ${h.servers[0]}` : ` from ${h.servers.length} servers`} ${span(r.firstTs, r.lastTs)}`;
}

/* NETWORK: retransmission hot spots and zero-window stalls, per server endpoint. */
interface TcpHit extends Hit {
  server: string;
  n: number;
  packets: number;
  live: number;
}

function perServerLive(f: Facts, pick: (c: ConnectionFacts) => number, keep: (n: number, packets: number) => boolean): TcpHit[] {
  const out: TcpHit[] = [];
  for (const [srv, cs] of f.byServer) {
    // Counted in one loop: no list of the live connections (all of them, usually).
    const hit: ConnectionFacts[] = [];
    let live = 0;
    let n = 0;
    let packets = 0;
    for (let i = 0; i < cs.length; i++) {
      const c = cs[i];
      const state = c.state;
      if (state === 'syn-unanswered' || state === 'refused') continue;
      live++;
      packets += c.packets;
      const k = pick(c);
      if (k > 0) {
        hit.push(c);
        n += k;
      }
    }
    if (hit.length === 0 || !keep(n, packets)) continue;
    out.push({ site: f.siteOf(cs[0].id, cs[0].server.ip), server: srv, count: hit.length, total: live, events: hit.map(connEvent), lastTs: maxOf(hit.map((c) => c.lastTs)), idKey: srv, n, packets, live });
  }
  return out;
}

/* DNS: errors and unanswered queries; a missing name is about the name, a failing or silent server about the server. */
interface DnsHit extends Hit {
  qs: DnsTransaction[];
  severity: Severity;
  what: string;
  note: string;
}

function dnsHit(qs: DnsTransaction[], total: number, site: string | null, server: string | null, severity: Severity, what: string, idKey: string, note = ''): DnsHit {
  return { site, server, count: qs.length, total, events: qs.map((d) => ({ ts: d.queryTs ?? d.responseTs ?? 0, connId: d.connectionId })), idKey, qs, severity, what, note };
}

function dnsText(h: DnsHit, r: Range): string {
  const retries = h.qs.reduce((a, d) => a + d.retries, 0);
  return `${h.what} for ${h.qs.length} of ${plural(h.total, 'query', 'queries')}${retries ? ` (${plural(retries, 'retry', 'retries')})` : ''} ${span(r.firstTs, r.lastTs)}${h.note}`;
}

/** "a.example, b.example, c.example and 2 more". */
function dnsNames(v: DnsTransaction[]): string {
  const n = [...new Set(v.map((d) => d.qname.toLowerCase()))];
  return n.length <= 3 ? n.join(', ') : `${n.slice(0, 3).join(', ')} and ${n.length - 3} more`;
}

function perDnsServer(f: Facts, make: (server: string, ds: DnsTransaction[]) => DnsHit | null): DnsHit[] {
  const out: DnsHit[] = [];
  for (const [server, ds] of groupBy(f.inp.dns, (d) => d.server.ip)) {
    const h = make(server, ds);
    if (h) out.push(h);
  }
  return out;
}

function nxdomain(f: Facts): DnsHit[] {
  const okNames = new Set(f.inp.dns.filter((d) => d.rcode === 0).map((d) => d.qname.toLowerCase()));
  // "name.search-domain" failing while "name" resolved: the resolver's search list at work.
  const isSearchExpansion = (l: string): boolean => {
    for (let i = l.lastIndexOf('.'); i > 0; i = l.lastIndexOf('.', i - 1)) if (okNames.has(l.slice(0, i))) return true;
    return false;
  };
  const out: DnsHit[] = [];
  for (const [name, ds] of groupBy(f.inp.dns, (d) => d.qname.toLowerCase())) {
    const nx = ds.filter((d) => d.rcode === 3);
    if (nx.length === 0) continue;
    const search = isSearchExpansion(name);
    const types = [...new Set(nx.map((d) => qtypeName(d.qtype)))].join('/');
    const servers = [...new Set(ds.map((d) => d.server.ip))];
    out.push(dnsHit(nx, ds.length, name, servers.length === 1 ? servers[0] : null, search ? 'info' : 'warning', `DNS: ${name} does not exist (NXDOMAIN, ${types})`, name,
      search ? '; a resolver search-domain expansion of a name that resolved, harmless' : ''));
  }
  return out;
}

/** The one name a set of queries is about, or null. */
const oneName = (qs: DnsTransaction[]): string | null => (new Set(qs.map((d) => d.qname)).size === 1 ? qs[0].qname.toLowerCase() : null);

/* TLS: alerts during the handshake, expired or not-yet-valid certificates. Per (SNI, server). */
interface TlsHit extends Hit {
  server: string;
  hs: TlsHandshake[];
  /** certificate rules: the handshakes with a bad certificate, and whether it had expired. */
  expired: boolean;
  at: number;
}

function tlsGroups(f: Facts): { site: string | null; server: string; ts: TlsHandshake[] }[] {
  return [...groupBy(f.inp.tls, (t) => `${t.sni ? hostName(t.sni) : ''}|${ep(t.serverIp, t.serverPort)}`).values()]
    .map((ts) => ({ site: f.siteOf(ts[0].connectionId, ts[0].serverIp), server: ep(ts[0].serverIp, ts[0].serverPort), ts }));
}

function certificateBad(f: Facts, t: TlsHandshake): boolean {
  if (!t.certificate) return false;
  const at = t.clientHelloTs ?? t.serverHelloTs ?? f.inp.captureFirstTs ?? 0;
  return Date.parse(t.certificate.notAfter) / 1000 < at || Date.parse(t.certificate.notBefore) / 1000 > at;
}

/*
 * SLOW SERVER WITHOUT KEYS: per site (SNI, else the DNS name of the address), the answer times
 * of the TLS turns (analysis/tls-timing.ts) of each server address, over connections not
 * decrypted (decrypted ones have their HTTP exchanges and http.slow-ttfb). An address whose
 * median is ≥ TLS_SLOW_FACTOR × the median of the site's other addresses, ≥ TLS_SLOW_MIN_SECONDS
 * longer, each side with ≥ TLS_SLOW_MIN_TURNS turns, is a finding.
 */
interface TlsSlowHit extends Hit {
  server: string;
  slowMedian: number;
  otherMedian: number;
  otherAddresses: number;
  otherTurns: number;
}

function tlsSlowServers(f: Facts): TlsSlowHit[] {
  const out: TlsSlowHit[] = [];
  const timed = f.inp.tls.filter((t) => !t.decrypted && t.turns && t.turns.answerTimes.length > 0);
  for (const [site, ts] of groupBy(timed, (t) => f.siteOf(t.connectionId, t.serverIp) ?? '')) {
    if (!site) continue;
    const byIp = groupBy(ts, (t) => t.serverIp);
    if (byIp.size < 2) continue;
    const samples = new Map([...byIp].map(([ip, v]) => [ip, v.flatMap((t) => t.turns!.answerTimes)]));
    for (const [ip, mine] of samples) {
      const others = [...samples].filter(([o]) => o !== ip).flatMap(([, v]) => v);
      if (mine.length < TLS_SLOW_MIN_TURNS || others.length < TLS_SLOW_MIN_TURNS) continue;
      const m = median(mine);
      const o = median(others);
      if (m < TLS_SLOW_FACTOR * o || m - o < TLS_SLOW_MIN_SECONDS) continue;
      const conns = byIp.get(ip)!;
      out.push({
        site, server: ip, count: mine.length, total: mine.length + others.length, idKey: `${site}|${ip}`,
        events: conns.map((t) => ({ ts: t.clientHelloTs ?? t.serverHelloTs ?? 0, connId: t.connectionId })),
        slowMedian: m, otherMedian: o, otherAddresses: samples.size - 1, otherTurns: others.length,
      });
    }
  }
  return out;
}

function tlsSlowText(h: TlsSlowHit, r: Range): string {
  const times = h.otherMedian > 0 ? `${Math.round(h.slowMedian / h.otherMedian)}× slower than` : 'much slower than';
  return `${h.site}: ${h.server} answers ${times} the site's other ${plural(h.otherAddresses, 'address', 'addresses')} (median ${fmtSec(h.slowMedian)} vs ${fmtSec(h.otherMedian)} over ${h.count} and ${h.otherTurns} TLS request/response turns, from record timing without keys) ${span(r.firstTs, r.lastTs)}`;
}

/* ICMP UNREACHABLES, per unreachable destination and reason; the quoted packet names the connection. */
interface IcmpHit extends Hit {
  us: IcmpUnreachable[];
  dst: string;
}

const protoName = (p: number): string => (p === 6 ? 'tcp' : p === 17 ? 'udp' : `proto ${p}`);

function unreachables(f: Facts): IcmpHit[] {
  if (f.inp.icmp.length === 0) return [];
  // Only the 5-tuples the quoted packets name are looked up (not a key per connection).
  const tupleOf = (x: IcmpUnreachable): string => `${x.proto === 6 ? 'tcp' : 'udp'}|${x.src}|${x.srcPort}|${x.dst}|${x.dstPort}`;
  const wanted = new Set(f.inp.icmp.map(tupleOf));
  const connByTuple = new Map<string, number>();
  for (const c of f.inp.connections) {
    const there = `${c.transport}|${c.client.ip}|${c.client.port}|${c.server.ip}|${c.server.port}`;
    if (wanted.has(there)) connByTuple.set(there, c.id);
    const back = `${c.transport}|${c.server.ip}|${c.server.port}|${c.client.ip}|${c.client.port}`;
    if (wanted.has(back)) connByTuple.set(back, c.id);
  }
  const out: IcmpHit[] = [];
  for (const us of groupBy(f.inp.icmp, (u) => `${u.dst}|${u.proto}|${u.dstPort}|${u.version}|${u.code}`).values()) {
    const u = us[0];
    const proto = protoName(u.proto);
    const dst = u.proto === 6 || u.proto === 17 ? `${ep(u.dst, u.dstPort)}/${proto}` : `${u.dst} (${proto})`;
    const events = us.map((x) => ({ ts: x.ts, connId: connByTuple.get(tupleOf(x)) ?? null }));
    out.push({ site: f.ipSite.get(u.dst) ?? null, server: ep(u.dst, u.dstPort), count: us.length, total: us.length, events, idKey: `${u.dst}|${proto}|${u.dstPort}|${u.code}`, us, dst });
  }
  return out;
}

/*
 * QUIC HANDSHAKES, per site (SNI) and server: never answered (nothing but Retry or Version
 * Negotiation came back; an attempt in the capture's last second with one packet is not yet
 * unanswered), or failed (a CONNECTION_CLOSE before the handshake completed, or the server
 * answered and the handshake stopped). TCP connections to the same site are counted, since a
 * browser whose QUIC is blocked falls back to TCP.
 */
interface QuicHit extends Hit {
  server: string;
  port: number;
  qs: QuicConnection[];
  tcp: number;
}

function quicHits(bad: (q: QuicConnection) => boolean): (f: Facts) => QuicHit[] {
  return (f) => {
    const site = (q: QuicConnection) => (q.sni ? hostName(q.sni) : f.siteOf(q.connectionId, q.serverIp));
    const out: QuicHit[] = [];
    for (const [key, all] of groupBy(f.inp.quic ?? [], (q) => `${site(q) ?? ''}|${ep(q.serverIp, q.serverPort)}`)) {
      const hit = all.filter((q) => bad(q) && (q.clientPackets > 1 || f.lastTs - q.firstTs >= SYN_GRACE_SECONDS));
      if (hit.length === 0) continue;
      const s = site(all[0]);
      const tcp = f.tcp.filter((c) => (s ? f.siteOf(c.id, c.server.ip) === s : c.server.ip === all[0].serverIp)).length;
      out.push({
        site: s, server: ep(all[0].serverIp, all[0].serverPort), port: all[0].serverPort, count: hit.length, total: all.length,
        events: hit.map((q) => ({ ts: q.firstTs, connId: q.connectionId })), lastTs: maxOf(hit.map((q) => q.lastTs)), idKey: key, qs: hit, tcp,
      });
    }
    return out;
  };
}

/*
 * QUIC AND TCP TO ONE SITE. A browser that knows a site speaks HTTP/3 tries QUIC (UDP) and,
 * when QUIC does not answer in time (or fails), connects over TCP instead. For each site
 * (the QUIC SNI; TCP's SNI, Host or DNS name) with both QUIC and TCP connections:
 * - QUIC attempts that were never answered or failed, each followed by a TCP connection to
 *   the site: the FALLBACK DELAY is from the attempt's first Initial to the first TCP
 *   connection to the site that started after it (a warning: users wait that long);
 * - QUIC working and TCP used as well: the two are compared by setup time (QUIC handshake
 *   time; TCP handshake RTT plus the TLS handshake) as information.
 */
interface FallbackHit extends Hit {
  failed: QuicConnection[];
  quic: QuicConnection[];
  tcp: ConnectionFacts[];
  /** Fallback delays (seconds) of the failed attempts that a TCP connection followed. */
  delays: number[];
  quicSetup: number[];
  tcpSetup: number[];
}

function quicTcpComparison(f: Facts): FallbackHit[] {
  const quic = f.inp.quic ?? [];
  if (quic.length === 0) return [];
  const tlsTime = new Map<number, number>();
  for (const t of f.inp.tls) if (t.clientHelloTs !== null && t.doneTs !== null) tlsTime.set(t.connectionId, t.doneTs - t.clientHelloTs);
  const out: FallbackHit[] = [];
  for (const [site, qs] of groupBy(quic.filter((q) => q.sni), (q) => hostName(q.sni!))) {
    const tcp = f.tcp.filter((c) => f.siteOf(c.id, c.server.ip) === site).sort((a, b) => a.firstTs - b.firstTs);
    if (tcp.length === 0) continue;
    const failed = qs.filter((q) => {
      const st = quicState(q);
      return (st === 'handshake-unanswered' || st === 'handshake-failed') && (q.clientPackets > 1 || f.lastTs - q.firstTs >= SYN_GRACE_SECONDS);
    });
    const delays: number[] = [];
    for (const q of failed) {
      const next = tcp.find((c) => c.firstTs >= q.firstTs);
      if (next) delays.push(next.firstTs - q.firstTs);
    }
    const quicSetup = qs.map(quicHandshakeTime).filter((x): x is number => x !== null);
    const tcpSetup = tcp.filter((c) => typeof c.handshakeRtt === 'number' && tlsTime.has(c.id)).map((c) => c.handshakeRtt! + tlsTime.get(c.id)!);
    if (delays.length === 0 && (failed.length > 0 || quicSetup.length === 0)) continue;
    const evidence = delays.length ? [...failed, ...tcp] : [...qs, ...tcp];
    out.push({
      site, server: ep((failed[0] ?? qs[0]).serverIp, (failed[0] ?? qs[0]).serverPort), count: delays.length ? failed.length : tcp.length, total: delays.length ? qs.length : qs.length + tcp.length,
      events: evidence.map((c) => ({ ts: c.firstTs, connId: 'connectionId' in c ? c.connectionId : c.id })), idKey: site,
      failed, quic: qs, tcp, delays, quicSetup, tcpSetup,
    });
  }
  return out;
}

const msText = (s: number) => `${(s * 1000).toFixed(s < 0.01 ? 2 : 0)} ms`;

function quicTcpText(h: FallbackHit, r: Range): string {
  const tcpSetup = h.tcpSetup.length ? `TCP+TLS setup median ${msText(median(h.tcpSetup))}` : null;
  if (h.delays.length) {
    const unanswered = h.failed.filter((q) => quicState(q) === 'handshake-unanswered').length;
    const what = unanswered === h.failed.length ? 'got no answer' : unanswered === 0 ? 'failed' : `failed (${unanswered} unanswered)`;
    const port = h.failed[0].serverPort;
    return `${h.site}: ${h.failed.length} of ${plural(h.quic.length, 'QUIC handshake')} ${what} ${span(r.firstTs, r.lastTs)}${unanswered ? ` (UDP ${port} blocked?)` : ''}; the browser fell back to TCP after ${msText(median(h.delays))}${h.delays.length > 1 ? ` (median of ${h.delays.length}, up to ${msText(maxOf(h.delays))})` : ''}${h.quicSetup.length ? `; working QUIC handshakes took ${msText(median(h.quicSetup))}` : ''}${tcpSetup ? `; ${tcpSetup}` : ''}`;
  }
  return `${h.site}: reached over QUIC (${plural(h.quic.length, 'connection')}, handshake median ${msText(median(h.quicSetup))}) and TCP (${plural(h.tcp.length, 'connection')}${tcpSetup ? `, ${tcpSetup}` : ''}) ${span(r.firstTs, r.lastTs)}`;
}

/*
 * IDS ALERTS (analyze --alerts): Suricata alerts per signature and site — the site of the
 * alerted connection, else the name DNS gave the alert's destination, else that endpoint.
 * `count` alerted connections of the `total` connections to that site (or server); an
 * alert that matched no connection of the capture counts one of each.
 */
interface AlertHit extends Hit {
  alerts: AlertFacts[];
  unjoined: number;
}

function idsAlerts(f: Facts): AlertHit[] {
  const alerts = f.inp.alerts ?? [];
  if (alerts.length === 0) return [];
  const place = (site: string | null, server: string) => site ?? server;
  const perPlace = new Map<string, number>();
  for (const c of f.connections()) {
    const k = place(f.siteOf(c.id, c.server.ip), serverOfConn(c));
    perPlace.set(k, (perPlace.get(k) ?? 0) + 1);
  }
  const where = (a: AlertFacts): { site: string | null; server: string } => {
    const c = a.connectionId !== null ? f.conn(a.connectionId) : undefined;
    if (c) return { site: f.siteOf(c.id, c.server.ip), server: serverOfConn(c) };
    return { site: f.siteOf(null, a.dst.ip), server: a.dst.port === null ? a.dst.ip : ep(a.dst.ip, a.dst.port) };
  };
  const out: AlertHit[] = [];
  for (const [key, as] of groupBy(alerts, (a) => { const w = where(a); return `${a.signatureId}|${place(w.site, w.server)}`; })) {
    const w = where(as[0]);
    const servers = new Set(as.map((a) => where(a).server));
    const unjoined = as.filter((a) => a.connectionId === null).length;
    const count = new Set(as.map((a) => a.connectionId).filter((x) => x !== null)).size + unjoined;
    out.push({
      site: w.site, server: servers.size === 1 ? w.server : null, count, total: Math.max(count, (perPlace.get(place(w.site, w.server)) ?? 0) + unjoined),
      events: as.map((a) => ({ ts: a.ts, connId: a.connectionId })), idKey: key, alerts: as, unjoined,
    });
  }
  return out;
}

function idsAlertText(h: AlertHit, r: Range): string {
  const a = h.alerts[0];
  const about = [`sid ${a.signatureId}`, a.category, a.severity !== null ? `severity ${a.severity}` : ''].filter(Boolean).join(', ');
  const to = h.site ? siteAndServer(h.site, h.server ?? `${plural(new Set(h.alerts.map((x) => x.dst.ip)).size, 'server')}`) : h.server ?? a.dst.ip;
  return `IDS alert "${a.signature}" (${about}): ${plural(h.alerts.length, 'alert')} on ${h.count} of ${plural(h.total, 'connection')} to ${to} ${span(r.firstTs, r.lastTs)}${h.unjoined ? `; ${h.unjoined} matched no connection of the capture` : ''}`;
}

/**
 * THE RULES, in the order their findings are listed before ranking (docs/protocols.md
 * "Findings" has the same table). Each finding is grouped by site and server, with how many
 * attempts were affected out of how many, when, and which connections show it.
 * "Intermittent" is made explicit: a failing server is compared with the other servers of
 * the same site, and the fraction of attempts that failed is given.
 */
export const RULES: readonly Rule<Hit>[] = [
  rule<ServerHit>({
    kind: 'tcp.syn-unanswered', severity: 'critical', group: 'connection',
    detect: connectionFailures('syn-unanswered'),
    text: connectionFailureText('never answered', 'SYN unanswered: a firewall dropping it, or the host is down'),
  }),
  rule<ServerHit>({
    kind: 'tcp.refused', severity: 'critical', group: 'connection',
    detect: connectionFailures('refused'),
    text: connectionFailureText('refused', 'RST to SYN: nothing listening on the port, or a firewall rejecting'),
  }),
  rule<HttpHit>({
    kind: 'http.5xx', severity: 'critical', group: 'http',
    detect: httpHits((g) => g.serverErrors, (f) => f.bad5xx, (x) => ({ ts: x.responseTs ?? x.requestTs ?? 0, connId: x.connectionId })),
    text: (h, r, f) => {
      const codes = [...groupBy(h.xs, (x) => String(x.status))].map(([c, v]) => `${c} ×${v.length}`).join(', ');
      return `${siteAndServer(h.site, h.server)} answered ${h.count} of ${plural(h.requests, 'request')} with a server error (${codes}) ${span(r.firstTs, r.lastTs)}${topUris(h.xs)}${f.othersFine(h.site, h.bad, h.universe)}`;
    },
  }),
  // Reset or closed by an endpoint before the response completed. Capture artifacts and the
  // capture's end are not server faults: they have their own rules below.
  rule<HttpHit>({
    kind: 'http.no-response', severity: 'critical', group: 'http',
    detect: httpHits((g) => g.cut, (f) => f.badCut),
    text: (h, r, f) => `${siteAndServer(h.site, h.server)}: ${h.count} of ${plural(h.requests, 'request')} got no complete response (${cutHow(h.xs)}) ${span(r.firstTs, r.lastTs)}${topUris(h.xs)}${f.othersFine(h.site, h.bad, h.universe)}`,
  }),
  // CAPTURE LOSS of responses: the server's direction lost bytes (ACKed-unseen data, a first
  // fragment without its rest) while these requests waited, or a response was cut after such
  // a loss. Whether the server answered is unknown: counted apart from server failures.
  rule<HttpHit>({
    kind: 'http.response-not-captured', severity: 'warning', group: 'capture',
    detect: httpHits((g) => g.notCaptured, null),
    text: (h, r) => `${siteAndServer(h.site, h.server)}: the capture lost the responses to ${h.count} of ${plural(h.requests, 'request')} (${lostHow(h.xs)}) ${span(r.firstTs, r.lastTs)}${topUris(h.xs)}: the tap or capture dropped them, not the server; not counted as server failures`,
  }),
  rule<HttpHit>({
    kind: 'http.pending-at-end', severity: 'info', group: 'http',
    detect: httpHits((g) => g.pendingAtEnd, null),
    text: (h) => `${siteAndServer(h.site, h.server)}: ${plural(h.count, 'request')} still waiting for (the rest of) a response when the capture ended${topUris(h.xs)}`,
  }),
  rule<SlowHit>({ kind: 'http.slow-ttfb', severity: 'warning', group: 'http', detect: slowTtfb, text: slowTtfbText }),
  rule<SlowPathHit>({ kind: 'http.slow-path', severity: 'warning', group: 'http', detect: slowPaths, text: slowPathText }),
  rule<Hit & { id: number }>({
    kind: 'http.h2c', severity: 'info', group: 'http',
    detect: (f) => f.inp.http2.map((h) => {
      const c = f.conn(h.connectionId);
      return { site: c ? f.siteOf(c.id, c.server.ip) : null, server: c ? serverOfConn(c) : null, count: 1, total: 1, events: [{ ts: h.ts, connId: h.connectionId }], idKey: String(h.connectionId), id: h.connectionId };
    }),
    text: (h) => `connection ${h.id}${h.server ? ` to ${h.server}` : ''} speaks HTTP/2 in clear text (h2c)`,
  }),
  // HTTP/2 STREAM ERRORS: streams ended by RST_STREAM or refused/cut by GOAWAY, by error code
  // and sender. Critical when the server sent them; a client's CANCEL alone is informational
  // (browsers cancel streams they no longer need).
  rule<HttpHit>({
    kind: 'http.h2-stream-error', group: 'http',
    severity: (h) => (h.xs.some((x) => x.errorBy === 'server') ? 'critical' : 'info'),
    detect: httpHits((g) => g.streamErrors, null),
    text: (h, r) => {
      const how = [...groupBy(h.xs, (x) => `${x.error} from the ${x.errorBy ?? 'server'}`)].map(([w, v]) => `${w} ×${v.length}`).join(', ');
      return `${siteAndServer(h.site, h.server)}: ${h.count} of ${plural(h.requests, 'HTTP/2 stream')} ended in error (${how}) ${span(r.firstTs, r.lastTs)}${topUris(h.xs)}`;
    },
  }),
  // HTTP/2 FLOW-CONTROL STALLS: a sender used up the window its receiver granted and waited
  // for WINDOW_UPDATE (RFC 9113 §6.9): the receiving application reads slowly, as a TCP zero
  // window would show one level down.
  rule<HttpHit>({
    kind: 'http.h2-flow-control', severity: 'warning', group: 'http',
    detect: httpHits((g) => g.flowStalled, null),
    text: (h, r) => {
      const waits = h.xs.map((x) => x.flowControlStallSeconds ?? 0);
      const readers = [...new Set(h.xs.map((x) => (x.flowControlWaitBy === 'client' ? 'the server' : 'the client')))].join(' and ');
      return `${siteAndServer(h.site, h.server)}: ${h.count} of ${plural(h.requests, 'HTTP/2 stream')} waited for flow-control window updates for ${fmtSec(waits.reduce((a, b) => a + b, 0))} in total (longest ${fmtSec(maxOf(waits))}) ${span(r.firstTs, r.lastTs)}${topUris(h.xs)}: ${readers} read slowly`;
    },
  }),
  // RESETS: connections reset while a request was waiting or before TLS completed.
  rule<ServerHit>({
    kind: 'tcp.reset-mid-exchange', severity: 'warning', group: 'tcp',
    detect: (f) => {
      const tlsIncomplete = new Set(f.inp.tls.filter((t) => t.doneTs === null).map((t) => t.connectionId));
      const reset = f.tcp.filter((c) => c.state === 'reset' && (f.resetWithPending.has(c.id) || tlsIncomplete.has(c.id)));
      return [...groupBy(reset, serverOfConn)].map(([srv, cs]) => ({
        site: f.siteOf(cs[0].id, cs[0].server.ip), server: srv, count: cs.length, total: f.byServer.get(srv)?.length ?? cs.length,
        events: cs.map((c) => ({ ts: c.lastTs, connId: c.id })), idKey: srv, bad: new Set([srv]),
      }));
    },
    text: (h, r) => `${sitePrefix(h.site)}${h.server}: ${h.count} of ${plural(h.total, 'connection')} were reset in the middle of an exchange ${span(r.firstTs, r.lastTs)}`,
  }),
  rule<TcpHit>({
    kind: 'tcp.analysis.retransmission', severity: 'warning', group: 'tcp',
    detect: (f) => perServerLive(f, (c) => c.retransmissions ?? 0, (n, packets) => n >= RETRANS_MIN && packets > 0 && n / packets >= RETRANS_MIN_FRACTION),
    text: (h, r) => `${sitePrefix(h.site)}${h.server}: ${h.n} retransmissions (${((100 * h.n) / h.packets).toFixed(1)}% of ${h.packets} packets) in ${h.count} of ${plural(h.live, 'connection')}: packet loss on the path ${span(r.firstTs, r.lastTs)}`,
  }),
  rule<TcpHit>({
    kind: 'tcp.analysis.zero_window', severity: 'warning', group: 'tcp',
    detect: (f) => perServerLive(f, (c) => c.zeroWindows ?? 0, () => true),
    text: (h, r) => `${sitePrefix(h.site)}${h.server}: a receiver advertised a zero window ${plural(h.n, 'time')} in ${h.count} of ${plural(h.live, 'connection')} (an application not reading fast enough stalls the transfer) ${span(r.firstTs, r.lastTs)}`,
  }),
  // CAPTURE LOSS: data the receiver acknowledged but the capture never saw.
  rule<Hit & { n: number }>({
    kind: 'tcp.analysis.ack_lost_segment', severity: 'warning', group: 'capture',
    detect: (f) => {
      const unseen = f.inp.connections.filter((c) => (c.ackedUnseen ?? 0) > 0);
      if (unseen.length === 0) return [];
      return [{ site: null, server: null, count: unseen.length, total: f.tcp.length, events: unseen.map(connEvent), lastTs: maxOf(unseen.map((c) => c.lastTs)), idKey: 'capture', n: unseen.reduce((a, c) => a + (c.ackedUnseen ?? 0), 0) }];
    },
    text: (h) => `The capture missed packets the endpoints did receive (${plural(h.n, 'ACKed-unseen segment')} in ${h.count} of ${plural(h.total, 'connection')}): the tap or capture dropped them, not the network; loss figures may be understated`,
  }),
  rule<DnsHit>({ kind: 'dns.nxdomain', severity: (h) => h.severity, group: 'dns', detect: nxdomain, text: dnsText }),
  rule<DnsHit>({
    kind: 'dns.servfail', severity: 'critical', group: 'dns', text: dnsText,
    detect: (f) => perDnsServer(f, (server, ds) => {
      const sf = ds.filter((d) => d.rcode === 2);
      return sf.length ? dnsHit(sf, ds.length, sf.length === ds.length ? sf[0].qname.toLowerCase() : oneName(sf), server, 'critical', `DNS server ${server} failed (SERVFAIL) on ${dnsNames(sf)}`, server) : null;
    }),
  }),
  rule<DnsHit>({
    kind: 'dns.error', severity: 'warning', group: 'dns', text: dnsText,
    detect: (f) => perDnsServer(f, (server, ds) => {
      const other = ds.filter((d) => d.rcode !== null && d.rcode !== 0 && d.rcode !== 2 && d.rcode !== 3);
      const codes = [...new Set(other.map((d) => RCODE_NAMES[d.rcode!] ?? `rcode ${d.rcode}`))].join(', ');
      return other.length ? dnsHit(other, ds.length, null, server, 'warning', `DNS server ${server} answered with an error (${codes}) on ${dnsNames(other)}`, server) : null;
    }),
  }),
  rule<DnsHit>({
    kind: 'dns.unanswered', severity: 'critical', group: 'dns', text: dnsText,
    detect: (f) => perDnsServer(f, (server, ds) => {
      const un = ds.filter((d) => d.rcode === null && d.queryTs !== null && f.lastTs - d.queryTs >= DNS_GRACE_SECONDS);
      return un.length ? dnsHit(un, ds.length, oneName(un), server, 'critical', `DNS server ${server} never answered queries for ${dnsNames(un)}`, server) : null;
    }),
  }),
  rule<TlsHit>({
    kind: 'tls.alert', severity: 'critical', group: 'tls',
    detect: (f) => tlsGroups(f).flatMap(({ site, server, ts }) => {
      const alerts = ts.filter((t) => t.alert !== null && t.alertFatal && !t.alert.endsWith('close_notify'));
      return alerts.length ? [{ site, server, count: alerts.length, total: ts.length, events: alerts.map((t) => ({ ts: t.alertTs ?? 0, connId: t.connectionId })), idKey: `${site ?? ''}|${server}`, hs: alerts, expired: false, at: 0 }] : [];
    }),
    text: (h, r) => {
      const names = [...groupBy(h.hs, (t) => `${t.alert}${t.alertFromClient ? ' from client' : ' from server'}`)].map(([a, v]) => `${a} ×${v.length}`).join(', ');
      return `${siteAndServer(h.site, h.server)}: TLS alert in ${h.count} of ${plural(h.total, 'handshake')} (${names}) ${span(r.firstTs, r.lastTs)}`;
    },
  }),
  rule<TlsHit>({
    kind: (h) => (h.expired ? 'tls.certificate-expired' : 'tls.certificate-not-yet-valid'), severity: 'critical', group: 'tls',
    detect: (f) => tlsGroups(f).flatMap(({ site, server, ts }) => {
      const bad = ts.filter((t) => certificateBad(f, t));
      if (bad.length === 0) return [];
      const at = bad[0].clientHelloTs ?? 0;
      const expired = Date.parse(bad[0].certificate!.notAfter) / 1000 < at;
      return [{ site, server, count: bad.length, total: ts.length, events: bad.map((t) => ({ ts: t.clientHelloTs ?? 0, connId: t.connectionId })), idKey: `${site ?? ''}|${server}`, hs: bad, expired, at }];
    }),
    text: (h, _r, f) => {
      const c = h.hs[0].certificate!;
      const okServers = f.inp.tls.filter((t) => t.certificate && h.site && f.siteOf(t.connectionId, t.serverIp) === h.site && !h.hs.includes(t)).map((t) => ep(t.serverIp, t.serverPort));
      return `${sitePrefix(h.site)}${h.server} presents a certificate that ${h.expired ? `expired on ${c.notAfter.slice(0, 10)}` : `is not valid before ${c.notBefore.slice(0, 10)}`} (capture taken ${new Date(h.at * 1000).toISOString().slice(0, 10)}; subject ${c.subject})${okServers.length ? `; ${new Set(okServers).size} other server(s) of ${h.site} present a valid one` : ''}`;
    },
  }),
  rule<TlsSlowHit>({ kind: 'tls.slow-server', severity: 'warning', group: 'tls', detect: tlsSlowServers, text: tlsSlowText }),
  rule<QuicHit>({
    kind: 'quic.handshake-unanswered', severity: 'critical', group: 'quic',
    detect: quicHits((q) => quicState(q) === 'handshake-unanswered'),
    text: (h, r) => `${siteAndServer(h.site, h.server)}: ${h.count} of ${plural(h.total, 'QUIC handshake')} got no answer ${span(r.firstTs, r.lastTs)} (UDP ${h.port} blocked: a firewall dropping QUIC; browsers fall back to TCP after a delay${h.tcp ? `; ${plural(h.tcp, 'TCP connection')} to ${h.site ?? 'the same address'} in the capture` : ''})`,
  }),
  rule<QuicHit>({
    kind: 'quic.handshake-failed', severity: 'critical', group: 'quic',
    detect: quicHits((q) => quicState(q) === 'handshake-failed'),
    text: (h, r) => {
      const why = [...groupBy(h.qs, (q) => (q.close ? `${q.close.error} from the ${q.close.fromClient ? 'client' : 'server'}` : 'the server answered but the handshake never completed'))]
        .map(([w, v]) => `${w} ×${v.length}`).join(', ');
      return `${siteAndServer(h.site, h.server)}: ${h.count} of ${plural(h.total, 'QUIC handshake')} failed (${why}) ${span(r.firstTs, r.lastTs)}`;
    },
  }),
  rule<FallbackHit>({
    kind: 'quic.tcp-fallback', severity: (h) => (h.delays.length ? 'warning' : 'info'), group: 'quic',
    detect: quicTcpComparison, text: quicTcpText,
  }),
  rule<IcmpHit>({
    kind: 'icmp.unreachable', severity: (h) => (h.us[0].version === 4 && h.us[0].code === 4 ? 'info' : 'warning'), group: 'icmp',
    detect: unreachables,
    text: (h, r) => `ICMP ${unreachableText(h.us[0])} for ${h.dst} ×${h.us.length}, reported by ${[...new Set(h.us.map((x) => x.reporter))].join(', ')} ${span(r.firstTs, r.lastTs)}`,
  }),
  rule<AlertHit>({
    kind: 'ids.alert', group: 'ids',
    severity: (h) => (h.alerts[0].severity === 1 ? 'critical' : h.alerts[0].severity === 2 ? 'warning' : 'info'),
    detect: idsAlerts,
    text: idsAlertText,
  }),
];

/** Every finding kind the rules can produce (documented in docs/protocols.md "Findings"). */
export const FINDING_KINDS: readonly string[] = [
  'tcp.syn-unanswered', 'tcp.refused', 'http.5xx', 'http.no-response', 'http.response-not-captured', 'http.pending-at-end', 'http.slow-ttfb', 'http.slow-path', 'http.h2c', 'http.h2-stream-error', 'http.h2-flow-control',
  'tcp.reset-mid-exchange', 'tcp.analysis.retransmission', 'tcp.analysis.zero_window', 'tcp.analysis.ack_lost_segment',
  'dns.nxdomain', 'dns.servfail', 'dns.error', 'dns.unanswered', 'tls.alert', 'tls.certificate-expired', 'tls.certificate-not-yet-valid', 'tls.slow-server', 'quic.handshake-unanswered', 'quic.handshake-failed', 'quic.tcp-fallback', 'icmp.unreachable',
  'ids.alert',
];

/** Runs every rule over the facts of one capture and ranks the findings (compareFindings). */
export function buildFindings(inp: FindingInput): Finding[] {
  const facts = new Facts(inp);
  const out: Finding[] = [];
  for (const r of RULES) {
    for (const h of r.detect(facts)) {
      const kind = typeof r.kind === 'function' ? r.kind(h) : r.kind;
      const rg = range(h.events);
      if (h.lastTs !== undefined) rg.lastTs = h.lastTs;
      out.push({
        id: `${kind}:${h.idKey}`, severity: typeof r.severity === 'function' ? r.severity(h) : r.severity, kind, site: h.site, server: h.server,
        count: h.count, total: h.total, firstTs: rg.firstTs, lastTs: rg.lastTs, connectionIds: rg.ids, summary: r.text(h, rg, facts),
      });
    }
  }
  out.sort(compareFindings);
  return out;
}

function fmtSec(s: number): string {
  return s < 1 ? `${(s * 1000).toFixed(s < 0.01 ? 1 : 0)} ms` : `${s.toFixed(2)} s`;
}

/** ", mostly GET /slow" when the affected requests share a path. */
function topUris(xs: HttpExchange[]): string {
  const withUri = xs.filter((x) => x.uri !== null);
  if (withUri.length === 0) return '';
  const g = [...groupBy(withUri, pathOf)].sort((a, b) => b[1].length - a[1].length);
  const [what, v] = g[0];
  if (g.length === 1) return `, all ${what}`;
  return v.length * 2 > withUri.length ? `, mostly ${what}` : '';
}
