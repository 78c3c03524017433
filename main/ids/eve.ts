import { closeSync, openSync, readSync } from 'node:fs';
import type { AlertRow } from '../../preload/api.js';
import { StringDecoder } from 'node:string_decoder';
import { addressBytes } from '../flows/community-id.js';
import { ipv4Text, ipv6Text } from '../decode/addr.js';

/*
 * Suricata EVE JSON (one object per line, docs.suricata.io "Eve JSON Output") read back and
 * joined to the capture's connections.
 *
 * Only `event_type: "alert"` records are kept; the others are counted by type. Every field
 * read is checked against the type Suricata's EVE schema gives it (the tables below; a
 * test checks them against ../shared/ids/suricata-eve-schema.json): a record with a
 * field of the wrong type, a timestamp not in the schema's pattern or no
 * alert.signature_id is left out with a warning naming its line. Fields Tapscope does not
 * read are not checked (newer Suricata versions add fields; they are no reason to drop an
 * alert).
 *
 * Join (docs/flows.md): by community_id when the record has one and a connection has the
 * same (same seed as Suricata's `community-id-seed`); else by the 5-tuple in either
 * orientation — an alert fired by a to_client packet has the server as src — with the
 * alert's time inside the connection's first..last packet (± JOIN_SLACK_SECONDS), and,
 * when the record has a `tunnel`, a connection carried by a tunnel with those outer
 * addresses. Of several candidates (a reused 5-tuple) the nearest in time wins.
 */

type JsonType = 'string' | 'integer' | 'object';

/** Top-level EVE fields Tapscope reads, with their schema types. */
export const EVE_FIELDS: Record<string, JsonType> = {
  timestamp: 'string',
  event_type: 'string',
  src_ip: 'string',
  src_port: 'integer',
  dest_ip: 'string',
  dest_port: 'integer',
  proto: 'string',
  community_id: 'string',
  direction: 'string',
  flow_id: 'integer',
  pcap_cnt: 'integer',
  tunnel: 'object',
  alert: 'object',
};
/** `alert` fields read. */
export const EVE_ALERT_FIELDS: Record<string, JsonType> = {
  signature_id: 'integer',
  signature: 'string',
  category: 'string',
  severity: 'integer',
  action: 'string',
  gid: 'integer',
  rev: 'integer',
};
/** `tunnel` fields read (the outer packet of decapsulated traffic). */
export const EVE_TUNNEL_FIELDS: Record<string, JsonType> = {
  src_ip: 'string',
  dest_ip: 'string',
  src_port: 'integer',
  dest_port: 'integer',
  proto: 'string',
  depth: 'integer',
};
/** The schema's timestamp pattern: 2022-03-17T08:38:50.766672+0000. */
export const EVE_TIMESTAMP = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})\.(\d+)([+-])(\d{2}):?(\d{2})$/;

/** An alert past the time window of every connection with its 5-tuple is no match. */
export const JOIN_SLACK_SECONDS = 1;
const MAX_WARNINGS = 100;

export interface EveAlert {
  line: number;
  ts: number;
  signatureId: number;
  signature: string;
  category: string;
  severity: number | null;
  srcIp: string;
  srcPort: number | null;
  dstIp: string;
  dstPort: number | null;
  proto: string;
  communityId: string | null;
  direction: string | null;
  tunnel: { srcIp: string | null; dstIp: string | null } | null;
}

export interface EveReadResult {
  alerts: EveAlert[];
  /** Other event types, counted by type. */
  skipped: Record<string, number>;
  /** Line-numbered problems (the first MAX_WARNINGS, then a count). */
  warnings: string[];
  lines: number;
}

/** Epoch seconds of an EVE timestamp (µs kept), or null when it does not match the schema's pattern. */
export function eveTimestamp(s: string): number | null {
  const m = EVE_TIMESTAMP.exec(s);
  if (!m) return null;
  const ms = Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6]);
  if (Number.isNaN(ms)) return null;
  const frac = Number(`0.${m[7]}`);
  const offset = (m[8] === '-' ? -1 : 1) * (+m[9] * 3600 + +m[10] * 60);
  return Math.round((ms / 1000 + frac - offset) * 1e6) / 1e6;
}

/**
 * An address as the engine writes it (RFC 5952 for IPv6): Suricata versions differ
 * (some print every IPv6 group in full, 2001:0db8:0000:…).
 */
export function canonicalIp(text: string): string {
  const b = addressBytes(text);
  if (!b) return text;
  return b.length === 4 ? ipv4Text(b, 0) : ipv6Text(b, 0);
}

function typeOf(v: unknown): string {
  if (Number.isInteger(v)) return 'integer';
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  return typeof v;
}

/** The first field of `o` (named in `table`) whose type is not the schema's, as "name (type)". */
function badField(o: Record<string, unknown>, table: Record<string, JsonType>, prefix = ''): string | null {
  for (const [k, t] of Object.entries(table)) {
    if (!(k in o)) continue;
    const got = typeOf(o[k]);
    if (got !== t) return `${prefix}${k} is ${got}, not ${t}`;
  }
  return null;
}

