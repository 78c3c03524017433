import type { Frame } from '../decode/frame.js';
import { FlowTable, type FlowContext } from '../flows/flow-table.js';
import { TcpAnalyzer } from './tcp-analyzer.js';
import { handshakeRtt, synRetries, tcpCount, tcpState, tcpSummary } from './tcp-report.js';
import type { ConnectionFacts } from './findings.js';
import type { Connection, Endpoint } from './types.js';
import type { TcpTable } from '../flows/tcp-state.js';

/**
 * The conversation table: the flow table (identity and counters in columns, see
 * flows/flow-table.ts) with the TCP analyser plugged in (its state in columns too). The
 * report and the API read the columns; `connection(id)` builds one connection as a value.
 */
export class ConnectionTable {
  readonly flows: FlowTable;

  constructor(readonly tcp: TcpAnalyzer | null = new TcpAnalyzer()) {
    this.flows = new FlowTable(tcp);
  }

  lookup(f: Frame): FlowContext {
    return this.flows.lookup(f);
  }

  get count(): number {
    return this.flows.count;
  }

  /** Connection `id` with its TCP results, built now (a value: later packets do not change it). */
  connection(id: number): Connection {
    const c = this.flows.view(id);
    if (this.tcp && this.flows.isTcp[id]) c.tcp = tcpSummary(this.tcp.table, id);
    return c;
  }

  /**
   * What the findings rules read of every connection (analysis/findings.ts ConnectionFacts):
   * one small view per connection that reads the columns when a field is asked for (no copy
   * of the fields); server endpoints are shared per address and port.
   */
  facts(): ConnectionFacts[] {
    const src = new FactSource(this.flows, this.tcp?.table ?? null);
    const out: ConnectionFacts[] = new Array(this.flows.count);
    for (let c = 0; c < this.flows.count; c++) out[c] = new ColumnFacts(src, c);
    return out;
  }

  /**
   * Every connection as a value (tests, small captures; the report reads the columns
   * instead). The list is kept until the table sees another packet.
   */
  get all(): Connection[] {
    if (this.allAt === this.flows.lookups && this.allList) return this.allList;
    const out: Connection[] = [];
    for (let i = 0; i < this.flows.count; i++) out.push(this.connection(i));
    this.allList = out;
    this.allAt = this.flows.lookups;
    return out;
  }

  private allList: Connection[] | null = null;
  private allAt = -1;
}

/** The columns a ColumnFacts reads, and the shared server endpoints. */
class FactSource {
  private readonly endpoints = new Map<number, Endpoint>();

  constructor(readonly f: FlowTable, readonly t: TcpTable | null) {}

  isTcp(c: number): boolean {
    return this.t !== null && this.f.isTcp[c] === 1;
  }

  server(c: number): Endpoint {
    const k = this.f.serverAddr[c] * 65536 + this.f.serverPort[c];
    let e = this.endpoints.get(k);
    if (!e) this.endpoints.set(k, (e = { ip: this.f.addrs[this.f.serverAddr[c]], port: this.f.serverPort[c] }));
    return e;
  }
}

/** One connection's ConnectionFacts, read from the flow and TCP columns on each access. */
class ColumnFacts implements ConnectionFacts {
  constructor(private readonly src: FactSource, readonly id: number) {}
  get transport(): string { return this.src.f.isTcp[this.id] ? 'tcp' : 'udp'; }
  get client(): Endpoint { const f = this.src.f; return { ip: f.addrs[f.clientAddr[this.id]], port: f.clientPort[this.id] }; }
  get server(): Endpoint { return this.src.server(this.id); }
  get firstTs(): number { return this.src.f.firstTs[this.id]; }
  get lastTs(): number { return this.src.f.lastTs[this.id]; }
  get packets(): number { return this.src.f.packetsOf(this.id); }
  get payloadBytes(): number { return this.src.f.payloadBytes[this.id]; }
  get state(): string { return this.src.isTcp(this.id) ? tcpState(this.src.t!, this.id) : 'open'; }
  get retransmissions(): number { return this.src.isTcp(this.id) ? tcpCount(this.src.t!, this.id, 'Retransmission') : 0; }
  get lostSegments(): number { return this.src.isTcp(this.id) ? tcpCount(this.src.t!, this.id, 'LostSegment') : 0; }
  get ackedUnseen(): number { return this.src.isTcp(this.id) ? tcpCount(this.src.t!, this.id, 'AckedUnseen') : 0; }
  get zeroWindows(): number { return this.src.isTcp(this.id) ? tcpCount(this.src.t!, this.id, 'ZeroWindow') : 0; }
  get synRetries(): number { return this.src.isTcp(this.id) ? synRetries(this.src.t!, this.id) : 0; }
  get handshakeRtt(): number | null { return this.src.isTcp(this.id) ? handshakeRtt(this.src.t!, this.id) : null; }
}
