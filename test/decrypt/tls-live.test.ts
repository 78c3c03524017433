import { constants } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { analyzeWithKeys, expectHttpLikeTshark } from './tls-oracle.js';
import { useNativeCiphers } from '../../main/decrypt/ciphers.js';
import { canCaptureLoopback, captureLoopback, captureOrderArtefacts, recordInOrder, startTestHttpsServer, swapFrames } from './loopback-capture.js';
import { tsharkFields } from '../helpers/captures.js';

/*
 * Real TLS traffic on loopback: Node's https server (OpenSSL) writes the NSS key log through
 * its 'keylog' event, Node clients make several requests per connection (one answered 503,
 * a POST body, a HEAD, a 200 kB response spread over many records and segments), one
 * connection per cipher suite (and the resumed sessions Node's agent may open), captured by
 * tcpdump on `lo`. Tapscope's exchanges must equal
 * tshark's with the same key log.
 */

const canRun = canCaptureLoopback();

interface Config {
  name: string;
  maxVersion: 'TLSv1.2' | 'TLSv1.3';
  ciphers: string;
  /** Client does not offer encrypt_then_mac (RFC 7366): CBC records are MAC-then-encrypt. */
  noEtm?: boolean;
  suite: string;
}

const CONFIGS: Config[] = [
  { name: 'tls13-aes128gcm', maxVersion: 'TLSv1.3', ciphers: 'TLS_AES_128_GCM_SHA256', suite: 'TLS_AES_128_GCM_SHA256' },
  { name: 'tls13-aes256gcm', maxVersion: 'TLSv1.3', ciphers: 'TLS_AES_256_GCM_SHA384', suite: 'TLS_AES_256_GCM_SHA384' },
  { name: 'tls13-chacha', maxVersion: 'TLSv1.3', ciphers: 'TLS_CHACHA20_POLY1305_SHA256', suite: 'TLS_CHACHA20_POLY1305_SHA256' },
  { name: 'tls12-aes128gcm', maxVersion: 'TLSv1.2', ciphers: 'ECDHE-RSA-AES128-GCM-SHA256', suite: 'TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256' },
  { name: 'tls12-aes256gcm', maxVersion: 'TLSv1.2', ciphers: 'ECDHE-RSA-AES256-GCM-SHA384', suite: 'TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384' },
  { name: 'tls12-chacha', maxVersion: 'TLSv1.2', ciphers: 'ECDHE-RSA-CHACHA20-POLY1305', suite: 'TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256' },
  { name: 'tls12-cbc-sha1-etm', maxVersion: 'TLSv1.2', ciphers: 'ECDHE-RSA-AES128-SHA', suite: 'TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA' },
  { name: 'tls12-cbc-sha1-mte', maxVersion: 'TLSv1.2', ciphers: 'ECDHE-RSA-AES256-SHA', noEtm: true, suite: 'TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA' },
  { name: 'tls12-cbc-sha384-mte', maxVersion: 'TLSv1.2', ciphers: 'ECDHE-RSA-AES256-SHA384', noEtm: true, suite: '0xc028' },
];

