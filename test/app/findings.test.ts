import { describe, expect, it } from 'vitest';
import { buildFindings, type ConnectionFacts, type FindingInput } from '../../main/analysis/findings.js';
import type { TlsHandshake } from '../../main/analysis/tls-handshakes.js';
import { analyzeFile } from '../../main/engine/analyze-file.js';
import { capture } from '../helpers/captures.js';

/*
 * Finding rules on facts built by hand (the scenario test builds them from real traffic;
 * these cover the rules it cannot inject: expired certificates, TLS alerts, ICMP errors,
 * capture loss, zero windows, and the "k of n servers are fine" wording).
 */

const T0 = Date.parse('2024-03-02T10:02:00Z') / 1000;

function c(id: number, ip: string, port: number, state: string, extra: Partial<ConnectionFacts> = {}): ConnectionFacts {
  return { id, transport: 'tcp', client: { ip: '192.168.1.10', port: 40000 + id }, server: { ip, port }, firstTs: T0 + id, lastTs: T0 + id + 1, packets: 10, payloadBytes: 500, state, ...extra };
}

function tls(id: number, ip: string, extra: Partial<TlsHandshake>): TlsHandshake {
  return {
    connectionId: id, serverIp: ip, serverPort: 443, sni: 'www.example.com', alpn: [], offeredVersions: ['TLS 1.2'], version: 'TLS 1.2', cipher: null,
    clientHelloTs: T0 + id, serverHelloTs: T0 + id + 0.01, doneTs: T0 + id + 0.05, alert: null, alertFromClient: null, alertTs: null, alertFatal: false, certificate: null, ...extra,
  };
}

const empty: FindingInput = { connections: [], http: [], dns: [], tls: [], icmp: [], http2: [], captureFirstTs: T0, captureLastTs: T0 + 400 };

describe('findings', () => {
  it('says which server refuses and that the others behind the site are fine', () => {
    const conns: ConnectionFacts[] = [];
    const hs: TlsHandshake[] = [];
    let id = 0;
    for (const ip of ['10.0.0.5', '10.0.0.6', '10.0.0.7', '10.0.0.8']) {
      for (let k = 0; k < 40; k++) {
        const refused = ip === '10.0.0.7' && k % 10 < 3;
        conns.push(c(id, ip, 443, refused ? 'refused' : 'closed'));
        if (!refused) hs.push(tls(id, ip, {}));
        id++;
      }
    }
    const f = buildFindings({ ...empty, connections: conns, tls: hs });
    expect(f).toHaveLength(1);
    expect(f[0]).toMatchObject({ kind: 'tcp.refused', severity: 'critical', site: 'www.example.com', server: '10.0.0.7:443', count: 12, total: 40 });
    expect(f[0].summary).toMatch(/^www\.example\.com: 10\.0\.0\.7:443 refused 12 of 40 connections between \d\d:\d\d:\d\d and \d\d:\d\d:\d\d UTC; 3 of 4 servers behind www\.example\.com are fine/);
    expect(f[0].connectionIds).toHaveLength(12);
  });

  it('flags an expired certificate on one backend, relative to the capture time', () => {
    const good = { subject: 'CN=www.example.com', issuer: 'CN=CA', notBefore: '2023-06-01T00:00:00Z', notAfter: '2024-06-01T00:00:00Z' };
    const old = { ...good, notBefore: '2023-01-01T00:00:00Z', notAfter: '2024-02-01T00:00:00Z' };
    const f = buildFindings({
      ...empty,
      connections: [c(1, '10.0.0.5', 443, 'closed'), c(2, '10.0.0.6', 443, 'reset')],
      tls: [tls(1, '10.0.0.5', { certificate: good }), tls(2, '10.0.0.6', { certificate: old, doneTs: null, alert: 'fatal certificate_expired', alertFatal: true, alertFromClient: true, alertTs: T0 + 2.02 })],
    });
    const kinds = f.map((x) => x.kind);
    expect(kinds).toEqual(expect.arrayContaining(['tls.certificate-expired', 'tls.alert', 'tcp.reset-mid-exchange']));
    const exp = f.find((x) => x.kind === 'tls.certificate-expired')!;
    expect([exp.server, exp.connectionIds]).toEqual(['10.0.0.6:443', [2]]);
    expect(exp.summary).toMatch(/expired on 2024-02-01 \(capture taken 2024-03-02/);
    expect(exp.summary).toMatch(/1 other server\(s\) of www\.example\.com present a valid one/);
    expect(f.find((x) => x.kind === 'tls.alert')!.summary).toMatch(/fatal certificate_expired from client/);
  });

  it('reports ICMP unreachables with the connection they are about, zero windows and capture loss', () => {
    const f = buildFindings({
      ...empty,
      connections: [
        { ...c(1, '10.0.0.53', 53, 'open'), transport: 'udp', client: { ip: '192.168.1.10', port: 5353 } },
        c(2, '10.0.0.9', 80, 'closed', { zeroWindows: 4 }),
        c(3, '10.0.0.9', 80, 'closed', { ackedUnseen: 2 }),
      ],
      icmp: [{ ts: T0 + 1, version: 4, code: 3, reporter: '10.0.0.53', proto: 17, src: '192.168.1.10', dst: '10.0.0.53', srcPort: 5353, dstPort: 53 }],
    });
    const icmp = f.find((x) => x.kind === 'icmp.unreachable')!;
    expect(icmp.summary).toMatch(/ICMP port unreachable for 10\.0\.0\.53:53\/udp ×1, reported by 10\.0\.0\.53/);
    expect(icmp.connectionIds).toEqual([1]);
    expect(f.find((x) => x.kind === 'tcp.analysis.zero_window')).toMatchObject({ server: '10.0.0.9:80', count: 1, total: 2, connectionIds: [2] });
    const loss = f.find((x) => x.kind === 'tcp.analysis.ack_lost_segment')!;
    expect(loss.summary).toMatch(/tap or capture dropped them, not the network/);
    expect(loss.connectionIds).toEqual([3]);
  });

  it('on real captures: refused, unanswered SYNs, SERVFAIL and NXDOMAIN are named', () => {
    const kinds = (name: string) => (analyzeFile(capture(name)).report.findings as { kind: string }[]).map((x) => x.kind);
    expect(kinds('tcp-syn-rst-refused.pcapng')).toContain('tcp.refused');
    expect(kinds('tcp-syn-retries-unanswered.pcapng')).toContain('tcp.syn-unanswered');
    expect(kinds('dns-servfail.pcapng')).toContain('dns.servfail');
    expect(kinds('dns-nxdomain.pcapng')).toEqual(['dns.nxdomain']);
    expect(kinds('dns-queries-no-response.pcap')).toEqual(['dns.unanswered']);
    expect(kinds('http-get-basic.pcap')).toEqual([]);
  });
});
