import { basename } from 'node:path';
import type {
  AlertRow, ConnectionQuery, ConnectionRow, DnsRow, FileSummary, FindingRow, HttpRow, Page, Progress, QuicRow, SessionState, TableQuery,
  Timeline, TlsRow, TunnelRow, ViewFilter,
} from '../../preload/api.js';
import type { AnalysisReport } from '../engine/report.js';
import type { CaptureInterface } from '../pcap/record.js';
import type { IndexSlice, WorkerMessage } from '../engine/analyze-worker.js';
import { PacketIndex } from '../engine/packet-index.js';
import { ioGraphBins, type IoBins } from './io-graph.js';
import { TcpA } from '../analysis/tcp-flags.js';
import { connectionRowOf, dnsRow, endpointText, findingRow, quicRow, tlsRow, tunnelKey } from './rows.js';
import { connectionJson } from '../analysis/connection-json.js';
import { ConnectionStore } from '../engine/connection-columns.js';
import { connectionCommunityId } from '../flows/community-id.js';
import { applyItemsDelta } from '../engine/session-deltas.js';
import { HttpTable } from './http-table.js';

type Obj = Record<string, unknown>;

const ANY_CONNECTION: Obj = Object.freeze({ state: null });

/**
 * Everything the service knows about one opened capture: the report (growing while the
 * file is read), the packet index, and the rows derived from them. Queries (filter, sort,
 * page) run here; the sorted/filtered id list of the last query is cached so scrolling a
 * 100,000-row table only slices it.
 */
export class SessionData {
  state: SessionState = 'opening';
  message: string | null = null;
  format: 'pcap' | 'pcapng' | null = null;
  size = 0;
  bytesRead = 0;
  packets = 0;
  interfaces: CaptureInterface[] = [];
  readonly index = new PacketIndex();
  report: AnalysisReport | null = null;
  /** Every connection's latest compact row (grows by deltas while reading). */
  readonly connections = new ConnectionStore();

  /**
   * Transitional, for callers not yet moved to `connections` (service.ts summary): one
   * entry per connection id, each a stand-in carrying only `state`; use connectionRows()
   * or rawConnection(id) for real data.
   */
  get rawConnections(): Obj[] {
    return new Array<Obj>(this.connections.count).fill(ANY_CONNECTION);
  }
  /** Sites and QUIC conversations by connection id, for the version they were read at. */
  private siteCache: { version: number; sites: Map<number, string>; quic: Set<number> } | null = null;
  /** HTTP rows, built per page from the exchange store once a file is read. */
  private readonly httpTable = new HttpTable();
  private dnsRows: DnsRow[] = [];
  private tlsRows: TlsRow[] = [];
  private quicRows: QuicRow[] = [];
  /** Community IDs by connection id, computed once. */
  private readonly communityIds: (string | null)[] = [];
  private findingRows: FindingRow[] = [];
  /** Tap sources of a live capture so far (the report's once it ends). */
  private liveTunnels: AnalysisReport['tunnels'] = [];
  /** Bumped on every change; query caches key on it. */
  version = 0;
  private cache = new Map<string, { version: number; ids: number[] }>();

  constructor(readonly id: string, readonly path: string) {}

  get name(): string {
    return basename(this.path);
  }

