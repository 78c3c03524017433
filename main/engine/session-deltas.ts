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

/** The application layer and tap sources of a session so far (a live capture's view while it runs). */
export interface AppSnapshot {
  tunnels: AnalysisReport['tunnels'];
  http: unknown[];
  dns: unknown[];
  tls: unknown[];
  quic: unknown[];
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

  constructor(private session: AnalysisSession) {}

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
    const transfer = [slice.fileOffset.buffer, slice.ts.buffer, slice.connId.buffer, slice.flags.buffer, slice.wireLen.buffer, slice.dir.buffer, ...rowBuffers(connections)] as ArrayBuffer[];
    return { connections, index: slice, transfer };
  }

  /**
   * HTTP exchanges, DNS transactions, TLS handshakes and tap sources as they stand, for
   * views that must fill while a capture runs. Findings wait for the end: mid-capture, an
   * exchange in flight is not yet a request without a response.
   */
  app(): AppSnapshot {
    const s = this.session;
    return { tunnels: s.tunnels.summary(), http: s.app.http.json(), dns: s.app.dns.json(), tls: s.app.tls.json(), quic: s.app.quic.json() };
  }
}
