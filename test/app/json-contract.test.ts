import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { runAnalyze } from '../../main/cli/analyze.js';
import { analyzeFile } from '../../main/engine/analyze-file.js';
import { REPO_ROOT, capture } from '../helpers/captures.js';

/** The http/dns/tls/findings/quic objects carry exactly the fields README "JSON output" lists. */
const CONTRACT = {
  http: ['connectionId', 'method', 'host', 'uri', 'status', 'requestTs', 'responseTs', 'timeToFirstByte', 'duration', 'requestBytes', 'responseBytes', 'contentType', 'protocol', 'streamId', 'error', 'requestHeaders', 'responseHeaders'],
  dns: ['transport', 'client', 'server', 'id', 'qname', 'qtype', 'rcode', 'answers', 'queryTs', 'responseTime'],
  tls: ['connectionId', 'sni', 'alpn', 'version', 'handshakeTime', 'alert', 'certificate', 'decrypted', 'undecryptedReason', 'turns'],
  findings: ['id', 'severity', 'kind', 'summary', 'site', 'server', 'count', 'total', 'firstTs', 'lastTs', 'connectionIds'],
  quic: ['connectionId', 'version', 'sni', 'alpn', 'state', 'handshakeTime', 'closeError', 'spinRtt', 'tlsVersion', 'cipher', 'retry', 'zeroRtt', 'closedBy', 'paths'],
};

describe('JSON contract: http, dns, tls, findings', () => {
  it('has exactly the documented fields with the documented types', () => {
    const a = analyzeFile(capture('http-dns-ipv6-wikipedia.pcap')).report;
    const t = analyzeFile(capture('tls-sni-multi-hosts.pcap')).report;
    const f = analyzeFile(capture('dns-servfail.pcapng')).report;
    const h2 = analyzeFile(capture('http2-cleartext-hpack-headers-port3000.pcapng')).report;
    const q = analyzeFile(capture('quic-v1-retry-quic-go-interop-ppp.pcap')).report;
    const samples = { http: [...a.http, ...h2.http], dns: a.dns, tls: t.tls, findings: [...a.findings, ...f.findings], quic: q.quic };
    for (const [k, fields] of Object.entries(CONTRACT)) {
      const arr = samples[k as keyof typeof samples] as Record<string, unknown>[];
      expect(arr.length, k).toBeGreaterThan(0);
      for (const o of arr) expect(Object.keys(o).sort(), k).toEqual([...fields].sort());
    }
    const h = a.http[0] as Record<string, unknown>;
    expect(typeof h.requestTs).toBe('number');
    expect(['number', 'object']).toContain(typeof h.status);
    expect([h.protocol, h.streamId, h.error]).toEqual(['http/1.1', null, null]);
    // Header lists: [name, value] pairs as sent (HTTP/1.x names keep their case, HTTP/2 ones are lower case).
    expect((h.requestHeaders as [string, string][]).find(([n]) => n.toLowerCase() === 'host')?.[1]).toBe(h.host);
    const h2first = h2.http[0] as { requestHeaders: [string, string][]; responseHeaders: [string, string][] };
    expect(h2first.requestHeaders.slice(0, 1)).toEqual([[':authority', 'localhost:3000']]);
    expect(h2first.responseHeaders[0]).toEqual([':status', '200']);
    expect((h2.http as Record<string, unknown>[]).map((x) => [x.protocol, x.streamId])).toEqual([1, 3, 5, 7, 9, 11].map((id) => ['h2', id]));
    const d = a.dns[0] as { client: { ip: string; port: number }; answers: unknown[]; qtype: string };
    expect(typeof d.client.ip).toBe('string');
    expect(Array.isArray(d.answers)).toBe(true);
    const c = (t.tls[0] as { certificate: Record<string, string> }).certificate;
    expect(Object.keys(c).sort()).toEqual(['issuer', 'notAfter', 'notBefore', 'subject']);
    for (const x of samples.findings as { severity: string; connectionIds: unknown[] }[]) {
      expect(['critical', 'warning', 'info']).toContain(x.severity);
      expect(x.connectionIds.every((i) => Number.isInteger(i))).toBe(true);
    }
  });

  it('connections carry communityId; analyze --alerts adds alerts with the documented fields', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tapscope-contract-'));
    try {
      const eve = join(dir, 'eve.json');
      writeFileSync(eve, JSON.stringify({ timestamp: '2013-03-07T21:42:06.869344+0000', event_type: 'alert', src_ip: '141.142.228.5', src_port: 59856, dest_ip: '192.150.187.43', dest_port: 80, proto: 'TCP', alert: { signature_id: 1, signature: 's', category: 'c', severity: 3 } }) + '\n');
      let text = '';
      const w = new Writable({ write: (ch, _e, cb) => { text += ch; cb(); } });
      expect(runAnalyze([capture('http-get-basic.pcap'), '--json', '--alerts', eve], w, w)).toBe(0);
      const r = JSON.parse(text);
      expect(r.connections[0].communityId).toMatch(/^1:[A-Za-z0-9+/]{27}=$/);
      expect(r.alerts).toHaveLength(1);
      expect(Object.keys(r.alerts[0]).sort()).toEqual(['signatureId', 'signature', 'category', 'severity', 'ts', 'src', 'dst', 'proto', 'communityId', 'connectionId'].sort());
      expect(r.alerts[0].connectionId).toBe(r.connections[0].id);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('tapscope analyze --json prints them (built CLI)', () => {
    const cli = join(REPO_ROOT, 'out/cli/tapscope.mjs');
    if (!existsSync(cli)) execFileSync(process.execPath, [join(REPO_ROOT, 'scripts/build.mjs')], { stdio: 'ignore' });
    const out = JSON.parse(execFileSync(process.execPath, [cli, 'analyze', capture('dns-nxdomain.pcapng'), '--json'], { encoding: 'utf8' }));
    expect(out.dns).toHaveLength(1);
    expect(out.findings.map((x: { kind: string }) => x.kind)).toEqual(['dns.nxdomain']);
  });
});
