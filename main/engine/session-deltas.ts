import { encodeConnectionRows, rowBuffers, type ConnectionRows } from './connection-columns.js';
import { grown } from '../flows/columns.js';
import type { AnalysisSession } from './session.js';
import type { AnalysisReport } from './report.js';

/** A slice of the packet index, as transferable typed arrays. */
export interface IndexSlice {
  fileOffset: Float64Array;
  ts: Float64Array;
  connId: Int32Array;
  flags: Uint32Array;
  wireLen: Uint32Array;
  dir: Uint8Array;
}

/**
 * What changed in one of the application-layer arrays (`http`, `dns`, `tls`, `quic` of the
 * report): the elements added or changed since the previous delta, by index, and the
 * array's length.
 */
export interface ItemsDelta {
  length: number;
  /** [index, element JSON]: new elements, and earlier ones whose connection got packets since. */
  items: [number, unknown][];
}

/** The application layer and tap sources of a session while it is read, as deltas (applyItemsDelta). */
export interface AppSnapshot {
  tunnels: AnalysisReport['tunnels'];
  http: ItemsDelta;
  dns: ItemsDelta;
  tls: ItemsDelta;
  quic: ItemsDelta;
}

/** Applies an ItemsDelta to the receiver's copy of the array (rows built by `row`). */
export function applyItemsDelta<T>(rows: T[], d: ItemsDelta, row: (json: Record<string, unknown>, index: number) => T): T[] {
  rows.length = Math.min(rows.length, d.length);
  for (const [i, json] of d.items) rows[i] = row(json as Record<string, unknown>, i);
  return rows;
}

/** One application-layer array as SessionDeltas.app reads it. */
interface AppArray {
  count(): number;
  jsonAt(i: number): Record<string, unknown>;
  /** The connection whose packets change element `i` (default: its JSON's connectionId). */
  connectionOf?(i: number): number | null;
}

/**
 * Incremental sending of one array: new elements once; an element already sent again only
 * when its connection got packets (an exchange's response, a handshake's end, a DNS answer
 * change an element only on packets of its own connection). So a snapshot costs per new or
 * changed element, not per element ever seen.
 */
class AppArrayDeltas {
  private sent = 0;
  /** Elements sent, by connection. */
  private readonly byConn = new Map<number, number[]>();

  constructor(private readonly a: AppArray) {}

  next(changedConns: Set<number>): ItemsDelta {
    const items: [number, unknown][] = [];
    for (const c of changedConns) for (const i of this.byConn.get(c) ?? []) items.push([i, this.a.jsonAt(i)]);
    const n = this.a.count();
    for (let i = this.sent; i < n; i++) {
      const json = this.a.jsonAt(i);
      items.push([i, json]);
      const c = this.a.connectionOf ? this.a.connectionOf(i) : json.connectionId;
      if (typeof c !== 'number') continue;
      const l = this.byConn.get(c);
      if (l) l.push(i);
      else this.byConn.set(c, [i]);
    }
    this.sent = n;
    return { length: n, items };
  }
}

export interface SessionDelta {
  /** Connections that got packets since the previous delta, as compact rows (engine/connection-columns.ts). */
  connections: ConnectionRows;
  /** Packet-index entries added since the previous delta. */
  index: IndexSlice;
  /** The slice's buffers, to transfer rather than copy between threads. */
  transfer: ArrayBuffer[];
}

/**
 * What changed in a session since the last call: the batched delta that file analysis
 * (engine/analyze-worker.ts) and live capture (capture/live-batches.ts) both send, so the
 * UI sees a capture growing the same way whichever the source.
 */
export class SessionDeltas {
  private sentIndex = 0;
  private sentPackets = new Uint32Array(1024);
  private sentAddrs = 0;
  private sentStacks = 0;
  /** Connections that got packets since the last app() delta. */
  private appChanged = new Set<number>();
  private readonly http: AppArrayDeltas;
  private readonly dns: AppArrayDeltas;
  private readonly tls: AppArrayDeltas;
  private readonly quic: AppArrayDeltas;

  /**
   * `drainIndex`: the session's packet index only buffers what the next delta sends (it is
   * emptied after each one), for a sender whose receiver keeps the whole index (the file
   * worker: one copy of it in the process, not two).
   */
  constructor(private session: AnalysisSession, private readonly drainIndex = false) {
    const app = session.app;
    this.http = new AppArrayDeltas({ count: () => app.http.store.count, jsonAt: (i) => app.http.jsonAt(i) });
    this.dns = new AppArrayDeltas({ count: () => app.dns.transactions.length, jsonAt: (i) => app.dns.jsonAt(i), connectionOf: (i) => app.dns.connectionOf(i) });
    this.tls = new AppArrayDeltas({ count: () => app.tls.handshakes.length, jsonAt: (i) => app.tls.jsonAt(i) });
    this.quic = new AppArrayDeltas({ count: () => app.quic.connections.length, jsonAt: (i) => app.quic.jsonAt(i) });
  }

  next(): SessionDelta {
    const table = this.session.connections;
    const flows = table.flows;
    const n = flows.count;
    if (n > this.sentPackets.length) this.sentPackets = grown(this.sentPackets, Math.max(n, this.sentPackets.length * 2));
    // Only the connections that got packets since the last delta, as compact rows.
    const changed: number[] = [];
    for (let i = 0; i < n; i++) {
      const p = flows.packetsOf(i);
      if (this.sentPackets[i] !== p) {
        this.sentPackets[i] = p;
        changed.push(i);
        this.appChanged.add(i);
      }
    }
    const connections = encodeConnectionRows(table, changed, this.sentAddrs, this.sentStacks);
    this.sentAddrs = flows.addrs.length;
    this.sentStacks = flows.stacks.length;
    const index = this.session.index;
    const from = this.sentIndex;
    const to = index ? index.length : 0;
    this.sentIndex = to;
    const slice: IndexSlice = {
      fileOffset: index ? index.fileOffset.slice(from, to) : new Float64Array(0),
      ts: index ? index.ts.slice(from, to) : new Float64Array(0),
      connId: index ? index.connId.slice(from, to) : new Int32Array(0),
      flags: index ? index.flags.slice(from, to) : new Uint32Array(0),
      wireLen: index ? index.wireLen.slice(from, to) : new Uint32Array(0),
      dir: index ? index.dir.slice(from, to) : new Uint8Array(0),
    };
    if (index && this.drainIndex) {
      index.length = 0;
      this.sentIndex = 0;
    }
    const transfer = [slice.fileOffset.buffer, slice.ts.buffer, slice.connId.buffer, slice.flags.buffer, slice.wireLen.buffer, slice.dir.buffer, ...rowBuffers(connections)] as ArrayBuffer[];
    return { connections, index: slice, transfer };
  }

  /**
   * HTTP exchanges, DNS transactions, TLS handshakes, QUIC connections (as deltas:
   * AppArrayDeltas) and tap sources, for views that must fill while a capture runs.
   * Findings wait for the end: mid-capture, an exchange in flight is not yet a request
   * without a response.
   */
  app(): AppSnapshot {
    const changed = this.appChanged;
    this.appChanged = new Set();
    return { tunnels: this.session.tunnels.summary(), http: this.http.next(changed), dns: this.dns.next(changed), tls: this.tls.next(changed), quic: this.quic.next(changed) };
  }
}
