import type { ConnectionTable } from '../analysis/connections.js';
import type { ConnectionFacts } from '../analysis/findings.js';
import { handshakeRtt, synRetries, tcpCount, tcpState } from '../analysis/tcp-report.js';
import type { Endpoint } from '../analysis/types.js';
import type { FlowTable } from '../flows/flow-table.js';

/**
 * The TCP fields the findings read (analysis/findings.ts ConnectionFacts), one typed
 * column each, indexed by connection number: what the split analysis's transport thread
 * (which ran the TCP analyser) hands the application thread (which builds the findings).
 * About 30 bytes a connection; the buffers are transferred, not copied.
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

/** The TCP facts of every connection of `table` (UDP rows: state 'open', zero counts, no RTT), as ConnectionTable.facts() gives them. */
export function tcpFactColumns(table: ConnectionTable): TcpFactColumns {
  const n = table.count;
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
  const t = table.tcp?.table;
  if (!t) return cols;
  const codes = new Map<string, number>([['open', 0]]);
  for (let c = 0; c < n; c++) {
    if (table.flows.isTcp[c] !== 1) continue;
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
 * `tcp`: views that read the columns when a field is asked for, as ConnectionTable.facts().
 */
export function factsFromColumns(flows: FlowTable, tcp: TcpFactColumns): ConnectionFacts[] {
  const endpoints = new Map<number, Endpoint>();
  const server = (c: number): Endpoint => {
    const k = flows.serverAddr[c] * 65536 + flows.serverPort[c];
    let e = endpoints.get(k);
    if (!e) endpoints.set(k, (e = { ip: flows.addrs[flows.serverAddr[c]], port: flows.serverPort[c] }));
    return e;
  };
  const out: ConnectionFacts[] = new Array(flows.count);
  for (let c = 0; c < flows.count; c++) out[c] = new ColumnTcpFacts(flows, tcp, server, c);
  return out;
}

class ColumnTcpFacts implements ConnectionFacts {
  constructor(
    private readonly f: FlowTable,
    private readonly t: TcpFactColumns,
    private readonly serverOf: (c: number) => Endpoint,
    readonly id: number,
  ) {}

  get transport(): string { return this.f.isTcp[this.id] ? 'tcp' : 'udp'; }
  get client(): Endpoint { return { ip: this.f.addrs[this.f.clientAddr[this.id]], port: this.f.clientPort[this.id] }; }
  get server(): Endpoint { return this.serverOf(this.id); }
  get firstTs(): number { return this.f.firstTs[this.id]; }
  get lastTs(): number { return this.f.lastTs[this.id]; }
  get packets(): number { return this.f.packetsOf(this.id); }
  get payloadBytes(): number { return this.f.payloadBytes[this.id]; }
  get state(): string { return this.t.states[this.t.state[this.id]]; }
  get retransmissions(): number { return this.t.retransmissions[this.id]; }
  get lostSegments(): number { return this.t.lostSegments[this.id]; }
  get ackedUnseen(): number { return this.t.ackedUnseen[this.id]; }
  get zeroWindows(): number { return this.t.zeroWindows[this.id]; }
  get synRetries(): number { return this.t.synRetries[this.id]; }
  get handshakeRtt(): number | null { const v = this.t.handshakeRtt[this.id]; return Number.isNaN(v) ? null : v; }
}
