import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  buildFindings, compareFindings, FINDING_KINDS, RULES, SLOW_PATH_MEDIAN_FACTOR, SLOW_PATH_MIN_SAMPLES, SLOW_PATH_MIN_SECONDS,
  type ConnectionFacts, type Finding, type FindingInput, type Severity,
} from '../../main/analysis/findings.js';
import type { HttpExchange } from '../../main/analysis/http-exchanges.js';
import { analyzeFile } from '../../main/engine/analyze-file.js';
import { openCapture } from '../../main/pcap/reader.js';
import { saveCapture, type WriteRecord } from '../../main/pcap/writer.js';
import { capture, REPO_ROOT, tsharkFields } from '../helpers/captures.js';

/*
 * The findings rules that are about wording and ranking rather than one fault: the ranking
 * order, the slow-path rule (a path far slower than its site, under the 1 s bar), and
 * capture loss of responses, which must not read as server failures (on crafted exchanges,
 * and on a real VXLAN tap capture with the tap's loss made by dropping its packets).
 */

const T0 = Date.parse('2024-03-02T10:02:00Z') / 1000;
const empty: FindingInput = { connections: [], http: [], dns: [], tls: [], icmp: [], http2: [], captureFirstTs: T0, captureLastTs: T0 + 400 };

function conn(id: number, ip: string, extra: Partial<ConnectionFacts> = {}): ConnectionFacts {
  return { id, transport: 'tcp', client: { ip: '192.168.1.10', port: 40000 + id }, server: { ip, port: 80 }, firstTs: T0 + id, lastTs: T0 + id + 1, packets: 10, payloadBytes: 500, state: 'closed', ...extra };
}

/** One GET on connection `id` answered 200 after `ttfb` seconds (or with `extra`'s outcome). */
function get(id: number, ip: string, uri: string, ttfb: number | null, extra: Partial<HttpExchange> = {}): HttpExchange {
  const at = T0 + id;
  return {
    connectionId: id, serverIp: ip, serverPort: 80, method: 'GET', host: 'www.example.com', uri, version: 'HTTP/1.1',
    status: ttfb === null ? null : 200, reason: ttfb === null ? null : 'OK', interim: [], upgrade: null,
    requestTs: at, requestEndTs: at, responseTs: ttfb === null ? null : at + ttfb, responseEndTs: ttfb === null ? null : at + ttfb + 0.001,
    requestHeaderBytes: 80, requestBodyBytes: 0, responseHeaderBytes: ttfb === null ? 0 : 120, responseBodyBytes: ttfb === null ? 0 : 900, responseGapBytes: 0,
    responseHeadTruncated: false, contentType: null, noResponse: null, ...extra,
  };
}

/** A site of `n` fast pages (about 2 ms each, jittered) on two servers, plus `more`. */
function site(n: number, more: (id: number) => HttpExchange[] = () => []): FindingInput {
  const http: HttpExchange[] = [];
  const connections: ConnectionFacts[] = [];
  for (let i = 0; i < n; i++) {
    const ip = i % 2 ? '10.0.0.6' : '10.0.0.5';
    connections.push(conn(i, ip));
    http.push(get(i, ip, `/page/${i % 7}?q=${i}`, 0.0015 + (i % 5) * 0.0002));
  }
  for (const x of more(n)) {
    connections.push(conn(x.connectionId, x.serverIp));
    http.push(x);
  }
  return { ...empty, connections, http };
}

const kinds = (f: Finding[]) => f.map((x) => x.kind);

