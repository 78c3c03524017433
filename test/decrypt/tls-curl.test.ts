import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { canCaptureLoopback, captureLoopback, recordInOrder, startTestHttpsServer } from './loopback-capture.js';
import { analyzeWithKeys, expectHttpLikeTshark } from './tls-oracle.js';

/*
 * curl (Debian's, OpenSSL) as the client, writing its own key log through SSLKEYLOGFILE:
 * TLS 1.2 with ChaCha20-Poly1305 and AES-256-GCM, TLS 1.3 with ChaCha20-Poly1305 — several
 * URLs per connection (curl reuses it), one answered 503. Exchanges equal tshark's.
 */

const hasCurl = (() => {
  try {
    execFileSync('which', ['curl'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

const RUNS = [
  { name: 'tls12-chacha', args: ['--tlsv1.2', '--tls-max', '1.2', '--ciphers', 'ECDHE-RSA-CHACHA20-POLY1305'], suite: 'TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256' },
  { name: 'tls12-aes256gcm', args: ['--tlsv1.2', '--tls-max', '1.2', '--ciphers', 'ECDHE-RSA-AES256-GCM-SHA384'], suite: 'TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384' },
  { name: 'tls13-chacha', args: ['--tlsv1.3', '--tls13-ciphers', 'TLS_CHACHA20_POLY1305_SHA256'], suite: 'TLS_CHACHA20_POLY1305_SHA256' },
];

describe.skipIf(!canCaptureLoopback() || !hasCurl)('TLS decryption of curl traffic (SSLKEYLOGFILE) vs tshark', () => {
  it('decrypts curl\'s TLS 1.2 and 1.3 ChaCha20 and AES-GCM connections', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tapscope-tls-curl-'));
    const pcap = join(dir, 'curl.pcap');
    const keys = join(dir, 'curl.keys');
    const record = async () => {
      rmSync(keys, { force: true });
      const server = await startTestHttpsServer(dir);
      const dump = await captureLoopback(pcap, server.port);
      try {
        for (const r of RUNS) {
          const base = `https://127.0.0.1:${server.port}`;
          // Asynchronously: the server runs in this process.
          const { stdout: out } = await promisify(execFile)('curl', ['-sk', '--http1.1', ...r.args, '-w', '%{http_code}\\n',
            ...['ok', 'fail', 'big'].flatMap((p) => ['-o', '/dev/null', `${base}/${p}/${r.name}`])], { env: { ...process.env, SSLKEYLOGFILE: keys }, encoding: 'utf8', timeout: 20_000 });
          expect(out.trim().split('\n')).toEqual(['200', '503', '200']);
        }
      } finally {
        await dump.stop();
        await server.close();
      }
    };
    await recordInOrder(record, () => pcap);
    expect(existsSync(keys)).toBe(true);
    const a = analyzeWithKeys(pcap, [keys]);
    expect(expectHttpLikeTshark(pcap, keys, a)).toEqual({ requests: RUNS.length * 3, responses: RUNS.length * 3 });
    const hs = a.session.app.tls.handshakes;
    expect(hs.map((h) => h.cipher)).toEqual(RUNS.map((r) => r.suite));
    expect(hs.every((h) => h.decrypted)).toBe(true);
    expect(a.session.app.http.exchanges.filter((x) => x.status === 503).length).toBe(RUNS.length);
  }, 150_000);
});
