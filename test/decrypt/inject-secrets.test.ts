import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { analyzeFile } from '../../main/engine/analyze-file.js';
import { KeyLog } from '../../main/decrypt/key-log.js';
import { PcapngReader } from '../../main/pcap/pcapng.js';
import { openCapture } from '../../main/pcap/reader.js';
import { inProcess, type Transport } from '../services/harness.js';
import { capture, tsharkFields } from '../helpers/captures.js';

/*
 * saveCapture({ embedKeys }): the secrets of the saved TLS sessions go into a pcapng
 * Decryption Secrets Block, as `editcap --inject-secrets tls,KEYS` writes it. The saved file
 * then decrypts by itself, in tshark and in Tapscope; a saved connection carries only its own
 * session's keys.
 */
describe('saving with the keys embedded (pcapng DSB)', () => {
  let t: Transport;
  beforeAll(async () => {
    t = await inProcess();
  });
  afterAll(() => t.close());

  const open = async (path: string, keylogPath?: string) => {
    const info = await t.api.openFile({ path, decodeAs: [], ...(keylogPath ? { keylogPath } : {}) });
    await t.service.whenDone(info.sessionId);
    return info.sessionId;
  };
  const dsbSessions = (file: string) => {
    const r = openCapture(file) as PcapngReader;
    const k = new KeyLog();
    r.onDecryptionSecrets = (type, data) => k.addDecryptionSecrets(type, data);
    while (r.next());
    r.close();
    return k.size;
  };
  const uris = (file: string) => tsharkFields(file, ['http.request.uri'], ['-Y', 'http.request']).map((r) => r[0]);

  it('a TLS 1.3 session opened with a key log saves to a pcapng tshark and Tapscope decrypt without it', async () => {
    const sid = await open(capture('tls13-rfc8446-early-data-keylog.pcap'), capture('tls13-rfc8446-early-data.keys'));
    const all = await t.api.saveCapture({ sessionId: sid, format: 'pcapng', embedKeys: true });
    expect(all.embeddedSessions).toBe(2);
    expect(dsbSessions(all.path)).toBe(2);
    expect(uris(all.path)).toEqual(['/first', '/early', '/second']);
    expect(analyzeFile(all.path).session.app.http.exchanges.map((x) => x.uri)).toEqual(['/first', '/early', '/second']);

    // One connection: only its session's keys.
    const one = await t.api.saveCapture({ sessionId: sid, format: 'pcapng', connectionId: 0, embedKeys: true });
    expect(one.embeddedSessions).toBe(1);
    expect(dsbSessions(one.path)).toBe(1);
    expect(uris(one.path)).toEqual(['/first']);

    // Without embedKeys nothing is embedded; pcap cannot hold keys.
    const plain = await t.api.saveCapture({ sessionId: sid, format: 'pcapng' });
    expect(plain.embeddedSessions).toBeUndefined();
    expect(dsbSessions(plain.path)).toBe(0);
    expect(uris(plain.path)).toEqual([]);
    await expect(t.api.saveCapture({ sessionId: sid, format: 'pcap', embedKeys: true })).rejects.toThrow(/pcapng/);
    await t.api.closeSession(sid);
  });

  it('keys from the source\'s own DSBs are carried into a subset of a pcapng capture', async () => {
    const sid = await open(capture('tls12-http-keys-in-pcapng-dsb.pcapng'));
    const one = await t.api.saveCapture({ sessionId: sid, format: 'pcapng', connectionId: 1, embedKeys: true });
    expect(existsSync(one.path)).toBe(true);
    expect(one.embeddedSessions).toBe(1);
    expect(dsbSessions(one.path)).toBe(1);
    expect(analyzeFile(one.path).session.app.http.exchanges.map((x) => `${x.host} ${x.status}`)).toEqual(['example.net 200']);
    expect(tsharkFields(one.path, ['http.host'], ['-Y', 'http.request']).map((r) => r[0])).toEqual(['example.net']);
    await t.api.closeSession(sid);
  });

  it('validation refuses a non-boolean embedKeys', async () => {
    const sid = await open(capture('tls13-rfc8446-early-data-keylog.pcap'));
    await expect(t.api.saveCapture({ sessionId: sid, format: 'pcapng', embedKeys: 'yes' as unknown as boolean })).rejects.toThrow(/embedKeys/);
    await t.api.closeSession(sid);
  });
});