  apply(m: WorkerMessage): void {
    this.version++;
    if (m.type === 'opened') {
      this.format = m.format;
      this.size = m.size;
    } else if (m.type === 'batch') {
      this.bytesRead = m.bytesRead;
      this.size = m.size;
      this.packets = m.packets;
      this.interfaces = m.interfaces;
      this.connections.apply(m.connections);
      this.appendIndex(m.index);
      if (m.app) {
        this.liveTunnels = m.app.tunnels;
        // Deltas (engine/session-deltas.ts): only new elements and those whose connection moved.
        this.httpTable.applyDelta(m.app.http);
        applyItemsDelta(this.dnsRows, m.app.dns, dnsRow);
        applyItemsDelta(this.tlsRows, m.app.tls, tlsRow);
        applyItemsDelta(this.quicRows, m.app.quic, quicRow);
      }
    } else if (m.type === 'done') {
      this.report = m.report;
      this.interfaces = m.interfaces;
      // The batches carried every connection: the report's array is built from the rows
      // only if someone reads it (tests, exports); nothing here needs it.
      if (m.connectionsInBatches) {
        const store = this.connections;
        Object.defineProperty(m.report, 'connections', {
          enumerable: true,
          configurable: true,
          get: () => {
            const all: unknown[] = [];
            for (let i = 0; i < store.count; i++) {
              const c = store.connection(i);
              if (c) all.push(connectionJson(c));
            }
            return all;
          },
        });
      }
      this.packets = m.report.file.packets;
      this.bytesRead = this.size;
      if (m.httpStore) {
        // The report's http array was left out: the store carries it, and the array is
        // built only if someone reads it (tests, exports).
        this.httpTable.setStore(m.httpStore);
        const table = this.httpTable;
        Object.defineProperty(m.report, 'http', {
          enumerable: true,
          configurable: true,
          get: () => Array.from({ length: table.length }, (_, i) => table.json(i)),
        });
      } else this.httpTable.setJson(m.report.http as Obj[]);
      this.dnsRows = (m.report.dns as Obj[]).map(dnsRow);
      this.tlsRows = (m.report.tls as Obj[]).map(tlsRow);
      this.quicRows = ((m.report.quic ?? []) as Obj[]).map(quicRow);
      this.findingRows = (m.report.findings as Obj[]).map(findingRow);
      this.state = m.cancelled ? 'cancelled' : m.damaged ? 'damaged' : 'ready';
      this.message = m.cancelled ? 'Reading was cancelled: the results cover the part read.' : m.damaged ? `The file is damaged: ${m.damaged}. The results cover the packets before the damage.` : null;
    } else if (m.type === 'failed') {
      this.state = 'failed';
      this.message = m.message;
    }
  }

  /** Wire bytes of the packets indexed so far (the report's total once reading ends). */
  private wireBytes = 0;

  private appendIndex(s: IndexSlice): void {
    const ix = this.index;
    for (let i = 0; i < s.ts.length; i++) {
      ix.push(s.fileOffset[i], s.ts[i], s.connId[i], s.flags[i], s.wireLen[i], s.dir[i]);
      this.wireBytes += s.wireLen[i];
    }
  }

  progress(): Progress {
    return {
      sessionId: this.id, state: this.state, bytesRead: this.bytesRead, size: this.size, packets: this.packets,
      connections: this.connections.count, message: this.message,
    };
  }

  file(): FileSummary {
    const f = this.report?.file;
    return {
      path: this.path,
      format: this.format,
      linkTypes: f?.linkTypes ?? [...new Set(this.interfaces.map((i) => i.linkType))],
      packets: this.packets,
      bytes: f?.bytes ?? this.wireBytes,
      firstTs: f?.firstTs ?? (this.index.length ? this.index.ts[0] : null),
      lastTs: f?.lastTs ?? (this.index.length ? this.index.ts[this.index.length - 1] : null),
      interfaces: this.interfaces.map((i) => ({ id: i.id, linkType: i.linkType, name: i.name, description: i.description })),
      comments: f?.comments ?? [],
    };
  }

  // ---- rows ----------------------------------------------------------------------------

  /** Site (HTTP Host, TLS SNI, QUIC SNI) and QUIC conversations by connection id, once per version. */
  private siteInfo(): { sites: Map<number, string>; quic: Set<number> } {
    if (this.siteCache && this.siteCache.version === this.version) return this.siteCache;
    const sites = new Map<number, string>();
    const http = this.httpTable;
    for (let i = 0; i < http.length; i++) {
      const h = http.leanRow(i);
      if (h.host && !sites.has(h.connectionId)) sites.set(h.connectionId, h.host);
    }
    for (const t of this.tlsRows) if (t.sni) sites.set(t.connectionId, t.sni);
    // A UDP conversation carrying QUIC is shown as transport "quic" with its SNI as site.
    const quic = new Set<number>();
    for (const q of this.quicRows) {
      quic.add(q.connectionId);
      if (q.sni && !sites.has(q.connectionId)) sites.set(q.connectionId, q.sni);
    }
    this.siteCache = { version: this.version, sites, quic };
    return this.siteCache;
  }

