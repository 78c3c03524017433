import type { ConnectionTable } from '../analysis/connections.js';
import type { HttpExchanges } from '../analysis/http-exchanges.js';
import { writeReportJson } from './report-json.js';
import type { AnalysisReport } from './report.js';

/**
 * Part of the report document: the members `"key":value,…` of `part`, as writeReportJson
 * writes them (same streaming of `connections` from the columns and `http` from the
 * exchange store), without the enclosing braces. The split analysis writes the document
 * from the two threads' parts in the single-thread order (engine/split-analysis.ts).
 */
export function writeReportMembers(
  part: Partial<AnalysisReport>,
  table: ConnectionTable,
  write: (text: string) => void,
  eachConnection?: (json: Record<string, unknown>) => void,
  http?: HttpExchanges,
): void {
  let held: string | null = null;
  let first = true;
  writeReportJson(part as AnalysisReport, table, (text) => {
    if (first) {
      text = text.slice(1); // "{"
      first = false;
    }
    if (held !== null && held.length > 0) write(held);
    held = text;
  }, eachConnection, http);
  if (held === null) return;
  const last: string = held;
  // The document ends "}\n".
  const body = last.endsWith('}\n') ? last.slice(0, -2) : last;
  if (body.length > 0) write(body);
}
