import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inProcess, type Transport } from '../services/harness.js';
import { capture } from '../helpers/captures.js';

/*
 * The app's openFile: a key log chosen for the session (`keylogPath`), and the DSBs of a
 * pcapng, decrypt TLS in the analysis worker's code path (runAnalysis); a key log that cannot
 * be read is a warning, not a failure. Validation refuses a keylogPath that is not a string.
 */
describe('openFile with a key log', () => {
  let t: Transport;
  beforeAll(async () => {
    t = await inProcess();
  });
  afterAll(() => t.close());

  const httpOf = async (path: string, keylogPath?: string) => {
    const info = await t.api.openFile({ path, decodeAs: [], ...(keylogPath ? { keylogPath } : {}) });
    await t.service.whenDone(info.sessionId);
    const http = (await t.api.http({ sessionId: info.sessionId, offset: 0, limit: 100 })).rows.map((h) => `${h.method} ${h.uri} ${h.status}`);
    const summary = await t.api.summary(info.sessionId);
    await t.api.closeSession(info.sessionId);
    return { http, summary };
  };

  it('decrypts TLS 1.3 with the session key log, and TLS 1.2 with the capture\'s DSBs', async () => {
    const tls13 = capture('tls13-rfc8446-early-data-keylog.pcap');
    expect((await httpOf(tls13)).http).toEqual([]);
    expect((await httpOf(tls13, capture('tls13-rfc8446-early-data.keys'))).http).toEqual(['GET /first 200', 'GET /early 200', 'GET /second 200']);
    expect((await httpOf(capture('tls12-http-keys-in-pcapng-dsb.pcapng'))).http).toEqual(['HEAD / 200', 'HEAD / 200']);
  });

  it('a missing key log file is a warning; the capture still opens', async () => {
    const { http, summary } = await httpOf(capture('tls13-rfc8446-early-data-keylog.pcap'), '/nonexistent/keys.log');
    expect(http).toEqual([]);
    expect(JSON.stringify(summary)).toMatch(/cannot read key log \/nonexistent\/keys\.log/);
  });

  it('validation refuses a keylogPath that is not a string', async () => {
    await expect(t.api.openFile({ path: capture('tls13-rfc8446-early-data-keylog.pcap'), keylogPath: 42 as unknown as string })).rejects.toThrow(/keylogPath/);
  });
});