  /** Connection `id`'s table row, built from the compact columns (null: no row arrived for it). */
  private buildConnectionRow(id: number, info: { sites: Map<number, string>; quic: Set<number> }): ConnectionRow | null {
    const c = this.connections.connection(id);
    if (!c) return null;
    // Community ID (SHA-1) once per connection: rows are built again for every query.
    const cid = this.communityIds[id] ??= connectionCommunityId(c);
    const row = connectionRowOf(c, info.sites.get(id) ?? null, cid);
    if (info.quic.has(id)) row.transport = 'quic';
    return row;
  }

  /**
   * Every connection's row, one at a time (issue 10: none is kept; a query keeps only the
   * sorted ids, a page builds its own rows).
   */
  *eachConnectionRow(): Generator<ConnectionRow> {
    const info = this.siteInfo();
    for (let i = 0; i < this.connections.count; i++) {
      const row = this.buildConnectionRow(i, info);
      if (row) yield row;
    }
  }

  /** Every connection's row as an array (exports); queries use eachConnectionRow. */
  connectionRows(): ConnectionRow[] {
    return [...this.eachConnectionRow()];
  }

  /** IDS alerts joined to a connection (the report's `alerts`, once the analysis is done). */
  alertsOf(connectionId: number): AlertRow[] {
    return ((this.report?.alerts ?? []) as AlertRow[]).filter((a) => a.connectionId === connectionId);
  }

  /** A row by connection id (ids are dense from 0). */
  connectionRowById(id: number): ConnectionRow | null {
    return this.buildConnectionRow(id, this.siteInfo());
  }

  rawConnection(id: number): Obj | null {
    const c = this.connections.connection(id);
    return c ? connectionJson(c) : null;
  }

  httpCount(): number { return this.httpTable.length; }
  /** The HTTP rows of one connection. */
  httpOf(connectionId: number): HttpRow[] {
    const out: HttpRow[] = [];
    const http = this.httpTable;
    for (let i = 0; i < http.length; i++) if (http.leanRow(i).connectionId === connectionId) out.push(http.row(i));
    return out;
  }
  dns(): DnsRow[] { return this.dnsRows; }
  tls(): TlsRow[] { return this.tlsRows; }
  quic(): QuicRow[] { return this.quicRows; }
  findings(): FindingRow[] { return this.findingRows; }

  tunnels(): TunnelRow[] {
    return (this.report?.tunnels ?? this.liveTunnels).map((t) => ({ key: tunnelKey(t), type: t.type, id: t.id, outerSrc: t.outerSrc, outerDst: t.outerDst, packets: t.packets }));
  }

  // ---- filters -------------------------------------------------------------------------

  /** Connection ids allowed by the tunnel and evidence parts of a view filter (null: all). */
  private allowedConnections(f: ViewFilter | undefined): Set<number> | null {
    if (!f) return null;
    let set: Set<number> | null = f.connectionIds ? new Set(f.connectionIds) : null;
    if (f.tunnel) {
      const t = new Set<number>();
      for (const r of this.eachConnectionRow()) {
        const match = f.tunnel === 'none' ? r.tunnel.length === 0 : r.tunnel.some((x) => tunnelKey(x) === f.tunnel);
        if (match && (!set || set.has(r.id))) t.add(r.id);
      }
      set = t;
    }
    return set;
  }

  private inTime(f: ViewFilter | undefined, from: number, to: number): boolean {
    if (!f) return true;
    if (typeof f.timeFrom === 'number' && to < f.timeFrom) return false;
    if (typeof f.timeTo === 'number' && from > f.timeTo) return false;
    return true;
  }

