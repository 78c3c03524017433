import type { ConnectionTable } from '../analysis/connections.js';
import type { HttpExchanges } from '../analysis/http-exchanges.js';
import { writeReportJsonBytes } from './report-json.js';
import type { AnalysisReport } from './report.js';

/** A piece of the document: UTF-8 octets, or (rarely, a very long value) text. */
export type JsonChunk = Uint8Array | string;

/**
 * Part of the report document: the members `"key":value,…` of `part`, as writeReportJson
 * writes them (same streaming of `connections` from the columns and `http` from the
 * exchange store), without the enclosing braces. The split analysis writes the document
 * from the two threads' parts in the single-thread order (engine/split-analysis.ts).
 */
export function writeReportMembers(
  part: Partial<AnalysisReport>,
  table: ConnectionTable,
  write: (chunk: JsonChunk) => void,
  eachConnection?: (json: Record<string, unknown>) => void,
  http?: HttpExchanges,
): void {
  let held: JsonChunk | null = null;
  let first = true;
  writeReportJsonBytes(part as AnalysisReport, table, (chunk) => {
    if (first) {
      chunk = typeof chunk === 'string' ? chunk.slice(1) : chunk.subarray(1); // the opening "{"
      first = false;
    }
    if (held !== null && held.length > 0) write(held);
    held = chunk;
  }, eachConnection, http);
  const last = held as JsonChunk | null; // assigned in the callback
  if (last === null) return;
  // The document ends "}\n".
  const body = typeof last === 'string' ? last.replace(/\}\n$/, '') : endsWithCloseBrace(last) ? last.subarray(0, last.length - 2) : last;
  if (body.length > 0) write(body);
}

function endsWithCloseBrace(b: Uint8Array): boolean {
  return b.length >= 2 && b[b.length - 2] === 0x7d && b[b.length - 1] === 0x0a;
}
