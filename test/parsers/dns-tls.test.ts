import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseDns, readName } from '../../main/parsers/dns.js';
import { parseCertificate } from '../../main/parsers/x509.js';
import { TlsStreamParser, type TlsEvents } from '../../main/parsers/tls.js';
import { TlsHandshakes } from '../../main/analysis/tls-handshakes.js';
import { DnsTransactions } from '../../main/analysis/dns-transactions.js';
import type { Connection } from '../../main/analysis/types.js';
import { fakeConnection } from './fake-connection.js';

const u16 = (v: number) => [v >> 8, v & 255];
const u24 = (v: number) => [v >> 16, (v >> 8) & 255, v & 255];
const name = (n: string) => [...n.split('.').flatMap((l) => [l.length, ...Buffer.from(l)]), 0];

describe('DNS messages', () => {
  it('reads question, rcode and A/AAAA/CNAME answers through compression pointers', () => {
    const msg = new Uint8Array([
      0x12, 0x34, 0x81, 0x80, 0, 1, 0, 3, 0, 0, 0, 0,
      ...name('www.example.com'), 0, 1, 0, 1,
      0xc0, 12, 0, 5, 0, 1, 0, 0, 0, 60, ...u16(6), 3, ...Buffer.from('cdn'), 0xc0, 16, // CNAME cdn.example.com
      0xc0, 33, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 1,
      0xc0, 33, 0, 28, 0, 1, 0, 0, 0, 60, 0, 16, 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1,
    ]);
    const m = parseDns(msg, 0, msg.length)!;
    expect([m.id, m.isResponse, m.rcode, m.qname, m.qtype]).toEqual([0x1234, true, 0, 'www.example.com', 1]);
    expect(m.answers).toEqual(['cdn.example.com', '192.0.2.1', '2001:db8::1']);
  });

  it('ends a pointer loop as a malformed name instead of hanging', () => {
    const msg = new Uint8Array([0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 12, 0, 1, 0, 1]);
    expect(readName(msg, 12, 0, msg.length)).toBeNull();
    expect(parseDns(msg, 0, msg.length)).toBeNull();
    const twoStep = new Uint8Array([0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, 97, 0xc0, 14, 0, 1, 0, 1]);
    expect(parseDns(twoStep, 0, twoStep.length)).toBeNull();
  });

  it('rejects truncated headers and questions', () => {
    expect(parseDns(new Uint8Array(11), 0, 11)).toBeNull();
    const cut = new Uint8Array([0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 3, 97, 98]);
    expect(parseDns(cut, 0, cut.length)).toBeNull();
  });
});

describe('DNS over TCP', () => {
  it('reads length-prefixed messages split across segments and pairs them', () => {
    const d = new DnsTransactions();
    const c = fakeConnection(3, { ip: '10.0.0.1', port: 50000 }, { ip: '10.0.0.53', port: 53 });
    const s = d.detect(c)!;
    const q = [0xab, 0xcd, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, ...name('big.example'), 0, 16, 0, 1];
    const r = [0xab, 0xcd, 0x81, 0x82, 0, 1, 0, 0, 0, 0, 0, 0, ...name('big.example'), 0, 16, 0, 1];
    const qs = [...u16(q.length), ...q];
    s.client.data(new Uint8Array(qs.slice(0, 1)), 0, 1, 5);
    s.client.data(new Uint8Array(qs.slice(1)), 0, qs.length - 1, 5.001);
    const rs = [...u16(r.length), ...r];
    s.server.data(new Uint8Array(rs), 0, rs.length, 5.101);
    expect(d.json()).toEqual([{
      transport: 'tcp', client: { ip: '10.0.0.1', port: 50000 }, server: { ip: '10.0.0.53', port: 53 }, id: 0xabcd,
      qname: 'big.example', qtype: 'TXT', rcode: 2, answers: [], queryTs: 5.001, responseTime: 0.1,
    }]);
  });
});

/** A self-signed certificate made by openssl, checked against Node's X.509 parser. */
function makeCert(days: number): Buffer {
  const d = mkdtempSync(join(tmpdir(), 'tsB-cert-'));
  try {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', join(d, 'k.pem'),
      '-out', join(d, 'c.der'), '-outform', 'DER', '-subj', '/C=NL/O=Tapscope Test/CN=shop.example', '-days', String(days)], { stdio: 'ignore' });
    return readFileSync(join(d, 'c.der'));
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
}

describe('X.509 certificates', () => {
  it('reads subject, issuer and validity as Node does', () => {
    const der = makeCert(30);
    const c = parseCertificate(der, 0, der.length)!;
    const ref = new X509Certificate(der);
    expect(c.subject).toBe('C=NL, O=Tapscope Test, CN=shop.example');
    expect(ref.subject.split('\n')).toEqual(['C=NL', 'O=Tapscope Test', 'CN=shop.example']);
    expect(c.issuer).toBe(c.subject);
    expect(Date.parse(c.notBefore)).toBe(Date.parse(ref.validFrom));
    expect(Date.parse(c.notAfter)).toBe(Date.parse(ref.validTo));
  });

  it('returns null for anything that is not a certificate', () => {
    const der = makeCert(1);
    for (let cut = 0; cut < der.length; cut += 7) expect(parseCertificate(der.subarray(0, cut), 0, cut)).toBeNull();
    expect(parseCertificate(new Uint8Array([0x30, 0x84, 0xff, 0xff, 0xff, 0xff]), 0, 6)).toBeNull();
  });
});