  private cached(kind: string, q: object, build: () => number[]): number[] {
    const { offset: _o, limit: _l, ...rest } = q as { offset?: number; limit?: number };
    const key = kind + JSON.stringify(rest);
    const hit = this.cache.get(key);
    if (hit && hit.version === this.version) return hit.ids;
    const ids = build();
    if (this.cache.size > 16) this.cache.clear();
    this.cache.set(key, { version: this.version, ids });
    return ids;
  }

  queryConnections(q: ConnectionQuery): Page<ConnectionRow> {
    let unfiltered = 0;
    for (let i = 0; i < this.connections.count; i++) if (this.connections.has(i)) unfiltered++;
    const key = q.sortKey ?? 'id';
    const ids = this.cached('c', q, () => {
      const allowed = this.allowedConnections(q.filter);
      const text = q.text?.trim().toLowerCase() || null;
      const host = q.host?.trim().toLowerCase() || null;
      const kept: number[] = [];
      const values: unknown[] = [];
      for (const r of this.eachConnectionRow()) {
        if (allowed && !allowed.has(r.id)) continue;
        if (!this.inTime(q.filter, r.firstTs, r.lastTs)) continue;
        // QUIC conversations are UDP too: "udp" keeps them, "quic" keeps only them.
        if (q.transport && r.transport !== q.transport && !(q.transport === 'udp' && r.transport === 'quic')) continue;
        if (q.problemsOnly && r.problems === 0) continue;
        if (q.state && r.state !== q.state) continue;
        if (q.port != null && r.client.port !== q.port && r.server.port !== q.port) continue;
        if (host && !(r.client.ip.toLowerCase().includes(host) || r.server.ip.toLowerCase().includes(host) || (r.site ?? '').toLowerCase().includes(host))) continue;
        if (text && !connectionText(r).includes(text)) continue;
        kept.push(r.id);
        values.push(sortValue(r, key));
      }
      return sortedOrder(values, q.sortDir ?? 'asc').map((k) => kept[k]);
    });
    const info = this.siteInfo();
    const page = ids.slice(q.offset, q.offset + q.limit);
    return { offset: q.offset, total: ids.length, unfiltered, rows: page.map((id) => this.buildConnectionRow(id, info)!) };
  }

  /**
   * Filter, sort and page a table of `all` rows (an array, or a row source with `length`,
   * `row(i)` and `leanRow(i)` for filtering and sorting without the heavy fields): only the
   * page's rows are built; the sorted ids are cached per query.
   */
  private queryTable<T extends { index: number }>(kind: string, all: T[] | RowSource<T>, q: TableQuery, keep: (r: T, allowed: Set<number> | null) => boolean, text: (r: T) => string): Page<T> {
    const src: RowSource<T> = Array.isArray(all) ? { length: all.length, row: (i) => all[i], leanRow: (i) => all[i] } : all;
    const key = q.sortKey ?? 'index';
    // Sorting by a header list needs the lists (no lean row has them).
    const read = /Headers$/.test(key) ? (i: number) => src.row(i) : (i: number) => src.leanRow(i);
    const ids = this.cached(kind, q, () => {
      const allowed = this.allowedConnections(q.filter);
      const t = q.text?.trim().toLowerCase() || null;
      const kept: number[] = [];
      const values: unknown[] = [];
      for (let i = 0; i < src.length; i++) {
        const r = read(i);
        if (!keep(r, allowed) || (t && !text(r).toLowerCase().includes(t))) continue;
        kept.push(r.index);
        values.push(sortValue(r, key));
      }
      return sortedOrder(values, q.sortDir ?? 'asc').map((k) => kept[k]);
    });
    return { offset: q.offset, total: ids.length, unfiltered: src.length, rows: ids.slice(q.offset, q.offset + q.limit).map((i) => src.row(i)) };
  }

