/*
 * The application facts a flow record carries (HTTP host/status, DNS name/rcode, TLS SNI),
 * picked the same way for `tapscope flows` (from the report's http/dns/tls arrays) and for
 * live export (from the live analysis while it still holds the connection).
 *
 * Entries are added in the order the analysis found them and read only when a record asks
 * (facts()): a live analysis fills a response's status or a DNS answer after the exchange
 * was added, so DNS/TLS entries are held by reference and HTTP ones by position.
 */

interface Endpoint { ip: string; port: number }

export interface FlowAppFacts {
  httpHost: string | null;
  httpStatus: number | null;
  dnsName: string | null;
  dnsRcode: number | null;
  tlsSni: string | null;
}

export interface HttpFact { host: string | null; status: number | null }
export interface DnsFact { transport: string; client: Endpoint; server: Endpoint; qname: string; rcode: number | null }
export interface TlsFact { connectionId: number; sni: string | null }
/** The connection a record is for (a `connections[]` entry or the live analysis's connection). */
export interface AppFactsConnection { id: number; transport: string; client: Endpoint; server: Endpoint }

const endpointKey = (transport: string, a: Endpoint, b: Endpoint) => `${transport}|${a.ip}|${a.port}|${b.ip}|${b.port}`;

export class FlowAppIndex {
  /** Connection id -> positions of its HTTP exchanges (httpAt's argument), in order. */
  private readonly http = new Map<number, number[]>();
  /** The first TLS handshake of each connection. */
  private readonly tls = new Map<number, TlsFact>();
  /** The first DNS transaction of each transport/client/server 5-tuple. */
  private readonly dns = new Map<string, DnsFact>();

  /** `httpAt(i)` reads the i-th exchange's current host and status. */
  constructor(private readonly httpAt: (i: number) => HttpFact) {}

  addHttp(connectionId: number, i: number): void {
    const list = this.http.get(connectionId);
    if (list) list.push(i);
    else this.http.set(connectionId, [i]);
  }

  addTls(t: TlsFact): void {
    if (!this.tls.has(t.connectionId)) this.tls.set(t.connectionId, t);
  }

  addDns(d: DnsFact): void {
    const k = endpointKey(d.transport, d.client, d.server);
    if (!this.dns.has(k)) this.dns.set(k, d);
  }

  /**
   * A connection's facts: the host and status of its first answered HTTP exchange (else of
   * its first exchange), the first query name and rcode on its 5-tuple, its first TLS SNI.
   */
  facts(c: AppFactsConnection): FlowAppFacts {
    let h: HttpFact | null = null;
    for (const i of this.http.get(c.id) ?? []) {
      const x = this.httpAt(i);
      h ??= x;
      if (x.status !== null) {
        h = x;
        break;
      }
    }
    const d = this.dns.get(endpointKey(c.transport, c.client, c.server)) ?? null;
    return {
      httpHost: h?.host ?? null,
      httpStatus: h?.status ?? null,
      dnsName: d?.qname ?? null,
      dnsRcode: d?.rcode ?? null,
      tlsSni: this.tls.get(c.id)?.sni ?? null,
    };
  }
}

/** The index of a report's http/dns/tls arrays (the `analyze --json` document). */
export function reportAppIndex(report: { http: unknown[]; dns: unknown[]; tls: unknown[] }): FlowAppIndex {
  const http = report.http as (HttpFact & { connectionId: number })[];
  const index = new FlowAppIndex((i) => http[i]);
  http.forEach((h, i) => index.addHttp(h.connectionId, i));
  for (const t of report.tls as TlsFact[]) index.addTls(t);
  for (const d of report.dns as DnsFact[]) index.addDns(d);
  return index;
}
