import type { AppAnalysis } from '../analysis/app-analysis.js';
import { FlowAppIndex, type AppFactsConnection, type FlowAppFacts } from './flow-app-facts.js';

/*
 * A live analysis's application facts for flow records (flow-app-facts.ts): the HTTP
 * exchanges, DNS transactions and TLS handshakes the analysis added since the last look are
 * indexed when a record asks, so an expiring flow costs its own lookups, not a pass over
 * everything. The index lives as long as the analysis (a budgeted sensor starts both afresh).
 */
export class LiveAppFacts {
  private readonly index: FlowAppIndex;
  private http = 0;
  private dns = 0;
  private tls = 0;

  constructor(readonly app: AppAnalysis) {
    this.index = new FlowAppIndex((i) => app.http.store.at(i, true));
  }

  facts(c: AppFactsConnection): FlowAppFacts {
    const store = this.app.http.store;
    for (; this.http < store.count; this.http++) this.index.addHttp(store.at(this.http, true).connectionId, this.http);
    const dns = this.app.dns.transactions;
    for (; this.dns < dns.length; this.dns++) this.index.addDns(dns[this.dns]);
    const tls = this.app.tls.handshakes;
    for (; this.tls < tls.length; this.tls++) this.index.addTls(tls[this.tls]);
    return this.index.facts(c);
  }
}
