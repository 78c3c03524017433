import type { ConnectionFacts } from './findings.js';
import { handshakeRtt, synRetries, tcpCount, tcpState } from './tcp-report.js';
import type { Endpoint } from './types.js';
import type { FlowTable } from '../flows/flow-table.js';
import type { TcpTable } from '../flows/tcp-state.js';

/**
 * What the findings rules read of every connection (findings.ts ConnectionFacts): the TCP
 * fields as one typed column each, indexed by connection number (about 30 bytes a
 * connection), and views over them and the flow table's columns. ConnectionTable.facts()
 * builds them; the split analysis's transport thread (which ran the TCP analyser) sends the
 * columns to the application thread (which builds the findings), buffers transferred.
 */
export interface TcpFactColumns {
  /** State names; `state` holds indexes into this list. */
  states: string[];
  state: Uint8Array;
  retransmissions: Uint32Array;
  lostSegments: Uint32Array;
  ackedUnseen: Uint32Array;
  zeroWindows: Uint32Array;
  synRetries: Uint32Array;
  /** Seconds; NaN where the handshake RTT is null. */
  handshakeRtt: Float64Array;
}

/** The TCP facts of every row of `flows` from the TCP analyser's table (UDP rows, or no table: state 'open', zero counts, no RTT). */
export function tcpFactColumns(flows: FlowTable, t: TcpTable | null): TcpFactColumns {
  const n = flows.count;
  const cols: TcpFactColumns = {
    states: ['open'],
    state: new Uint8Array(n),
    retransmissions: new Uint32Array(n),
    lostSegments: new Uint32Array(n),
    ackedUnseen: new Uint32Array(n),
    zeroWindows: new Uint32Array(n),
    synRetries: new Uint32Array(n),
    handshakeRtt: new Float64Array(n).fill(NaN),
  };
  if (!t) return cols;
  const codes = new Map<string, number>([['open', 0]]);
  for (let c = 0; c < n; c++) {
    if (flows.isTcp[c] !== 1) continue;
    const s = tcpState(t, c);
    let code = codes.get(s);
    if (code === undefined) {
      code = cols.states.length;
      cols.states.push(s);
      codes.set(s, code);
    }
    cols.state[c] = code;
    cols.retransmissions[c] = tcpCount(t, c, 'Retransmission');
    cols.lostSegments[c] = tcpCount(t, c, 'LostSegment');
    cols.ackedUnseen[c] = tcpCount(t, c, 'AckedUnseen');
    cols.zeroWindows[c] = tcpCount(t, c, 'ZeroWindow');
    cols.synRetries[c] = synRetries(t, c);
    cols.handshakeRtt[c] = handshakeRtt(t, c) ?? NaN;
  }
  return cols;
}

/** The buffers of `cols`, for postMessage's transfer list. */
export function tcpFactBuffers(cols: TcpFactColumns): ArrayBuffer[] {
  return [cols.state, cols.retransmissions, cols.lostSegments, cols.ackedUnseen, cols.zeroWindows, cols.synRetries, cols.handshakeRtt]
    .map((a) => a.buffer as ArrayBuffer);
}

/**
 * ConnectionFacts of every row of `flows` (identity and counters) with the TCP fields from
 * `tcp`: views that read the columns when a field is asked for; server endpoints shared per
 * address and port.
 */
export function factsFromColumns(flows: FlowTable, tcp: TcpFactColumns): ConnectionFacts[] {
  const src = new FactSource(flows, tcp);
  const out: ConnectionFacts[] = new Array(flows.count);
  for (let c = 0; c < flows.count; c++) out[c] = new ColumnTcpFacts(src, c);
  return out;
}

/** The columns the views read, and the server endpoints they share. */
class FactSource {
  private readonly endpoints = new Map<number, Endpoint>();

  constructor(readonly f: FlowTable, readonly t: TcpFactColumns) {}

  server(c: number): Endpoint {
    const f = this.f;
    const k = f.serverAddr[c] * 65536 + f.serverPort[c];
    let e = this.endpoints.get(k);
    if (!e) this.endpoints.set(k, (e = { ip: f.addrs[f.serverAddr[c]], port: f.serverPort[c] }));
    return e;
  }
}

/** One connection's facts, read from the columns on each access (two fields a connection). */
class ColumnTcpFacts implements ConnectionFacts {
  constructor(private readonly s: FactSource, readonly id: number) {}

  get transport(): string { return this.s.f.isTcp[this.id] ? 'tcp' : 'udp'; }
  get client(): Endpoint { const f = this.s.f; return { ip: f.addrs[f.clientAddr[this.id]], port: f.clientPort[this.id] }; }
  get server(): Endpoint { return this.s.server(this.id); }
  get firstTs(): number { return this.s.f.firstTs[this.id]; }
  get lastTs(): number { return this.s.f.lastTs[this.id]; }
  get packets(): number { return this.s.f.packetsOf(this.id); }
  get payloadBytes(): number { return this.s.f.payloadBytes[this.id]; }
  get state(): string { return this.s.t.states[this.s.t.state[this.id]]; }
  get retransmissions(): number { return this.s.t.retransmissions[this.id]; }
  get lostSegments(): number { return this.s.t.lostSegments[this.id]; }
  get ackedUnseen(): number { return this.s.t.ackedUnseen[this.id]; }
  get zeroWindows(): number { return this.s.t.zeroWindows[this.id]; }
  get synRetries(): number { return this.s.t.synRetries[this.id]; }
  get handshakeRtt(): number | null { const v = this.s.t.handshakeRtt[this.id]; return Number.isNaN(v) ? null : v; }
}