  queryHttp(q: TableQuery): Page<HttpRow> {
    return this.queryTable('h', this.httpTable, q,
      (r, allowed) => (!allowed || allowed.has(r.connectionId)) && this.inTime(q.filter, r.requestTs, r.requestTs + (r.duration ?? 0)),
      (r) => `${r.method} ${r.host ?? ''} ${r.uri} ${r.status ?? ''} ${r.contentType ?? ''}`);
  }

  queryDns(q: TableQuery): Page<DnsRow> {
    const byEndpoints = this.dnsConnectionMap();
    return this.queryTable('d', this.dnsRows, q,
      (r, allowed) => (!allowed || allowed.has(byEndpoints.get(`${r.client}|${r.server}`) ?? -1)) && this.inTime(q.filter, r.queryTs, r.queryTs + (r.responseTime ?? 0)),
      (r) => `${r.qname} ${r.qtype} ${r.client} ${r.server} ${r.answers.join(' ')}`);
  }

  private dnsConnectionMap(): Map<string, number> {
    const m = new Map<string, number>();
    for (const r of this.eachConnectionRow()) m.set(`${endpointText(r.client)}|${endpointText(r.server)}`, r.id);
    return m;
  }

  queryQuic(q: TableQuery): Page<QuicRow> {
    return this.queryTable('q', this.quicRows, q,
      (r, allowed) => {
        const c = this.connections.connection(r.connectionId);
        return (!allowed || allowed.has(r.connectionId)) && (!c || this.inTime(q.filter, c.firstTs, c.lastTs));
      },
      (r) => `${r.sni ?? ''} ${r.alpn.join(' ')} ${r.version} ${r.state} ${r.closeError ?? ''} ${r.cipher ?? ''}`);
  }

  queryTls(q: TableQuery): Page<TlsRow> {
    return this.queryTable('t', this.tlsRows, q,
      (r, allowed) => {
        const c = this.connections.connection(r.connectionId);
        return (!allowed || allowed.has(r.connectionId)) && (!c || this.inTime(q.filter, c.firstTs, c.lastTs));
      },
      (r) => `${r.sni ?? ''} ${r.alpn.join(' ')} ${r.version ?? ''} ${r.alert ?? ''} ${r.certificate?.subject ?? ''}`);
  }

  queryFindings(q: TableQuery): Page<FindingRow> {
    const indexed = this.findingRows.map((f, index) => ({ ...f, index }));
    const page = this.queryTable('f', indexed, { ...q, sortKey: q.sortKey ?? 'index' },
      (r, allowed) => (!allowed || r.connectionIds.length === 0 || r.connectionIds.some((id) => allowed.has(id))) && this.inTime(q.filter, r.firstTs ?? -Infinity, r.lastTs ?? Infinity),
      (r) => `${r.summary} ${r.kind} ${r.site ?? ''} ${r.server ?? ''}`);
    return { ...page, rows: page.rows.map(({ index: _i, ...f }) => f) };
  }

  /** Indices (into the packet index) of packets matching a query, in capture order. */
  packetIndices(q: { connectionId?: number | null; flaggedOnly?: boolean; filter?: ViewFilter }): number[] {
    return this.cached('p', q, () => {
      const ix = this.index;
      const allowed = this.allowedConnections(q.filter);
      const from = q.filter?.timeFrom ?? -Infinity;
      const to = q.filter?.timeTo ?? Infinity;
      const out: number[] = [];
      const cid = q.connectionId ?? null;
      for (let i = 0; i < ix.length; i++) {
        const c = ix.connId[i];
        if (cid !== null && c !== cid) continue;
        if (allowed && !allowed.has(c)) continue;
        const t = ix.ts[i];
        if (t < from || t > to) continue;
        if (q.flaggedOnly && ix.flags[i] === 0) continue;
        out.push(i);
      }
      return out;
    });
  }

