import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tsharkFields } from '../helpers/captures.js';
import { canCaptureLoopback, recordSClient, startOkHttpsServer } from './loopback-capture.js';
import { analyzeWithKeys, expectHttpLikeTshark } from './tls-oracle.js';
import { analyzeFile } from '../../main/engine/analyze-file.js';

/*
 * TLS 1.3 HelloRetryRequest (RFC 8446 §4.1.4) on real traffic: Node's https server accepts
 * only P-256 key shares, `openssl s_client -groups X25519:P-256` offers a key share for
 * X25519 only, so the server answers its first ClientHello with a HelloRetryRequest (a
 * ServerHello with the special random), both sides send their middlebox-compatibility
 * ChangeCipherSpec (RFC 8446 D.4), then come the second ClientHello and the real ServerHello
 * in clear text. The key log names the session by the (unchanged) client random: the HTTP
 * inside must decrypt as tshark's does, with the handshake times of the real ServerHello.
 */

const canRun = canCaptureLoopback();

describe.skipIf(!canRun)('TLS 1.3 HelloRetryRequest on real traffic (openssl s_client -> Node https) vs tshark', () => {
  it('decrypts the session after a HelloRetryRequest', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tapscope-hrr-'));
    const server = await startOkHttpsServer(dir, { ecdhCurve: 'P-256', minVersion: 'TLSv1.3' });
    const port = server.port;
    const pcap = join(dir, 'hrr.pcap');
    const keys = join(dir, 'client.keys');
    try {
      await recordSClient(pcap, port, keys, ['-groups', 'X25519:P-256'], ['GET /after-retry HTTP/1.1\nHost: hrr.test\n\n', 'GET /fail/after-retry HTTP/1.1\nHost: hrr.test\n\n'], 2);
    } finally {
      await server.close();
    }
    // The capture holds a HelloRetryRequest, two ClientHellos and two ServerHellos (as tshark reads them).
    const hellos = tsharkFields(pcap, ['tls.handshake.type', 'tls.handshake.random'], ['-Y', 'tls.handshake.type == 1 || tls.handshake.type == 2']);
    const HRR = 'cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c';
    expect(hellos.map((h) => h[0])).toEqual(['1', '2', '1', '2']);
    expect(hellos[1][1]).toBe(HRR);
    expect(hellos[3][1]).not.toBe(HRR);
    expect(hellos[2][1]).toBe(hellos[0][1]); // the second ClientHello keeps the random
    const r = analyzeWithKeys(pcap, [keys]);
    expect(expectHttpLikeTshark(pcap, keys, r)).toEqual({ requests: 2, responses: 2 });
    expect(r.session.app.http.exchanges.map((x) => `${x.uri} ${x.status}`)).toEqual(['/after-retry 200', '/fail/after-retry 502']);
    const tls = r.report.tls as { version: string; decrypted: boolean; alert: string | null; certificate: { subject: string } | null; handshakeTime: number | null }[];
    expect(tls).toHaveLength(1);
    expect(tls[0]).toMatchObject({ version: 'TLS 1.3', decrypted: true, alert: null });
    // The TLS 1.3 certificate is visible only once the handshake after the retry is decrypted.
    expect(tls[0].certificate?.subject).toContain('localhost');
    // Handshake time: the first ClientHello to the client's Finished, tshark's frame times.
    const frames = tsharkFields(pcap, ['frame.time_epoch', 'tls.handshake.type'], ['-o', `tls.keylog_file:${keys}`, '-Y', 'tls.handshake.type == 1 || (tls.handshake.type == 20 && tcp.dstport == ' + port + ')']);
    const first = Number(frames[0][0]);
    const finished = Number(frames[frames.length - 1][0]);
    expect(tls[0].handshakeTime).toBeCloseTo(finished - first, 6);
    // Without keys the clear-text analysis reads the same handshake (the second ClientHello and
    // real ServerHello are not taken for protected records): same version and handshake time.
    const plain = analyzeFile(pcap).report.tls as typeof tls;
    expect(plain.map((t) => [t.version, t.handshakeTime, t.decrypted])).toEqual([['TLS 1.3', tls[0].handshakeTime, false]]);
    expect(r.report.warnings.filter((w) => /TLS|key log|decrypt/.test(w.message))).toEqual([]);
  }, 60_000);
});
