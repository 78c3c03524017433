import type { Frame } from '../decode/frame.js';
import { FlowTable, type FlowContext } from '../flows/flow-table.js';
import { TcpAnalyzer } from './tcp-analyzer.js';
import { synRetries, tcpCount, tcpState, tcpSummary } from './tcp-report.js';
import type { ConnectionFacts } from './findings.js';
import type { Connection, Endpoint } from './types.js';

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
   * What the findings rules read of every connection (analysis/findings.ts ConnectionFacts),
   * from the columns in one pass; endpoints are shared per address and port.
   */
  facts(): ConnectionFacts[] {
    const f = this.flows;
    const t = this.tcp?.table ?? null;
    const out: ConnectionFacts[] = new Array(f.count);
    const endpoints = new Map<number, Endpoint>();
    const endpoint = (addr: number, port: number): Endpoint => {
      const k = addr * 65536 + port;
      let e = endpoints.get(k);
      if (!e) endpoints.set(k, (e = { ip: f.addrs[addr], port }));
      return e;
    };
    for (let c = 0; c < f.count; c++) {
      const tcp = t !== null && f.isTcp[c] === 1;
      out[c] = {
        id: c,
        transport: f.isTcp[c] ? 'tcp' : 'udp',
        client: endpoint(f.clientAddr[c], f.clientPort[c]),
        server: endpoint(f.serverAddr[c], f.serverPort[c]),
        firstTs: f.firstTs[c],
        lastTs: f.lastTs[c],
        packets: f.packetsOf(c),
        payloadBytes: f.payloadBytes[c],
        state: tcp ? tcpState(t, c) : 'open',
        retransmissions: tcp ? tcpCount(t, c, 'Retransmission') : 0,
        lostSegments: tcp ? tcpCount(t, c, 'LostSegment') : 0,
        ackedUnseen: tcp ? tcpCount(t, c, 'AckedUnseen') : 0,
        zeroWindows: tcp ? tcpCount(t, c, 'ZeroWindow') : 0,
        synRetries: tcp ? synRetries(t, c) : 0,
      };
    }
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
