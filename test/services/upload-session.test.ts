// Browser mode: an uploaded capture lives in its own private folder until the session that
// opened it closes; a second session on the same upload keeps it until that one closes too.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { SAMPLE, TOKEN, overWebSocket, type Transport } from './harness';
import type { RunningServer } from '../../main/cli/serve';

describe('uploads are removed when their session closes', () => {
  let t: Transport & { server: RunningServer };
  beforeAll(async () => {
    t = await overWebSocket();
  });
  afterAll(() => t.close());

  const upload = async (name: string): Promise<string> => {
    const r = await fetch(`http://127.0.0.1:${t.server.port}/upload?name=${name}&token=${TOKEN}`, {
      method: 'POST', headers: { 'x-tapscope-token': TOKEN }, body: readFileSync(SAMPLE),
    });
    expect(r.status).toBe(200);
    return ((await r.json()) as { path: string }).path;
  };

  it('one session: file and folder go when it closes', async () => {
    const path = await upload('dropped.pcapng');
    expect(statSync(path).size).toBe(statSync(SAMPLE).size);
    expect((statSync(dirname(path)).mode & 0o777).toString(8)).toBe('700'); // mkdtemp: private
    const info = await t.api.openFile({ path, decodeAs: [] });
    await t.service.whenDone(info.sessionId);
    expect(existsSync(path)).toBe(true);
    await t.api.closeSession(info.sessionId);
    expect(existsSync(path)).toBe(false);
    expect(existsSync(dirname(path))).toBe(false);
  });

  it('two sessions on one upload: it stays until the last closes; other uploads are not touched', async () => {
    const path = await upload('twice.pcapng');
    const other = await upload('other.pcapng');
    const a = await t.api.openFile({ path, decodeAs: [] });
    const b = await t.api.openFile({ path, decodeAs: [] });
    await Promise.all([t.service.whenDone(a.sessionId), t.service.whenDone(b.sessionId)]);
    await t.api.closeSession(a.sessionId);
    expect(existsSync(path)).toBe(true);
    await t.api.closeSession(b.sessionId);
    expect(existsSync(path)).toBe(false);
    expect(existsSync(other)).toBe(true); // never opened: removed with the rest when the server closes
  });

  it('a file opened by path (not uploaded) is never removed', async () => {
    const info = await t.api.openFile({ path: SAMPLE, decodeAs: [] });
    await t.service.whenDone(info.sessionId);
    await t.api.closeSession(info.sessionId);
    expect(existsSync(SAMPLE)).toBe(true);
  });
});

describe('saved files waiting for download', () => {
  it('live in a private mkdtemp folder (not a predictable path), removed when the service is disposed', async () => {
    const t = await overWebSocket();
    try {
      const info = await t.api.openFile({ path: SAMPLE, decodeAs: [] });
      await t.service.whenDone(info.sessionId);
      const r = await t.api.saveCapture({ sessionId: info.sessionId, format: 'pcap' });
      const path = t.service.downloadPath(r.downloadId!)!;
      expect(existsSync(path)).toBe(true);
      const root = dirname(dirname(path));
      expect(root).toMatch(/exports-[A-Za-z0-9]{6}$/);
      expect((statSync(root).mode & 0o777).toString(8)).toBe('700');
      expect((statSync(dirname(path)).mode & 0o777).toString(8)).toBe('700');
      await t.service.dispose();
      expect(existsSync(root)).toBe(false);
    } finally {
      await t.close();
    }
  });
});