function clientHello(sni: string, alpn: string[], versions: number[]): number[] {
  const ext = (type: number, body: number[]) => [...u16(type), ...u16(body.length), ...body];
  const sniBody = [...u16(sni.length + 3), 0, ...u16(sni.length), ...Buffer.from(sni)];
  const alpnList = alpn.flatMap((p) => [p.length, ...Buffer.from(p)]);
  const exts = [...ext(0, sniBody), ...ext(16, [...u16(alpnList.length), ...alpnList]), ...ext(43, [versions.length * 2, ...versions.flatMap(u16)])];
  const body = [3, 3, ...new Array(32).fill(7), 0, ...u16(4), 0x13, 0x01, 0xc0, 0x2f, 1, 0, ...u16(exts.length), ...exts];
  return [1, ...u24(body.length), ...body];
}

function serverHello(version: number, cipher: number): number[] {
  const ext = version === 0x0304 ? [0, 43, 0, 2, ...u16(0x0304)] : [];
  const body = [3, 3, ...new Array(32).fill(9), 0, ...u16(cipher), 0, ...u16(ext.length), ...ext];
  return [2, ...u24(body.length), ...body];
}

const record = (type: number, body: number[]) => [type, 3, 3, ...u16(body.length), ...body];

function tlsConn(): Connection {
  return fakeConnection(3, { ip: '10.0.0.1', port: 50000 }, { ip: '10.0.0.9', port: 443 });
}

describe('TLS handshakes', () => {
  it('reads a ClientHello split across records and segments, byte by byte', () => {
    const hs = clientHello('shop.example', ['h2', 'http/1.1'], [0x1a1a, 0x0304, 0x0303]);
    // The handshake message is split over two records; the stream is fed one byte at a time.
    const bytes = [...record(22, hs.slice(0, 20)), ...record(22, hs.slice(20))];
    const seen: unknown[] = [];
    const ev = { clientHello: (h: unknown) => seen.push(h) } as unknown as TlsEvents;
    const p = new TlsStreamParser(true, ev);
    for (const b of bytes) p.data(new Uint8Array([b]), 0, 1, 0);
    expect(seen).toEqual([{ sni: 'shop.example', alpn: ['h2', 'http/1.1'], versions: ['TLS 1.3', 'TLS 1.2'], random: new Uint8Array(32).fill(7), earlyData: false }]);
  });

  it('times a TLS 1.2 handshake to the second Finished, reads the certificate and alerts', () => {
    const t = new TlsHandshakes();
    const ch = record(22, clientHello('old.example', [], [0x0303]));
    const s = t.detect(tlsConn(), true, new Uint8Array(ch), 0, ch.length)!;
    const feed = (sink: typeof s.client, b: number[], ts: number) => sink.data(new Uint8Array(b), 0, b.length, ts);
    const der = [...makeCert(1)];
    const certMsg = [11, ...u24(der.length + 6), ...u24(der.length + 3), ...u24(der.length), ...der];
    feed(s.client, ch, 10);
    // Several records in one segment: ServerHello, Certificate, ServerHelloDone.
    feed(s.server, [...record(22, serverHello(0x0303, 0xc02f)), ...record(22, certMsg), ...record(22, [14, 0, 0, 0])], 10.1);
    feed(s.client, [...record(22, [16, 0, 0, 1, 0]), ...record(20, [1]), ...record(22, new Array(40).fill(1))], 10.2);
    feed(s.server, [...record(20, [1]), ...record(22, new Array(40).fill(2))], 10.25);
    feed(s.client, record(23, new Array(30).fill(3)), 10.3);
    const [h] = t.handshakes;
    expect([h.sni, h.version, h.cipher]).toEqual(['old.example', 'TLS 1.2', 'TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256']);
    expect(h.certificate?.subject).toBe('C=NL, O=Tapscope Test, CN=shop.example');
    expect(t.json()[0]).toMatchObject({ connectionId: 3, sni: 'old.example', version: 'TLS 1.2', handshakeTime: 0.25, alert: null });
  });

  it('reports a fatal alert, and TLS 1.3 completes at the client Finished', () => {
    const t = new TlsHandshakes();
    const ch = record(22, clientHello('new.example', ['h2'], [0x0304]));
    const s = t.detect(tlsConn(), true, new Uint8Array(ch), 0, ch.length)!;
    s.client.data(new Uint8Array(ch), 0, ch.length, 1);
    const sh = [...record(22, serverHello(0x0304, 0x1301)), ...record(20, [1]), ...record(23, new Array(50).fill(0))];
    s.server.data(new Uint8Array(sh), 0, sh.length, 1.01);
    const fin = [...record(20, [1]), ...record(23, new Array(50).fill(0))];
    s.client.data(new Uint8Array(fin), 0, fin.length, 1.03);
    expect(t.json()[0]).toMatchObject({ version: 'TLS 1.3', handshakeTime: 0.03, alert: null, certificate: null });

    const t2 = new TlsHandshakes();
    const s2 = t2.detect(tlsConn(), true, new Uint8Array(ch), 0, ch.length)!;
    s2.client.data(new Uint8Array(ch), 0, ch.length, 1);
    const alert = record(21, [2, 40]);
    s2.server.data(new Uint8Array(alert), 0, alert.length, 1.02);
    expect(t2.json()[0]).toMatchObject({ sni: 'new.example', version: null, handshakeTime: null, alert: 'fatal handshake_failure' });
  });
});
