import { compareFindings, type Finding, type Severity } from '../analysis/findings.js';
import type { AlertJson } from './eve.js';

/*
 * IDS ALERTS as findings (kind `ids.alert`): one finding per signature and site (the HTTP
 * Host / TLS SNI of the alerted connection, else the name DNS resolved to the server's
 * address, else the server endpoint). Suricata's severity 1 is critical, 2 a warning,
 * 3 and lower priorities info. `count` connections of the `total` to that site/server
 * were alerted (unjoined alerts count one each).
 *
 * Kept beside the EVE reader rather than in analysis/findings.ts's rule table because the
 * alerts arrive after the capture's findings are built (analyze --alerts).
 */

interface Endpoint { ip: string; port: number }
interface ConnFacts { id: number; server: Endpoint }
interface ReportFacts {
  connections: unknown[];
  http: unknown[];
  tls: unknown[];
  dns: unknown[];
}

const ep = (ip: string, port: number | null) => (port === null ? ip : ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`);
const hostOnly = (h: string) => h.toLowerCase().replace(/^\[|\]?(:\d+)?$/g, '').replace(/\.$/, '');

function severityOf(s: number | null): Severity {
  if (s === 1) return 'critical';
  if (s === 2) return 'warning';
  return 'info';
}

function clock(ts: number): string {
  return new Date(ts * 1000).toISOString().slice(11, 19);
}

/** Finds for the alerts, ranked into the report's findings (which it returns, merged). */
export function withAlertFindings(findings: Finding[], alerts: AlertJson[], report: ReportFacts): Finding[] {
  if (alerts.length === 0) return findings;
  const conns = new Map<number, ConnFacts>();
  for (const c of report.connections as ConnFacts[]) conns.set(c.id, c);
  const connSite = new Map<number, string>();
  for (const t of report.tls as { connectionId: number; sni: string | null }[]) if (t.sni) connSite.set(t.connectionId, hostOnly(t.sni));
  for (const x of report.http as { connectionId: number; host: string | null }[]) if (x.host && !connSite.has(x.connectionId)) connSite.set(x.connectionId, hostOnly(x.host));
  const ipSite = new Map<string, string>();
  for (const d of report.dns as { rcode: number | null; qname: string; answers: string[] }[]) {
    if (d.rcode === 0) for (const a of d.answers) if (/^[0-9.]+$|:/.test(a) && !ipSite.has(a)) ipSite.set(a, d.qname.toLowerCase());
  }
  const siteOfConn = (c: ConnFacts) => connSite.get(c.id) ?? ipSite.get(c.server.ip) ?? null;
  // Connections per site (or server) for the totals.
  const perPlace = new Map<string, number>();
  for (const c of conns.values()) {
    const k = siteOfConn(c) ?? ep(c.server.ip, c.server.port);
    perPlace.set(k, (perPlace.get(k) ?? 0) + 1);
  }
  const groups = new Map<string, { a: AlertJson[]; site: string | null; server: string | null }>();
  for (const a of alerts) {
    const c = a.connectionId !== null ? conns.get(a.connectionId) : undefined;
    const site = c ? siteOfConn(c) : ipSite.get(a.dst.ip) ?? null;
    const server = c ? ep(c.server.ip, c.server.port) : ep(a.dst.ip, a.dst.port);
    const key = `${a.signatureId}|${site ?? server}`;
    const g = groups.get(key);
    if (g) {
      g.a.push(a);
      if (g.server !== server) g.server = null; // several servers behind the site
    } else groups.set(key, { a: [a], site, server });
  }
  const out = [...findings];
  for (const [key, g] of groups) {
    const first = g.a[0];
    const ids = [...new Set(g.a.map((a) => a.connectionId).filter((x): x is number => x !== null))].sort((x, y) => x - y);
    const unjoined = g.a.filter((a) => a.connectionId === null).length;
    const count = ids.length + unjoined;
    const place = g.site ?? g.server ?? first.dst.ip;
    const total = Math.max(count, (perPlace.get(place) ?? 0) + unjoined);
    const firstTs = Math.min(...g.a.map((a) => a.ts));
    const lastTs = Math.max(...g.a.map((a) => a.ts));
    const when = lastTs - firstTs < 1 ? `at ${clock(firstTs)} UTC` : `between ${clock(firstTs)} and ${clock(lastTs)} UTC`;
    const where = g.site ? `${g.site}${g.server ? ` (${g.server})` : ''}` : g.server ?? place;
    const sev = first.severity !== null ? `, severity ${first.severity}` : '';
    out.push({
      id: `ids.alert:${key}`,
      severity: severityOf(first.severity),
      kind: 'ids.alert',
      summary: `IDS alert "${first.signature}" (sid ${first.signatureId}${first.category ? `, ${first.category}` : ''}${sev}): ${g.a.length} alert${g.a.length === 1 ? '' : 's'} on ${count} of ${total} connection${total === 1 ? '' : 's'} to ${where} ${when}${unjoined ? `; ${unjoined} matched no connection of the capture` : ''}`,
      site: g.site,
      server: g.server,
      count,
      total,
      firstTs,
      lastTs,
      connectionIds: ids,
    });
  }
  return out.sort(compareFindings);
}
