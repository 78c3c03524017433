import { describe, expect, it } from 'vitest';
import { analyzeFile } from '../../main/engine/analyze-file.js';
import { parseDns } from '../../main/parsers/dns.js';
import { parseCertificate } from '../../main/parsers/x509.js';
import { Http1StreamParser, type HttpParserEvents } from '../../main/parsers/http.js';
import { TlsStreamParser, type TlsEvents } from '../../main/parsers/tls.js';
import { HttpExchanges } from '../../main/analysis/http-exchanges.js';
import { TlsHandshakes } from '../../main/analysis/tls-handshakes.js';
import { DnsTransactions } from '../../main/analysis/dns-transactions.js';
import { TcpStreamReassembler } from '../../main/reassembly/tcp-stream.js';
import type { Connection } from '../../main/analysis/types.js';
import { fakeConnection } from './fake-connection.js';
import { capture } from '../helpers/captures.js';

/** Deterministic pseudo-random bytes (xorshift32), so a failure reproduces. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
}

function randomBytes(r: () => number, n: number, bias?: string): Uint8Array {
  const b = new Uint8Array(n);
  const alphabet = bias ? Buffer.from(bias, 'latin1') : null;
  for (let i = 0; i < n; i++) b[i] = alphabet && r() < 0.7 ? alphabet[Math.floor(r() * alphabet.length)] : Math.floor(r() * 256);
  return b;
}

const noop = () => {};
const httpEvents: HttpParserEvents = { head: noop, messageEnd: noop, messageAbort: noop, http2Preface: noop, end: noop, lostSync: noop, requestWasHead: () => false };
const tlsEvents: TlsEvents = { clientHello: noop, serverHello: noop, certificate: noop, changeCipherSpec: noop, encryptedHandshake: noop, applicationData: noop, alert: noop, end: noop };
const conn = (port: number): Connection => fakeConnection(1, { ip: '1.1.1.1', port: 1234 }, { ip: '2.2.2.2', port });

describe('parsers never throw on hostile input', () => {
  it('the fuzzed HTTP capture and the damaged file give partial results, no exception', () => {
    const r = analyzeFile(capture('malformed-fuzz-http-bigendian.pcap'));
    expect(Array.isArray(r.report.http)).toBe(true);
    expect(r.report.http.length).toBeGreaterThan(0);
    expect(Array.isArray(r.report.findings)).toBe(true);
    const g = analyzeFile(capture('malformed-garbage-record-header.pcap'));
    expect(g.error).not.toBeNull();
    expect(Array.isArray(g.report.findings)).toBe(true);
  });

  it('random and HTTP-flavoured bytes through every parser, in random pieces and gaps', () => {
    const r = rng(0x7a95c0de);
    for (let round = 0; round < 300; round++) {
      const n = Math.floor(r() * 3000);
      const b = randomBytes(r, n, round % 2 ? 'GET HTTP/1.1 200\r\n:Content-Length: 5chunked0123456789abcdef ' : undefined);
      expect(() => parseDns(b, 0, b.length)).not.toThrow();
      expect(() => parseCertificate(b, 0, b.length)).not.toThrow();
      const parsers = [new Http1StreamParser(true, httpEvents), new Http1StreamParser(false, httpEvents, true), new TlsStreamParser(true, tlsEvents), new TlsStreamParser(false, tlsEvents)];
      // The analysers on top (pairing, handshake state) get the same bytes.
      const apps = [
        new HttpExchanges().detect(conn(80), true, b, 0, b.length),
        new TlsHandshakes().detect(conn(443), true, new Uint8Array([22, 3, 1, 0, 5]), 0, 5),
        new DnsTransactions().detect(conn(53)),
      ].flatMap((a) => (a ? [a.client, a.server] : []));
      for (const p of [...parsers, ...apps]) {
        expect(() => {
          for (let o = 0; o < n;) {
            const k = 1 + Math.floor(r() * 200);
            p.data(b, o, Math.min(k, n - o), o);
            if (r() < 0.05) p.gap(1 + Math.floor(r() * 5000), o);
            o += k;
          }
          p.end(n, 'eof');
        }).not.toThrow();
      }
    }
  });

  it('random segments (any sequence number, length, order) through the reassembler', () => {
    const r = rng(12345);
    const sink = { data: noop, gap: noop, end: noop };
    for (let round = 0; round < 50; round++) {
      const s = new TcpStreamReassembler(sink);
      const base = Math.floor(r() * 2 ** 32);
      const buf = randomBytes(r, 2000);
      expect(() => {
        for (let i = 0; i < 400; i++) {
          const len = Math.floor(r() * 1500);
          const seq = (base + Math.floor(r() * 200_000) - 50_000) >>> 0;
          s.segment(seq, buf, 0, Math.min(len, buf.length), len, r() < 0.01, i);
          if (r() < 0.3) s.acked((base + Math.floor(r() * 300_000)) >>> 0, i);
        }
        s.close(400, 'eof');
      }).not.toThrow();
    }
  });
});