function request(agent: https.Agent, port: number, method: string, path: string, body?: Buffer): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = https.request({ host: '127.0.0.1', port, method, path, agent, headers: { host: `site-${path.split('/')[2]}.test` } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function capture(dir: string): Promise<{ pcap: string; keys: string }> {
  const server = await startTestHttpsServer(dir);
  const port = server.port;
  const pcap = join(dir, 'live.pcap');
  const dump = await captureLoopback(pcap, port);
  try {
    for (const c of CONFIGS) {
      const agent = new https.Agent({
        keepAlive: true, maxSockets: 1, rejectUnauthorized: false, servername: 'localhost', maxVersion: c.maxVersion, minVersion: c.maxVersion,
        ciphers: c.ciphers, ...(c.noEtm ? { secureOptions: constants.SSL_OP_NO_ENCRYPT_THEN_MAC } : {}),
      });
      expect(await request(agent, port, 'GET', `/ok/${c.name}`)).toBe(200);
      expect(await request(agent, port, 'POST', `/echo/${c.name}`, Buffer.alloc(3000, 0x62))).toBe(200);
      expect(await request(agent, port, 'GET', `/fail/${c.name}`)).toBe(503);
      expect(await request(agent, port, 'HEAD', `/head/${c.name}`)).toBe(200);
      expect(await request(agent, port, 'GET', `/big/${c.name}`)).toBe(200);
      agent.destroy();
    }
  } finally {
    await dump.stop();
    await server.close();
  }
  const keys = join(dir, 'sslkeylog.txt');
  writeFileSync(keys, server.keyLogLines.join('\n') + '\n');
  return { pcap, keys };
}

describe.skipIf(!canRun)('TLS decryption of real traffic (Node https on loopback, tcpdump) vs tshark', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tapscope-tls-live-'));
  let cap: { pcap: string; keys: string } | null = null;

  it('decrypts every connection, each cipher suite, and its exchanges equal tshark\'s', async () => {
    cap = await recordInOrder(() => capture(dir), (c) => c.pcap);
    expect(existsSync(cap.pcap)).toBe(true);
    const r = analyzeWithKeys(cap.pcap, [cap.keys]);
    const agreement = expectHttpLikeTshark(cap.pcap, cap.keys, r);
    expect(agreement).toEqual({ requests: CONFIGS.length * 5, responses: CONFIGS.length * 5 });
    const hs = r.session.app.tls.handshakes;
    // Node's agent may open a second connection per suite (resuming the session): same cipher.
    expect([...new Set(hs.map((h) => h.cipher))].sort()).toEqual(CONFIGS.map((c) => c.suite).sort());
    expect(hs.every((h) => h.decrypted)).toBe(true);
    expect(r.report.warnings.filter((w) => /TLS|key log|decrypt/.test(w.message))).toEqual([]);
    const xs = r.session.app.http.exchanges;
    expect(xs.filter((x) => x.status === 503).map((x) => x.uri).sort()).toEqual(CONFIGS.map((c) => `/fail/${c.name}`).sort());
    expect(xs.filter((x) => x.uri?.startsWith('/big/')).every((x) => x.responseBodyBytes === 200_000)).toBe(true);
    expect(xs.filter((x) => x.method === 'POST').every((x) => x.requestBodyBytes === 3000)).toBe(true);
    // The 5xx exchanges are findings, as in clear-text HTTP.
    expect(JSON.stringify(r.report.findings)).toMatch(/503/);
    // The pure-JS ciphers (@noble, what a runtime without a native cipher uses) give the same.
    useNativeCiphers(false);
    try {
      const pure = analyzeWithKeys(cap.pcap, [cap.keys]);
      expect(JSON.stringify(pure.report.http)).toBe(JSON.stringify(r.report.http));
      expect(pure.session.app.tls.handshakes.every((h) => h.decrypted)).toBe(true);
    } finally {
      useNativeCiphers(true);
    }
  }, 150_000);

  it('a capture with the directions out of order (ACK before the ServerHello, response before its request) gives the same exchanges', () => {
    expect(cap).not.toBeNull();
    // What a tap merging two links, or a loaded machine's loopback, sometimes does (tshark 4.0
    // then decrypts nothing of that connection, or pairs a response with the wrong request).
    const rows = tsharkFields(cap!.pcap, ['frame.number', 'tcp.stream', 'tls.handshake.type', 'tcp.srcport', 'tcp.len', 'http.request'], ['-o', `tls.keylog_file:${cap!.keys}`]);
    const next = (i: number, ok: (q: string[]) => boolean) => rows.slice(i + 1).find((q) => q[1] === rows[i][1] && ok(q));
    const swapsOf = (pick: (r: string[]) => boolean, partner: (r: string[], q: string[]) => boolean): [number, number][] => {
      const pairs: [number, number][] = [];
      rows.forEach((r, i) => {
        if (!pick(r)) return;
        const q = next(i, (q) => partner(r, q));
        if (q) pairs.push([Number(r[0]), Number(q[0])]);
      });
      return pairs;
    };
    const inOrder = analyzeWithKeys(cap!.pcap, [cap!.keys]);
    const cases = {
      // Each ServerHello swapped with the client's ACK of it.
      'ACK before the ServerHello': swapsOf((r) => r[2].split(',').includes('2'), () => true),
      // Each request swapped with the first segment of its answer.
      'response before its request': swapsOf((r) => r[5] !== '', (r, q) => q[3] !== r[3] && Number(q[4]) > 0),
    };
    for (const [name, pairs] of Object.entries(cases)) {
      expect(pairs.length, name).toBeGreaterThanOrEqual(CONFIGS.length);
      const swapped = join(dir, 'swapped.pcap');
      swapFrames(cap!.pcap, swapped, pairs);
      expect(captureOrderArtefacts(swapped).length, name).toBeGreaterThan(0);
      const r = analyzeWithKeys(swapped, [cap!.keys]);
      expect(r.session.app.tls.handshakes.every((h) => h.decrypted), name).toBe(true);
      expect(JSON.stringify(r.report.http), name).toBe(JSON.stringify(inOrder.report.http));
    }
  });

  it('with a wrong key log: one warning per connection, no exchange, no exception', () => {
    expect(cap).not.toBeNull();
    const bad = readFileSync(cap!.keys, 'utf8').replace(/^(\S+ \S+ )([0-9a-f])/gm, (_m, p, c) => p + (parseInt(c, 16) ^ 8).toString(16));
    writeFileSync(join(dir, 'bad.keys'), bad);
    const r = analyzeWithKeys(cap!.pcap, [join(dir, 'bad.keys')]);
    expect(r.session.app.http.exchanges).toEqual([]);
    expect(r.report.warnings.filter((w) => /records do not decrypt/.test(w.message))).toHaveLength(r.session.app.tls.handshakes.length);
    expect(r.session.app.tls.handshakes.some((h) => h.decrypted)).toBe(false);
  });
});
