import { describe, expect, it } from 'vitest';
import { analyzeFile } from '../../main/engine/analyze-file.js';
import { transportErrorName } from '../../main/analysis/quic-connections.js';
import { allCaptures, capture } from '../helpers/captures.js';
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
      const expected = tsharkConnections(capture(name));
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

  it('CONNECTION_CLOSE codes by name, CRYPTO_ERROR as the TLS alert (RFC 9000 §20.1, RFC 9001 §4.8)', () => {
    expect(transportErrorName(0)).toBe('NO_ERROR');
    expect(transportErrorName(0x0a)).toBe('PROTOCOL_VIOLATION');
    expect(transportErrorName(0x100 + 40)).toBe('CRYPTO_ERROR handshake_failure');
    expect(transportErrorName(0x100 + 120)).toBe('CRYPTO_ERROR no_application_protocol');
    expect(transportErrorName(0x4242)).toBe('0x4242');
  });
});
