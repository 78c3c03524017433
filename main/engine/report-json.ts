import { connectionJson } from '../analysis/connection-json.js';
import type { ConnectionTable } from '../analysis/connections.js';
import type { AnalysisReport } from './report.js';
import type { HttpExchanges } from '../analysis/http-exchanges.js';
import { ConnectionJsonWriter } from './connection-json-writer.js';
import { JsonOut } from './json-out.js';
import { writeHttpJson } from './http-json.js';

/**
 * Chunk size for string sinks: below Node's 1,031,913-octet threshold above which a decoded
 * Latin-1 string is an external string (memory outside V8's heap, freed late: the writer's
 * peak RSS grew by ~50 MB with 1 MB chunks at 200,000 connections).
 */
const TEXT_CHUNK = 1 << 19;

/**
 * Writes the `tapscope analyze --json` document (README "JSON output") as a stream: the
 * top-level keys in the report's order, each array element by element, and, when
 * `report.connections` was left empty (AnalysisSession.report(file, false)), the
 * connections written one at a time straight from the connection table's columns
 * (connection-json-writer.ts; with `eachConnection`, which may change each, they are built
 * as objects first); likewise the `http` array from `http`'s exchange store when
 * `report.http` was left empty (http-json.ts). Text goes out in chunks of about 1 MB
 * (json-out.ts), so no string of the whole document (hundreds of MB for 200,000
 * connections) is built. The text is the same as JSON.stringify(report)
 * with every connection in it. `write` gets each chunk as a string (writeReportJsonBytes
 * hands out the octets and saves decoding them).
 */
export function writeReportJson(
  report: AnalysisReport,
  table: ConnectionTable,
  write: (text: string) => void,
  eachConnection?: (json: Record<string, unknown>) => void,
  http?: HttpExchanges,
): void {
  // Each chunk is whole UTF-8 (JsonOut never splits a character between chunks); decoded
  // here (as Latin-1, a plain copy, when it is all ASCII), so the one buffer serves every chunk.
  const toText = (c: Uint8Array | string, ascii: boolean): void =>
    write(typeof c === 'string' ? c : Buffer.from(c.buffer, c.byteOffset, c.byteLength).toString(ascii ? 'latin1' : 'utf8'));
  writeDocument(new JsonOut(toText, TEXT_CHUNK, true), report, table, eachConnection, http);
}

/**
 * writeReportJson with the chunks as UTF-8 octets (a new buffer each, the sink may keep it),
 * or, for a value longer than a chunk, as its text.
 */
export function writeReportJsonBytes(
  report: AnalysisReport,
  table: ConnectionTable,
  write: (chunk: Uint8Array | string) => void,
  eachConnection?: (json: Record<string, unknown>) => void,
  http?: HttpExchanges,
): void {
  writeDocument(new JsonOut(write), report, table, eachConnection, http);
}

/** A piece of the document: UTF-8 octets, or (a value longer than a chunk) its text. */
export type JsonChunk = Uint8Array | string;

/**
 * Part of the document: the members `"key":value,…` of `part` as writeReportJsonBytes
 * writes them (connections from the columns, http from the exchange store), without the
 * braces. The split analysis puts the document together from the two threads' parts in the
 * single-thread order (engine/split-analysis.ts).
 */
export function writeReportMembersBytes(
  part: Partial<AnalysisReport>,
  table: ConnectionTable,
  write: (chunk: JsonChunk) => void,
  eachConnection?: (json: Record<string, unknown>) => void,
  http?: HttpExchanges,
): void {
  const o = new JsonOut(write);
  writeMembers(o, part, table, eachConnection, http);
  o.end();
}

function writeDocument(
  o: JsonOut,
  report: AnalysisReport,
  table: ConnectionTable,
  eachConnection: ((json: Record<string, unknown>) => void) | undefined,
  http: HttpExchanges | undefined,
): void {
  o.byte(0x7b); // {
  writeMembers(o, report, table, eachConnection, http);
  o.text('}\n');
  o.end();
}

function writeMembers(
  o: JsonOut,
  report: Partial<AnalysisReport>,
  table: ConnectionTable,
  eachConnection: ((json: Record<string, unknown>) => void) | undefined,
  http: HttpExchanges | undefined,
): void {
  let firstKey = true;
  for (const [key, value] of Object.entries(report)) {
    if (value === undefined) continue;
    o.text(`${firstKey ? '' : ','}${JSON.stringify(key)}:`);
    firstKey = false;
    if (key === 'connections' && Array.isArray(value) && value.length < table.count) {
      o.byte(0x5b); // [
      if (eachConnection) {
        for (let i = 0; i < table.count; i++) {
          const c = connectionJson(table.connection(i));
          eachConnection(c);
          if (i > 0) o.byte(0x2c);
          o.text(JSON.stringify(c));
        }
      } else {
        const w = new ConnectionJsonWriter(table);
        for (let i = 0; i < table.count; i++) {
          if (i > 0) o.byte(0x2c); // ,
          w.write(o, i);
        }
      }
      o.byte(0x5d); // ]
    } else if (key === 'http' && http && Array.isArray(value) && value.length < http.store.count) {
      o.byte(0x5b);
      writeHttpJson(o, http);
      o.byte(0x5d);
    } else if (Array.isArray(value)) {
      o.byte(0x5b);
      for (let i = 0; i < value.length; i++) {
        if (i > 0) o.byte(0x2c);
        o.text(JSON.stringify(value[i]) ?? 'null');
      }
      o.byte(0x5d);
    } else o.text(JSON.stringify(value) ?? 'null');
  }
}