/** Longest EVE line read (a record is a few KB); longer ones are skipped with a warning. */
export const MAX_LINE = 16 << 20;

/**
 * Incremental EVE reader: text in chunks (a file read piecewise, a growing file followed),
 * complete lines parsed as they arrive. Never throws: bad lines become warnings. Memory:
 * the alerts kept, plus at most one partial line of MAX_LINE.
 */
export class EveParser {
  readonly res: EveReadResult = { alerts: [], skipped: {}, warnings: [], lines: 0 };
  private dropped = 0;
  private line = 0;
  private carry = '';
  /** Inside a line longer than MAX_LINE: skip to its end. */
  private skipping = false;

  push(text: string): this {
    let start = 0;
    for (;;) {
      const nl = text.indexOf('\n', start);
      if (nl < 0) break;
      const piece = text.slice(start, nl);
      start = nl + 1;
      this.line++;
      if (this.skipping) this.skipping = false;
      else this.record(this.carry + piece);
      this.carry = '';
    }
    if (!this.skipping) {
      this.carry += text.slice(start);
      if (this.carry.length > MAX_LINE) {
        this.warn(this.line + 1, `longer than ${MAX_LINE} characters (skipped)`);
        this.carry = '';
        this.skipping = true;
      }
    }
    return this;
  }

  /** End of input: the last line (without a newline) too. */
  end(): EveReadResult {
    if (this.carry !== '' && !this.skipping) {
      this.line++;
      this.record(this.carry);
    }
    this.carry = '';
    if (this.dropped) this.res.warnings.push(`${this.dropped} more bad line(s) not listed`);
    this.dropped = 0;
    return this.res;
  }

  private warn(line: number, msg: string): void {
    if (this.res.warnings.length < MAX_WARNINGS) this.res.warnings.push(`line ${line}: ${msg}`);
    else this.dropped++;
  }

  private record(text: string): void {
    const line = this.line;
    const raw = text.trim();
    if (raw === '') return;
    this.res.lines++;
    let o: unknown;
    try {
      o = JSON.parse(raw);
    } catch (e) {
      this.warn(line, `not JSON (${(e as Error).message})`);
      return;
    }
    if (typeOf(o) !== 'object') {
      this.warn(line, 'not a JSON object');
      return;
    }
    const r = o as Record<string, unknown>;
    if (typeof r.event_type !== 'string' || typeof r.timestamp !== 'string') {
      this.warn(line, 'no event_type or timestamp (both required by the EVE schema)');
      return;
    }
    if (r.event_type !== 'alert') {
      this.res.skipped[r.event_type] = (this.res.skipped[r.event_type] ?? 0) + 1;
      return;
    }
    const bad = badField(r, EVE_FIELDS) ?? (typeOf(r.alert) === 'object' ? badField(r.alert as Record<string, unknown>, EVE_ALERT_FIELDS, 'alert.') : 'no alert object')
      ?? (r.tunnel !== undefined ? badField(r.tunnel as Record<string, unknown>, EVE_TUNNEL_FIELDS, 'tunnel.') : null);
    if (bad) {
      this.warn(line, `alert left out: ${bad}`);
      return;
    }
    const ts = eveTimestamp(r.timestamp);
    if (ts === null) {
      this.warn(line, `alert left out: timestamp ${JSON.stringify(r.timestamp)} is not in the EVE format`);
      return;
    }
    const a = r.alert as Record<string, unknown>;
    if (a.signature_id === undefined || typeof r.src_ip !== 'string' || typeof r.dest_ip !== 'string') {
      this.warn(line, 'alert left out: it needs alert.signature_id, src_ip and dest_ip');
      return;
    }
    const t = r.tunnel as Record<string, unknown> | undefined;
    this.res.alerts.push({
      line,
      ts,
      signatureId: a.signature_id as number,
      signature: (a.signature as string | undefined) ?? '',
      category: (a.category as string | undefined) ?? '',
      severity: (a.severity as number | undefined) ?? null,
      srcIp: canonicalIp(r.src_ip),
      srcPort: (r.src_port as number | undefined) ?? null,
      dstIp: canonicalIp(r.dest_ip),
      dstPort: (r.dest_port as number | undefined) ?? null,
      proto: typeof r.proto === 'string' ? r.proto.toUpperCase() : '',
      communityId: (r.community_id as string | undefined) ?? null,
      direction: (r.direction as string | undefined) ?? null,
      tunnel: t ? { srcIp: typeof t.src_ip === 'string' ? canonicalIp(t.src_ip) : null, dstIp: typeof t.dest_ip === 'string' ? canonicalIp(t.dest_ip) : null } : null,
    });
  }
}

