import { readFileSync } from 'node:fs';
import { expect } from 'vitest';
import { analyzeFile, type AnalyzeFileResult } from '../../main/engine/analyze-file.js';
import { duration } from '../../main/analysis/http-exchanges.js';
import { tsharkFields } from '../helpers/captures.js';

/*
 * Decrypted HTTP/1.x against tshark with the same keys (`-o tls.keylog_file:`; tshark reads
 * pcapng DSBs by itself): every request (method, host, URI, the packet completing it), every
 * response paired with its request (status, http.time = Tapscope's duration) and the
 * responses whose request tshark could not decrypt (0-RTT without its key).
 */

const us = (v: number) => Math.round(v * 1e6);
const near = (a: number, b: number) => Math.abs(a - b) <= 1e-6;

export function analyzeWithKeys(file: string, keyFiles: string[]): AnalyzeFileResult {
  return analyzeFile(file, { keyLogs: keyFiles.map((k) => ({ text: readFileSync(k, 'utf8'), source: k })) });
}

export interface Agreement {
  requests: number;
  responses: number;
}

export function expectHttpLikeTshark(file: string, keyFile: string | null, result: AnalyzeFileResult): Agreement {
  const fields = ['frame.number', 'frame.time_epoch', 'http.request.method', 'http.host', 'http.request.uri', 'http.response.code', 'http.time', 'http.request_in'];
  const opts = keyFile ? ['-o', `tls.keylog_file:${keyFile}`] : [];
  const rows = tsharkFields(file, fields, [...opts, '-Y', 'http']);
  const get = (r: string[], f: string) => r[fields.indexOf(f)] ?? '';
  const byFrame = new Map(rows.map((r) => [get(r, 'frame.number'), r]));
  const xs = result.session.app.http.exchanges.filter((x) => (x as { protocol?: string }).protocol !== 'h2');
  const reqKey = (m: string, h: string, u: string, t: number) => `${m} ${h} ${u} @${us(t)}`;
  const theirReq = rows.filter((r) => get(r, 'http.request.method')).map((r) => reqKey(get(r, 'http.request.method'), get(r, 'http.host'), get(r, 'http.request.uri'), Number(get(r, 'frame.time_epoch')))).sort();
  const ourReq = xs.filter((x) => x.method !== null).map((x) => reqKey(x.method!, x.host ?? '', x.uri ?? '', x.requestEndTs ?? x.requestTs!)).sort();
  expect(ourReq).toEqual(theirReq);
  const theirResp: string[] = [];
  for (const r of rows) {
    if (!get(r, 'http.response.code')) continue;
    const q = byFrame.get(get(r, 'http.request_in'));
    const req = q ? reqKey(get(q, 'http.request.method'), get(q, 'http.host'), get(q, 'http.request.uri'), Number(get(q, 'frame.time_epoch'))) : '(request not decrypted)';
    theirResp.push(`${req} -> ${get(r, 'http.response.code')} @${us(Number(get(r, 'frame.time_epoch')))} time=${get(r, 'http.time')}`);
  }
  const ourResp: string[] = [];
  for (const x of xs) {
    if (x.status === null || x.responseEndTs === null) continue;
    const req = x.method !== null ? reqKey(x.method, x.host ?? '', x.uri ?? '', x.requestEndTs ?? x.requestTs!) : '(request not decrypted)';
    ourResp.push(`${req} -> ${x.status} @${us(x.responseEndTs)} time=${x.method !== null ? duration(x) : ''}`);
  }
  // http.time is printed to the nanosecond; compare it within 1 µs.
  const norm = (s: string) => s.replace(/time=([\d.]+)/, (_m, t) => `time~${us(Number(t))}`);
  const theirs = theirResp.map(norm).sort();
  const ours = ourResp.map(norm).sort();
  expect(ours.length).toBe(theirs.length);
  ours.forEach((o, i) => {
    const [a, ta] = o.split(' time~');
    const [b, tb] = theirs[i].split(' time~');
    expect(a).toBe(b);
    if (ta !== undefined && tb !== undefined) expect(near(Number(ta) / 1e6, Number(tb) / 1e6), `${a}: ${ta} vs ${tb} µs`).toBe(true);
  });
  return { requests: ourReq.length, responses: ours.length };
}
