import type { AnalysisReport } from '../engine/report.js';
import type { AnalysisSession } from '../engine/session.js';
import { connectionJson } from '../analysis/connection-json.js';
import { joinAlerts, readEveFile, type EveReadResult, type JoinConnection, type JoinTunnel } from './eve.js';

/**
 * `analyze --alerts eve.json`: reads the EVE file, joins its alerts to the report's
 * connections, sets `report.alerts` ([] without a file), rebuilds the findings with the
 * alerts (rule `ids.alert` in analysis/findings.ts) and adds the reader's warnings
 * (line-numbered; other event types counted). Returns false (after saying why on `err`)
 * only when the file cannot be read at all.
 */
export function addAlerts(report: AnalysisReport, evePath: string | null, err: NodeJS.WritableStream, session: AnalysisSession): boolean {
  report.alerts = [];
  if (evePath === null) return true;
  let eve;
  try {
    eve = readEveFile(evePath);
  } catch (e) {
    err.write(`tapscope: cannot read ${evePath}: ${(e as Error).message}\n`);
    return false;
  }
  applyAlerts(report, eve, evePath, session);
  return true;
}

/**
 * Joins what an EVE reader found (a file read whole, or a followed eve.json at the end of
 * a live capture) to the report: `alerts`, findings rebuilt with them, the reader's
 * warnings under the file's name.
 */
export function applyAlerts(report: AnalysisReport, eve: EveReadResult, evePath: string, session: AnalysisSession, connections = report.connections): void {
  const alerts = joinAlerts(eve.alerts, connections as JoinConnection[], report.tunnels as JoinTunnel[]);
  report.alerts = alerts;
  for (const w of eve.warnings) report.warnings.push({ packet: null, offset: null, message: `${evePath} ${w}` });
  const skipped = Object.entries(eve.skipped);
  if (skipped.length) {
    const n = skipped.reduce((a, [, c]) => a + c, 0);
    report.warnings.push({ packet: null, offset: null, message: `${evePath}: ${n} non-alert record(s) skipped (${skipped.map(([t, c]) => `${t} ${c}`).join(', ')})` });
  }
  const unjoined = alerts.filter((a) => a.connectionId === null).length;
  if (unjoined) report.warnings.push({ packet: null, offset: null, message: `${evePath}: ${unjoined} of ${alerts.length} alert(s) match no connection of the capture` });
  if (alerts.length) report.findings = session.app.findings(session.connections.facts(), report.file.firstTs, report.file.lastTs, alerts);
}

/**
 * The app's reports (worker and live capture) leave `connections` out (they crossed in
 * batches): the join reads them from the session. An unreadable file is a warning.
 */
export function addSessionAlerts(report: AnalysisReport, eve: string | EveReadResult & { path: string }, session: AnalysisSession): void {
  const table = session.connections;
  const connections: unknown[] = [];
  for (let i = 0; i < table.count; i++) connections.push(connectionJson(table.connection(i)));
  if (typeof eve !== 'string') return applyAlerts(report, eve, eve.path, session, connections);
  try {
    applyAlerts(report, readEveFile(eve), eve, session, connections);
  } catch (e) {
    report.warnings.push({ packet: null, offset: null, message: `cannot read ${eve}: ${(e as Error).message}` });
  }
}
