import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tsharkFields } from '../helpers/captures.js';
import { canCaptureLoopback, recordSClient, startOkHttpsServer } from './loopback-capture.js';
import { analyzeWithKeys, expectHttpLikeTshark } from './tls-oracle.js';

/*
 * TLS 1.3 KeyUpdate (RFC 8446 §4.6.3) on real traffic: `openssl s_client` sends HTTP/1.1
 * requests to Node's https server, and between them its "k" command (KeyUpdate, client keys)
 * and "K" (update_requested: the server updates its keys too). The key log (s_client
 * -keylogfile) holds only the *_TRAFFIC_SECRET_0 secrets: every request and response after
 * an update must still decrypt, as tshark's do.
 */

const canRun = canCaptureLoopback();

describe.skipIf(!canRun)('TLS 1.3 KeyUpdate on real traffic (openssl s_client -> Node https) vs tshark', () => {
  it('follows client and server key updates', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tapscope-keyupdate-'));
    const server = await startOkHttpsServer(dir);
    const port = server.port;
    const pcap = join(dir, 'keyupdate.pcap');
    const keys = join(dir, 'client.keys');
    try {
      await recordSClient(pcap, port, keys, [], [
        'GET /before HTTP/1.1\nHost: ku.test\n\n', 'k\n', 'GET /after-client-update HTTP/1.1\nHost: ku.test\n\n', 'K\n',
        'GET /fail/after-both-updates HTTP/1.1\nHost: ku.test\n\n', 'K\n', 'GET /after-second-update HTTP/1.1\nHost: ku.test\n\n',
      ], 4);
    } finally {
      await server.close();
    }
    // The capture holds KeyUpdates from both sides (tshark decrypts them with the key log).
    const updates = tsharkFields(pcap, ['tcp.srcport'], ['-o', `tls.keylog_file:${keys}`, '-Y', 'tls.handshake.type == 24']).map((r) => r[0] === String(port) ? 'server' : 'client');
    expect(updates.filter((s) => s === 'client').length).toBe(3);
    expect(updates.filter((s) => s === 'server').length).toBeGreaterThanOrEqual(1);
    const r = analyzeWithKeys(pcap, [keys]);
    expect(expectHttpLikeTshark(pcap, keys, r)).toEqual({ requests: 4, responses: 4 });
    expect(r.session.app.http.exchanges.map((x) => `${x.uri} ${x.status}`)).toEqual([
      '/before 200', '/after-client-update 200', '/fail/after-both-updates 502', '/after-second-update 200',
    ]);
    expect(r.report.warnings.filter((w) => /TLS|key log|decrypt/.test(w.message))).toEqual([]);
  }, 150_000);
});