describe('findings ranking', () => {
  const f = (severity: Severity, count: number, total: number, firstTs = T0): Finding =>
    ({ id: `${severity}${count}/${total}@${firstTs}`, severity, kind: 'k', summary: '', site: null, server: null, count, total, firstTs, lastTs: firstTs, connectionIds: [] });

  it('orders by severity, then fraction affected, then count, then time', () => {
    const list = [f('info', 9, 9), f('warning', 1, 10), f('critical', 1, 100), f('warning', 5, 10), f('critical', 2, 4), f('critical', 4, 8), f('critical', 2, 4, T0 - 5)];
    expect([...list].sort(compareFindings).map((x) => x.id)).toEqual([
      `critical4/8@${T0}`, `critical2/4@${T0 - 5}`, `critical2/4@${T0}`, `critical1/100@${T0}`, `warning5/10@${T0}`, `warning1/10@${T0}`, `info9/9@${T0}`,
    ]);
    // An affected fraction of 100 % info never outranks a 1 % critical.
    expect(compareFindings(f('critical', 1, 100), f('info', 9, 9))).toBeLessThan(0);
    expect(compareFindings(f('warning', 0, 0), f('warning', 0, 0))).toBe(0);
  });

  it('buildFindings returns the findings ranked: a critical 1-of-40 refusal before a warning on every connection', () => {
    const connections = [
      ...Array.from({ length: 40 }, (_, i) => conn(i, '10.0.0.5', { state: i === 3 ? 'refused' : 'closed' })),
      ...Array.from({ length: 5 }, (_, i) => conn(100 + i, '10.0.0.9', { zeroWindows: 2 })),
    ];
    const out = buildFindings({ ...empty, connections });
    expect(out.map((x) => [x.severity, x.kind, x.count, x.total])).toEqual([['critical', 'tcp.refused', 1, 40], ['warning', 'tcp.analysis.zero_window', 5, 5]]);
  });

  it('every rule kind is documented in docs/protocols.md and every declared rule is listed', () => {
    const doc = readFileSync(join(REPO_ROOT, 'docs/protocols.md'), 'utf8');
    for (const k of FINDING_KINDS) expect(doc, k).toContain(`\`${k}\``);
    const declared = RULES.map((r) => (typeof r.kind === 'string' ? r.kind : null)).filter((k): k is string => k !== null);
    for (const k of declared) expect(FINDING_KINDS).toContain(k);
  });
});

