import { describe, expect, it } from 'vitest';
import { analyzeFile } from '../../main/engine/analyze-file.js';
import { AnalysisSession } from '../../main/engine/session.js';
import { openCapture } from '../../main/pcap/reader.js';
import type { PacketRecord } from '../../main/pcap/record.js';
import { transportErrorName } from '../../main/analysis/quic-connections.js';
import { allCaptures, capture, tsharkFields } from '../helpers/captures.js';
import { expectSameAsTshark, tsharkConnections, type ConnJson, type QuicJson } from './quic-oracle.js';

/* Every quic-* capture of the corpus against tshark 4.0 (quic-oracle.ts), plus the cases the MANIFEST documents. */

const QUIC_CAPTURES = allCaptures().filter((n) => n.startsWith('quic-'));

describe('QUIC connections vs tshark', () => {
  it('the corpus has the QUIC captures the MANIFEST lists', () => {
    expect(QUIC_CAPTURES.length).toBeGreaterThanOrEqual(7);
  });

  for (const name of QUIC_CAPTURES) {
    it(name, () => {
      const report = analyzeFile(capture(name)).report as unknown as { quic: QuicJson[]; connections: ConnJson[] };
      // The DSB captures carry their keys: tshark and Tapscope both open every packet.
      const expected = tsharkConnections(capture(name), { keyed: name.includes('keys-in-pcapng-dsb') });
      expect(expected.length).toBeGreaterThan(0);
      expectSameAsTshark(report, expected, expect);
    });
  }

  it('documented cases: split ClientHello with no server reply; client close after the idle timeout; Retry', () => {
    const only = analyzeFile(capture('quic-v1-incomplete-handshake-only-client-initials.pcap')).report as unknown as { quic: QuicJson[] };
    expect(only.quic.map((q) => [q.sni, q.state])).toEqual([['googleads.g.doubleclick.net', 'handshake-unanswered']]);
    const closed = analyzeFile(capture('quic-v1-clienthello-split-over-multiple-initials-client-close.pcap')).report as unknown as { quic: QuicJson[] };
    expect(closed.quic[0].state).toBe('handshake-failed');
    expect(closed.quic[0].closeError).toMatch(/^NO_ERROR: .*No recent network activity/);
    const retry = analyzeFile(capture('quic-v1-retry-quic-go-interop-ppp.pcap')).report as unknown as { quic: QuicJson[] };
    expect(retry.quic.map((q) => [q.sni, q.alpn, q.retry, q.state])).toEqual([['server4:443', ['hq-interop'], 'valid', 'established']]);
  });

  it('findings: QUIC handshakes never answered, and failed ones with their CONNECTION_CLOSE', () => {
    type F = { kind: string; severity: string; site: string | null; server: string | null; count: number; total: number; summary: string; connectionIds: number[] };
    const only = analyzeFile(capture('quic-v1-incomplete-handshake-only-client-initials.pcap')).report as unknown as { quic: QuicJson[]; findings: F[] };
    const un = only.findings.filter((x) => x.kind.startsWith('quic.'));
    expect(un.map((x) => [x.kind, x.severity, x.site, x.count, x.total, x.connectionIds])).toEqual([['quic.handshake-unanswered', 'critical', 'googleads.g.doubleclick.net', 1, 1, [only.quic[0].connectionId]]]);
    expect(un[0].summary).toMatch(/1 of 1 QUIC handshake got no answer .*UDP 443 blocked/);
    const closed = analyzeFile(capture('quic-v1-clienthello-split-over-multiple-initials-client-close.pcap')).report as unknown as { findings: F[] };
    const failed = closed.findings.filter((x) => x.kind.startsWith('quic.'));
    expect(failed.map((x) => [x.kind, x.site, x.count, x.total])).toEqual([['quic.handshake-failed', 'googleads.g.doubleclick.net', 1, 1]]);
    expect(failed[0].summary).toMatch(/failed \(NO_ERROR: 25:No recent network activity.* from the client ×1\)/);
    // Completed handshakes give no QUIC finding.
    for (const name of ['quic-v1-handshake-quic-go-interop-ppp.pcap', 'quic-v1-retry-quic-go-interop-ppp.pcap', 'quic-draft29-localhost.pcap', 'quic-v2-http3-keys-in-pcapng-dsb.pcapng']) {
      const r = analyzeFile(capture(name)).report as unknown as { findings: F[] };
      expect(r.findings.filter((x) => x.kind.startsWith('quic.')), name).toEqual([]);
    }
  });

  // tshark 4.0 decrypts the DSB captures but has no QPACK (and does not dissect Chrome's HTTP/3):
  // its STREAM frames say which request streams (client-initiated bidirectional) each side sent on.
  for (const name of QUIC_CAPTURES.filter((n) => n.includes('keys-in-pcapng-dsb'))) {
    it(`${name}: one h3 exchange per request stream tshark sees, answered where the server sent on it`, () => {
      const report = analyzeFile(capture(name)).report as unknown as { quic: QuicJson[]; http: { protocol: string; streamId: number; method: string | null; host: string | null; uri: string | null; status: number | null; connectionId: number }[] };
      const rows = tsharkFields(capture(name), ['udp.srcport', 'quic.stream.stream_id'], ['-Y', 'quic.stream.stream_id']);
      const clientPort = tsharkFields(capture(name), ['udp.srcport'], ['-Y', 'quic.long.packet_type==0 || quic.long.packet_type_v2==1'])[0][0];
      const sent = [new Set<number>(), new Set<number>()];
      for (const [port, ids] of rows) for (const id of ids.split(',').map(Number)) if (id % 4 === 0) sent[port === clientPort ? 0 : 1].add(id);
      const h3 = report.http.filter((x) => x.protocol === 'h3');
      expect(h3.map((x) => x.streamId)).toEqual([...sent[0]].sort((x, y) => x - y));
      for (const x of h3) {
        expect(x.connectionId).toBe(report.quic[0].connectionId);
        expect([x.method, x.host]).toEqual(['GET', report.quic[0].sni]);
        expect(x.uri).toMatch(/^\//);
        expect(x.status !== null, `stream ${x.streamId} answered`).toBe(sent[1].has(x.streamId));
      }
    });
  }

  it('a version Tapscope cannot read (the quic-go handshake relabelled Q050, as Google QUIC): the server answered in it, so established, no finding', () => {
    // Every long header's version (bytes 1-4) becomes "Q050"; datagrams that begin with a short
    // header are left out, so only the handshake's packets say the server answered in that version.
    const session = new AnalysisSession();
    const r = openCapture(capture('quic-v1-handshake-quic-go-interop-ppp.pcap'));
    for (let p = r.next(); p; p = r.next()) {
      const data = p.data.slice(p.offset, p.offset + p.caplen);
      const q = 2 + 20 + 8; // PPP, IPv4, UDP
      if (data.length <= q + 5 || data[2] !== 0x45 || data[11] !== 17) continue;
      if ((data[q] & 0x80) === 0) continue;
      data.set([0x51, 0x30, 0x35, 0x30], q + 1);
      session.feed({ ...p, data, view: new DataView(data.buffer), offset: 0 } as PacketRecord);
    }
    r.close();
    session.finish();
    const report = session.report({ path: 'q050', format: 'pcap', interfaces: [], comments: [] } as never) as unknown as { quic: QuicJson[]; findings: { kind: string }[] };
    expect(report.quic.map((q) => [q.version, q.sni, q.state])).toEqual([['0x51303530', null, 'established']]);
    expect(report.findings.filter((f) => f.kind.startsWith('quic.'))).toEqual([]);
  });

  it('CONNECTION_CLOSE codes by name, CRYPTO_ERROR as the TLS alert (RFC 9000 §20.1, RFC 9001 §4.8)', () => {
    expect(transportErrorName(0)).toBe('NO_ERROR');
    expect(transportErrorName(0x0a)).toBe('PROTOCOL_VIOLATION');
    expect(transportErrorName(0x100 + 40)).toBe('CRYPTO_ERROR handshake_failure');
    expect(transportErrorName(0x100 + 120)).toBe('CRYPTO_ERROR no_application_protocol');
    expect(transportErrorName(0x4242)).toBe('0x4242');
  });
});
