/*
 * The report's big arrays written field by field (engine/connection-json-writer.ts,
 * engine/http-json.ts) are the same text as JSON.stringify of the reference objects
 * (analysis/connection-json.ts connectionJson, HttpExchanges.jsonAt), byte for byte: on
 * every corpus capture, and on generated captures of many short connections
 * (bench/gen-short-conns.mjs, plain and in VXLAN) with retransmissions, resets, refusals
 * and RTTs of every size. A small chunk size makes the writers cross chunk boundaries.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT, allCaptures, capture, decodeAsFor } from '../helpers/captures.js';
import { analyzeFile } from '../../main/engine/analyze-file.js';
import { parseDecodeAs } from '../../main/decode/decoder.js';
import { connectionJson } from '../../main/analysis/connection-json.js';
import { ConnectionJsonWriter } from '../../main/engine/connection-json-writer.js';
import { writeHttpJson } from '../../main/engine/http-json.js';
import { JsonOut } from '../../main/engine/json-out.js';

function collect(chunk: number): { out: JsonOut; text: () => string } {
  const parts: Buffer[] = [];
  const out = new JsonOut((c) => parts.push(typeof c === 'string' ? Buffer.from(c, 'utf8') : Buffer.from(c)), chunk);
  return { out, text: () => { out.end(); return Buffer.concat(parts).toString('utf8'); } };
}

interface Seen { connections: number; http: number; tcpWithRtt: number; openRtt: number; udp: number; ipv6: number; tunnelled: number; h2h3: number }

/** Compares both writers with the reference on one file; returns what was compared. */
function compare(file: string, decodeAs: string[] = []): Seen {
  const r = analyzeFile(file, { decodeAs: decodeAs.map((d) => parseDecodeAs(d)), withConnections: false, withHttp: false });
  const table = r.session.connections;
  const want: string[] = [];
  const seen: Seen = { connections: table.count, http: r.session.app.http.store.count, tcpWithRtt: 0, openRtt: 0, udp: 0, ipv6: 0, tunnelled: 0, h2h3: 0 };
  const tcp = table.tcp!.table;
  for (let i = 0; i < table.count; i++) {
    const j = connectionJson(table.connection(i));
    if (j.rtt !== null) seen.tcpWithRtt++;
    if (j.rtt !== null && tcp.heavyOf(i) !== null) seen.openRtt++; // written by the writer's ackRtt path
    if (j.transport === 'udp') seen.udp++;
    if ((j.client as { ip: string }).ip.includes(':')) seen.ipv6++;
    if ((j.tunnel as unknown[]).length > 0) seen.tunnelled++;
    want.push(JSON.stringify(j));
  }
  for (const chunk of [1 << 20, 4096]) {
    const { out, text } = collect(chunk);
    const w = new ConnectionJsonWriter(table);
    for (let i = 0; i < table.count; i++) {
      if (i > 0) out.byte(0x2c);
      w.write(out, i);
    }
    const got = text();
    if (got !== want.join(',')) {
      // Name the first connection that differs.
      for (let i = 0; i < table.count; i++) {
        const one = collect(1 << 20);
        new ConnectionJsonWriter(table).write(one.out, i);
        expect(one.text(), `${file} connection ${i}`).toBe(want[i]);
      }
    }
    expect(got, file).toBe(want.join(','));
  }
  const http = r.session.app.http;
  const wantHttp: string[] = [];
  for (let i = 0; i < http.store.count; i++) {
    const j = http.jsonAt(i);
    if (j.protocol !== 'http/1.1') seen.h2h3++;
    wantHttp.push(JSON.stringify(j));
  }
  for (const chunk of [1 << 20, 4096]) {
    const { out, text } = collect(chunk);
    writeHttpJson(out, http);
    expect(text(), file).toBe(wantHttp.join(','));
  }
  return seen;
}

describe('field-by-field JSON writers', () => {
  it('write every corpus capture\'s connections and http exchanges as JSON.stringify of the reference objects', () => {
    const all: Seen = { connections: 0, http: 0, tcpWithRtt: 0, openRtt: 0, udp: 0, ipv6: 0, tunnelled: 0, h2h3: 0 };
    for (const name of allCaptures()) {
      const n = compare(capture(name), decodeAsFor(name).tapscope);
      for (const k of Object.keys(all) as (keyof Seen)[]) all[k] += n[k];
    }
    // Every branch of the writers was taken.
    expect(all.connections).toBeGreaterThan(500);
    expect(all.http).toBeGreaterThan(50);
    expect(all.tcpWithRtt).toBeGreaterThan(100);
    expect(all.openRtt).toBeGreaterThan(0);
    expect(all.udp).toBeGreaterThan(10);
    expect(all.ipv6).toBeGreaterThan(0);
    expect(all.tunnelled).toBeGreaterThan(0);
    expect(all.h2h3).toBeGreaterThan(0);
  });

  describe('on generated captures of many short connections', () => {
    let dir = '';
    beforeAll(() => {
      dir = mkdtempSync(join(tmpdir(), 'tapscope-jsonw-'));
      execFileSync(process.execPath, ['bench/gen-short-conns.mjs', '--out', join(dir, 'plain.pcap'), '--conns', '4000', '--seed', '7'], { cwd: REPO_ROOT, stdio: 'ignore' });
      execFileSync(process.execPath, ['bench/gen-short-conns.mjs', '--out', join(dir, 'vxlan.pcap'), '--conns', '1500', '--seed', '3', '--vxlan'], { cwd: REPO_ROOT, stdio: 'ignore' });
    });
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    it('plain and in VXLAN', () => {
      const plain = compare(join(dir, 'plain.pcap'));
      expect(plain.connections).toBe(4000);
      expect(plain.http).toBeGreaterThan(3500);
      expect(plain.tcpWithRtt).toBeGreaterThan(3500);
      const vxlan = compare(join(dir, 'vxlan.pcap'));
      expect(vxlan.connections).toBe(1500);
    });
  });
});