  /**
   * The I/O graph of the packets the view filter keeps (connections of the tap source or
   * evidence, the time range), or of `indices` (already display-filtered), over the capture.
   */
  ioGraph(interval: number | null, f: ViewFilter | undefined, indices: ArrayLike<number> | null = null): IoBins {
    const ix = this.index;
    const file = this.file();
    const allowed = this.allowedConnections(f);
    const from = f?.timeFrom ?? -Infinity;
    const to = f?.timeTo ?? Infinity;
    const first = file.firstTs ?? 0;
    return ioGraphBins(ix, first, file.lastTs ?? first, interval,
      (i) => (!allowed || allowed.has(ix.connId[i])) && ix.ts[i] >= from && ix.ts[i] <= to, indices);
  }

  /** Packets/s, retransmissions/s and failures/s over the whole capture (the brush needs it all). */
  timeline(buckets: number, f: ViewFilter | undefined): Timeline {
    const ix = this.index;
    const file = this.file();
    const start = file.firstTs ?? 0;
    const end = Math.max(file.lastTs ?? start, start + 1e-3);
    const n = Math.max(1, Math.min(buckets, 2000));
    const step = (end - start) / n;
    const packets = new Array<number>(n).fill(0);
    const retrans = new Array<number>(n).fill(0);
    const failures = new Array<number>(n).fill(0);
    const bucket = (t: number): number => Math.min(n - 1, Math.max(0, Math.floor((t - start) / step)));
    const allowed = this.allowedConnections(f ? { tunnel: f.tunnel, connectionIds: f.connectionIds } : undefined);
    for (let i = 0; i < ix.length; i++) {
      if (allowed && !allowed.has(ix.connId[i])) continue;
      const b = bucket(ix.ts[i]);
      packets[b]++;
      const fl = ix.flags[i];
      if (fl & TcpA.Retransmission) retrans[b]++;
      if (fl & TcpA.Reset) failures[b]++;
    }
    for (let i = 0; i < this.httpTable.length; i++) {
      const h = this.httpTable.leanRow(i);
      if (allowed && !allowed.has(h.connectionId)) continue;
      if (h.status === null || h.status >= 500) failures[bucket(h.requestTs)]++;
    }
    for (const d of this.dnsRows) if (d.rcode === null || d.rcode !== 0) failures[bucket(d.queryTs)]++;
    for (const r of this.eachConnectionRow()) {
      if (allowed && !allowed.has(r.id)) continue;
      if (r.state === 'syn-unanswered' || r.state === 'refused') failures[bucket(r.firstTs)]++;
    }
    const perSec = (a: number[]): number[] => a.map((x) => x / step);
    return { start, step, packets: perSec(packets), retransmissions: perSec(retrans), failures: perSec(failures) };
  }
}

function connectionText(r: ConnectionRow): string {
  return `${r.client.ip}:${r.client.port} ${r.server.ip}:${r.server.port} ${r.site ?? ''} ${r.state ?? ''} ${r.transport} ${r.tunnel.map(tunnelKey).join(' ')} ${r.communityId ?? ''}`.toLowerCase();
}

function sortValue(r: object, key: string): unknown {
  const v = (r as Obj)[key];
  if (v && typeof v === 'object' && 'ip' in (v as Obj)) return endpointText(v);
  return v;
}

/** Rows by position, built on demand (HttpTable). */
interface RowSource<T> {
  readonly length: number;
  row(i: number): T;
  leanRow(i: number): T;
}

/** Positions of `values` in stable sorted order (nulls last in either direction). */
function sortedOrder(values: unknown[], dir: 'asc' | 'desc'): number[] {
  const sign = dir === 'desc' ? -1 : 1;
  const collator = new Intl.Collator('en', { numeric: true });
  const order = Array.from({ length: values.length }, (_, i) => i);
  return order.sort((a, b) => {
    const x = values[a];
    const y = values[b];
    const xn = x === null || x === undefined;
    const yn = y === null || y === undefined;
    if (xn || yn) return xn === yn ? 0 : xn ? 1 : -1;
    if (typeof x === 'number' && typeof y === 'number') return (x - y) * sign;
    return collator.compare(String(x), String(y)) * sign;
  });
}
