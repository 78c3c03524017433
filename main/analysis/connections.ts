import type { Frame } from '../decode/frame.js';
import { FlowTable, type FlowContext } from '../flows/flow-table.js';
import { TcpAnalyzer } from './tcp-analyzer.js';
import { tcpSummary } from './tcp-report.js';
import { factsFromColumns, tcpFactColumns } from './connection-facts.js';
import type { ConnectionFacts } from './findings.js';
import type { Connection } from './types.js';

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
   * the TCP fields gathered into typed columns once, and one small view per connection over
   * them and the flow columns (connection-facts.ts).
   */
  facts(): ConnectionFacts[] {
    return factsFromColumns(this.flows, tcpFactColumns(this.flows, this.tcp?.table ?? null));
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