/** Parses EVE text. Never throws: bad lines become warnings. */
export function parseEve(text: string): EveReadResult {
  return new EveParser().push(text).end();
}

const READ_CHUNK = 1 << 20;

/** Reads an eve.json file piecewise (any size). Throws only when the file cannot be read. */
export function readEveFile(path: string): EveReadResult {
  const fd = openSync(path, 'r');
  try {
    const parser = new EveParser();
    const decoder = new StringDecoder('utf8');
    const buf = Buffer.alloc(READ_CHUNK);
    for (let n = readSync(fd, buf, 0, READ_CHUNK, null); n > 0; n = readSync(fd, buf, 0, READ_CHUNK, null)) parser.push(decoder.write(buf.subarray(0, n)));
    parser.push(decoder.end());
    return parser.end();
  } finally {
    closeSync(fd);
  }
}

// ---------------------------------------------------------------- join

interface Endpoint { ip: string; port: number }

/** The `connections[]` fields the join reads. */
export interface JoinConnection {
  id: number;
  transport: string;
  client: Endpoint;
  server: Endpoint;
  firstTs: number;
  lastTs: number;
  tunnel?: { type: string; id: number | null }[];
  communityId?: string | null;
}

/** The report's `tunnels[]` (tap sources with their outer addresses). */
export interface JoinTunnel {
  type: string;
  id: number | null;
  outerSrc: string | null;
  outerDst: string | null;
}

/** One entry of the report's `alerts` array (README); the API's AlertRow. */
export type AlertJson = AlertRow;

const tupleKey = (proto: string, a: string, ap: number, b: string, bp: number): string => {
  const aFirst = a < b || (a === b && ap <= bp);
  return aFirst ? `${proto}|${a}|${ap}|${b}|${bp}` : `${proto}|${b}|${bp}|${a}|${ap}`;
};

/** How far outside a connection's time span an instant is (0 inside). */
const distance = (c: JoinConnection, ts: number) => (ts < c.firstTs ? c.firstTs - ts : ts > c.lastTs ? ts - c.lastTs : 0);

/** Joins alerts to connections. Linear in alerts + connections. */
export function joinAlerts(alerts: EveAlert[], connections: JoinConnection[], tunnels: JoinTunnel[] = []): AlertJson[] {
  const byTuple = new Map<string, JoinConnection[]>();
  const byCid = new Map<string, JoinConnection[]>();
  const add = (m: Map<string, JoinConnection[]>, k: string, c: JoinConnection) => {
    const l = m.get(k);
    if (l) l.push(c);
    else m.set(k, [c]);
  };
  for (const c of connections) {
    add(byTuple, tupleKey(c.transport.toUpperCase(), c.client.ip, c.client.port, c.server.ip, c.server.port), c);
    if (c.communityId) add(byCid, c.communityId, c);
  }
  // Outer address pairs of each tunnel (type, id), both orientations.
  const outer = new Map<string, Set<string>>();
  for (const t of tunnels) {
    if (!t.outerSrc || !t.outerDst) continue;
    const k = `${t.type}:${t.id ?? ''}`;
    if (!outer.has(k)) outer.set(k, new Set());
    outer.get(k)!.add(`${t.outerSrc}|${t.outerDst}`).add(`${t.outerDst}|${t.outerSrc}`);
  }
  const viaTunnel = (c: JoinConnection, a: EveAlert): boolean => {
    if (!a.tunnel) return true;
    if (!c.tunnel || c.tunnel.length === 0) return false;
    if (!a.tunnel.srcIp || !a.tunnel.dstIp) return true;
    return c.tunnel.some((t) => outer.get(`${t.type}:${t.id ?? ''}`)?.has(`${a.tunnel!.srcIp}|${a.tunnel!.dstIp}`));
  };
  const nearest = (cands: JoinConnection[] | undefined, a: EveAlert): JoinConnection | null => {
    let best: JoinConnection | null = null;
    let bestD = Infinity;
    for (const c of cands ?? []) {
      const d = distance(c, a.ts);
      if (d <= JOIN_SLACK_SECONDS && d < bestD && viaTunnel(c, a)) {
        best = c;
        bestD = d;
      }
    }
    return best;
  };
  return alerts.map((a) => {
    let conn: JoinConnection | null = null;
    if (a.communityId) conn = nearest(byCid.get(a.communityId), a);
    if (!conn && a.srcPort !== null && a.dstPort !== null) conn = nearest(byTuple.get(tupleKey(a.proto, a.srcIp, a.srcPort, a.dstIp, a.dstPort)), a);
    return {
      signatureId: a.signatureId,
      signature: a.signature,
      category: a.category,
      severity: a.severity,
      ts: a.ts,
      src: { ip: a.srcIp, port: a.srcPort },
      dst: { ip: a.dstIp, port: a.dstPort },
      proto: a.proto,
      communityId: a.communityId ?? conn?.communityId ?? null,
      connectionId: conn ? conn.id : null,
    };
  });
}