describe('http.slow-path: a path many times slower than its site, under the 1 s bar', () => {
  it('flags one URI at 0.7 s where the site median is 2 ms, and only that', () => {
    const out = buildFindings(site(40, (id) => [get(id, '10.0.0.5', '/report?from=1', 0.7)]));
    expect(kinds(out)).toEqual(['http.slow-path']);
    const p = out[0];
    expect([p.severity, p.site, p.server, p.count, p.total, p.connectionIds]).toEqual(['warning', 'www.example.com', '10.0.0.5:80', 1, 41, [40]]);
    expect(p.summary).toMatch(/^www\.example\.com: GET \/report is slow against the rest of the site: median time to first byte 700 ms over 1 response, \d{3} × the site's median of 1\.\d ms \(41 responses\) from 10\.0\.0\.5:80 at \d\d:\d\d:\d\d UTC$/);
  });

  it('uses the path median: two slow requests of one path are one finding, a fast path with one slow request is none', () => {
    const out = buildFindings(site(40, (id) => [get(id, '10.0.0.5', '/report', 0.5), get(id + 1, '10.0.0.6', '/report', 0.6), get(id + 2, '10.0.0.5', '/page/1', 0.02)]));
    expect(out.map((x) => [x.kind, x.count, x.server])).toEqual([['http.slow-path', 2, null]]);
    expect(out[0].summary).toMatch(/median time to first byte 550 ms over 2 responses.* from 2 servers/);
    // /page/1 has one 20 ms request among its fast ones: its median stays fast.
    const mixed = buildFindings(site(40, (id) => [get(id, '10.0.0.5', '/page/1', 0.45)]));
    expect(kinds(mixed)).toEqual([]);
  });

  it('stays quiet on noise, small sites, modest factors, and paths the 1 s rule already reports', () => {
    // Below the minimum absolute time: 150 ms is ~90 × the median but not slow for a person.
    expect(SLOW_PATH_MIN_SECONDS).toBeGreaterThan(0.15);
    expect(kinds(buildFindings(site(40, (id) => [get(id, '10.0.0.5', '/report', 0.15)])))).toEqual([]);
    // Too few samples to know the site's norm.
    expect(kinds(buildFindings(site(SLOW_PATH_MIN_SAMPLES - 2, (id) => [get(id, '10.0.0.5', '/report', 0.7)])))).toEqual([]);
    expect(kinds(buildFindings(site(SLOW_PATH_MIN_SAMPLES - 1, (id) => [get(id, '10.0.0.5', '/report', 0.7)])))).toEqual(['http.slow-path']);
    // A site whose median is 100 ms: 0.7 s is 7 ×, under the factor.
    expect(SLOW_PATH_MEDIAN_FACTOR).toBeGreaterThan(7);
    const slowSite = site(20, (id) => [get(id, '10.0.0.5', '/report', 0.7)]);
    for (const x of slowSite.http) if (x.uri !== '/report') x.responseTs = x.requestEndTs! + 0.1;
    expect(kinds(buildFindings(slowSite))).toEqual([]);
    // Over 1 s: the absolute rule reports it, the relative one does not repeat it.
    expect(kinds(buildFindings(site(40, (id) => [get(id, '10.0.0.5', '/report', 1.7)])))).toEqual(['http.slow-ttfb']);
  });
});

describe('capture loss of responses is not a server failure', () => {
  it('on crafted exchanges: not-captured and cut-after-loss requests are counted apart from resets', () => {
    const input = site(10, (id) => [
      get(id, '10.0.0.5', '/a', null, { noResponse: 'not-captured' }),
      get(id + 1, '10.0.0.5', '/a', null, { noResponse: 'not-captured' }),
      get(id + 2, '10.0.0.5', '/b', null, { noResponse: 'incomplete' }),
      get(id + 3, '10.0.0.6', '/reset', null, { noResponse: 'reset' }),
    ]);
    const out = buildFindings(input);
    const lost = out.find((x) => x.kind === 'http.response-not-captured')!;
    expect([lost.severity, lost.server, lost.count, lost.total, lost.connectionIds]).toEqual(['warning', '10.0.0.5:80', 3, 8, [10, 11, 12]]);
    expect(lost.summary).toMatch(/the capture lost the responses to 3 of 8 requests \(response not captured ×2, response cut after bytes the capture lost ×1\).*mostly GET \/a: the tap or capture dropped them, not the server/);
    const nr = out.filter((x) => x.kind === 'http.no-response');
    expect(nr.map((x) => [x.server, x.count, x.connectionIds])).toEqual([['10.0.0.6:80', 1, [13]]]);
    expect(nr[0].summary).toMatch(/1 of 2 servers behind www\.example\.com are fine/);
  });

  const tmp = mkdtempSync(join(tmpdir(), 'tapscope-lossy-tap-'));
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  /** Copies a capture without the packets `drop` picks (1-based frame numbers), with the project's writer. */
  function withoutFrames(name: string, drop: Set<number>): string {
    const r = openCapture(capture(name));
    const keep: WriteRecord[] = [];
    for (let p = r.next(); p; p = r.next()) {
      if (drop.has(p.index + 1)) continue;
      const data = p.data.slice(p.offset, p.offset + p.caplen);
      keep.push({ tsSec: p.tsSec, tsNsec: p.tsNsec, caplen: p.caplen, origLen: p.origLen, data, offset: 0, interfaceId: 0 });
    }
    const out = join(tmp, `lossy-${name}`);
    saveCapture(out, keep, { format: 'pcap', interfaces: [r.interfaces[0]] });
    r.close();
    return out;
  }

  it('a VXLAN tap that lost the response packets: capture loss, not "no complete response"', () => {
    // vxlan-http.pcap: a mirrored GET whose response the server sends in the frames that carry
    // server payload. Drop those (what a lossy tap does): the client still ACKs them.
    const name = 'vxlan-http.pcap';
    const serverData = tsharkFields(capture(name), ['frame.number', 'tcp.srcport', 'tcp.len'])
      .filter((r) => r[1].split(',').pop() === '80' && Number(r[2].split(',').pop()) > 0).map((r) => Number(r[0]));
    expect(serverData.length).toBeGreaterThan(0);
    const before = analyzeFile(capture(name)).report.findings as Finding[];
    expect(kinds(before)).toEqual([]);

    const lossy = withoutFrames(name, new Set(serverData));
    // tshark agrees on what the tap lost: the client ACKs data the capture never saw.
    expect(tsharkFields(lossy, ['frame.number'], ['-Y', 'tcp.analysis.ack_lost_segment']).length).toBeGreaterThan(0);
    const { report } = analyzeFile(lossy);
    const after = report.findings as Finding[];
    expect(kinds(after)).not.toContain('http.no-response');
    expect(kinds(after)).not.toContain('tcp.reset-mid-exchange');
    const lost = after.find((x) => x.kind === 'http.response-not-captured')!;
    expect(lost, JSON.stringify(after, null, 1)).toBeDefined();
    expect([lost.count, lost.total]).toEqual([1, 1]);
    expect(lost.summary).toMatch(/the capture lost the responses to 1 of 1 request \(response not captured ×1\).*, all GET \/.*not the server/);
    expect(kinds(after)).toContain('tcp.analysis.ack_lost_segment');
    expect(after.every((x) => x.severity !== 'critical')).toBe(true);
  });
});
