/*
 * The streamed JSON document (engine/report-json.ts) is byte for byte what JSON.stringify
 * gives for the whole report, on every corpus capture, whether the connections come from
 * the report's array or straight from the columns.
 */
import { describe, expect, it } from 'vitest';
import { allCaptures, capture, decodeAsFor } from '../helpers/captures.js';
import { analyzeFile } from '../../main/engine/analyze-file.js';
import { parseDecodeAs } from '../../main/decode/decoder.js';
import { writeReportJson, writeReportJsonBytes } from '../../main/engine/report-json.js';

/** The document from the writer's chunks (UTF-8 octets, or text for a very long value). */
const text = (parts: (Uint8Array | string)[]): string => Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'utf8') : Buffer.from(p)))).toString('utf8');

describe('streamed JSON report', () => {
  it('equals JSON.stringify of the full report on every corpus capture', () => {
    let connections = 0;
    let httpCaptures = 0;
    for (const name of allCaptures()) {
      const decodeAs = decodeAsFor(name).tapscope.map((d) => parseDecodeAs(d));
      const full = analyzeFile(capture(name), { decodeAs });
      const want = JSON.stringify(full.report) + '\n';
      const streamed = analyzeFile(capture(name), { decodeAs, withConnections: false });
      expect(streamed.report.connections, name).toEqual([]);
      const parts: (Uint8Array | string)[] = [];
      writeReportJson(streamed.report, streamed.session.connections, (t) => parts.push(t));
      expect(text(parts), name).toBe(want);
      // HTTP exchanges streamed from the exchange store too.
      const both = analyzeFile(capture(name), { decodeAs, withConnections: false, withHttp: false });
      expect(both.report.http, name).toEqual([]);
      const bothParts: (Uint8Array | string)[] = [];
      writeReportJson(both.report, both.session.connections, (t) => bothParts.push(t), undefined, both.session.app.http);
      expect(text(bothParts), name).toBe(want);
      expect(bothParts.every((p) => typeof p === 'string'), name).toBe(true);
      // The same document as octets.
      const octets: (Uint8Array | string)[] = [];
      writeReportJsonBytes(both.report, both.session.connections, (c) => octets.push(c), undefined, both.session.app.http);
      expect(text(octets), name).toBe(want);
      if (full.report.http.length > 0) httpCaptures++;
      // With the array present, it is written as it stands (steps such as an alert join may have changed it).
      const again: (Uint8Array | string)[] = [];
      writeReportJson(full.report, full.session.connections, (t) => again.push(t));
      expect(text(again), name).toBe(want);
      connections += full.report.connections.length;
    }
    expect(connections).toBeGreaterThan(500);
    expect(httpCaptures).toBeGreaterThan(10);
  });

  it('lets a hook change each connection streamed from the columns', () => {
    const r = analyzeFile(capture('http-get-basic.pcap'), { withConnections: false });
    const parts: (Uint8Array | string)[] = [];
    writeReportJson(r.report, r.session.connections, (t) => parts.push(t), (c) => { c.communityId = 'x'; });
    const doc = JSON.parse(text(parts)) as { connections: { communityId: string }[] };
    expect(doc.connections.length).toBe(r.session.connections.count);
    expect(doc.connections.every((c) => c.communityId === 'x')).toBe(true);
  });
});
