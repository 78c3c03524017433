import { connectionJson } from '../analysis/connection-json.js';
import type { ConnectionTable } from '../analysis/connections.js';
import type { AnalysisReport } from './report.js';
import type { HttpExchanges } from '../analysis/http-exchanges.js';

/** Bytes of JSON text gathered before one write. */
const CHUNK = 1 << 20;

/**
 * Writes the `tapscope analyze --json` document (README "JSON output") as a stream: the
 * top-level keys in the report's order, each array element by element, and, when
 * `report.connections` was left empty (AnalysisSession.report(file, false)), the
 * connections built one at a time from the connection table's columns (`eachConnection`
 * may change each before it is written); likewise the `http` array from `http`'s exchange
 * store when `report.http` was left empty. Text goes out in chunks of about 1 MB,
 * so no string of the whole document (hundreds of MB for 200,000 connections) is built.
 * The text is the same as JSON.stringify(report) with every connection in it.
 */
export function writeReportJson(
  report: AnalysisReport,
  table: ConnectionTable,
  write: (text: string) => void,
  eachConnection?: (json: Record<string, unknown>) => void,
  http?: HttpExchanges,
): void {
  let buf = '';
  const put = (s: string): void => {
    buf += s;
    if (buf.length >= CHUNK) {
      write(buf);
      buf = '';
    }
  };
  put('{');
  let firstKey = true;
  for (const [key, value] of Object.entries(report)) {
    if (value === undefined) continue;
    put(`${firstKey ? '' : ','}${JSON.stringify(key)}:`);
    firstKey = false;
    if (key === 'connections' && Array.isArray(value) && value.length < table.count) {
      put('[');
      for (let i = 0; i < table.count; i++) {
        const c = connectionJson(table.connection(i));
        eachConnection?.(c);
        put((i === 0 ? '' : ',') + JSON.stringify(c));
      }
      put(']');
    } else if (key === 'http' && http && Array.isArray(value) && value.length < http.store.count) {
      put('[');
      for (let i = 0; i < http.store.count; i++) put((i === 0 ? '' : ',') + JSON.stringify(http.jsonAt(i)));
      put(']');
    } else if (Array.isArray(value)) {
      put('[');
      for (let i = 0; i < value.length; i++) put((i === 0 ? '' : ',') + (JSON.stringify(value[i]) ?? 'null'));
      put(']');
    } else put(JSON.stringify(value) ?? 'null');
  }
  put('}\n');
  if (buf.length > 0) write(buf);
}
