/*
 * Alerts followed during a live session of the app (the API's startListen with alertsPath,
 * the receiver in its worker thread): VXLAN datagrams of vxlan-http.pcap replayed on
 * loopback while schema-checked alerts for its inner connection are appended to eve.json;
 * after stopCapture the connection's detail lists its alert and the findings carry
 * ids.alert; an alert for another host joins nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { validatedApi } from '../../main/services/validate.js';
import { ensureBuilt } from '../capture/lab.js';
import { capture } from '../helpers/captures.js';
import { skipUnlessRequired } from '../helpers/privileged.js';
import { SCHEMA, alert, schemaErrors, tsharkStreams } from '../ids/eve-records.js';
import { makeService } from './harness.js';
import { FEED_FILE, replay, vxlanPayloads } from './live-feed.js';

const hasTshark = !skipUnlessRequired('live alerts through the API', spawnSync('tshark', ['-v']).status === 0 ? null : 'tshark is not installed');
const tmp = mkdtempSync(join(tmpdir(), 'tapscope-alerts-live-'));
const savedSpool = process.env.TAPSCOPE_SPOOL_DIR;
afterAll(() => {
  if (savedSpool === undefined) delete process.env.TAPSCOPE_SPOOL_DIR;
  else process.env.TAPSCOPE_SPOOL_DIR = savedSpool;
  rmSync(tmp, { recursive: true, force: true });
});
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const nowTs = () => new Date().toISOString().replace('Z', '000+0000');

describe.skipIf(!hasTshark)('alerts during a live session (API)', () => {
  beforeAll(ensureBuilt, 120_000); // the live worker runs the helper bundle

  it('startListen alertsPath: the alert appended mid-capture is in the connection detail', async () => {
    process.env.TAPSCOPE_SPOOL_DIR = join(tmp, 'spool');
    const [s] = tsharkStreams(capture(FEED_FILE));
    const eve = join(tmp, 'eve.json');
    writeFileSync(eve, '');
    const service = await makeService();
    const api = validatedApi(service);
    try {
      const info = await api.startListen({ feeds: [{ encap: 'vxlan', port: 0 }], address: '127.0.0.1', save: 'inner', alertsPath: eve });
      await replay(vxlanPayloads(), info.feeds![0].port);
      for (let i = 0; i < 100 && (await api.summary(info.sessionId)).counts.connections < 1; i++) await sleep(100);
      const lines = [
        alert({ ts: nowTs(), src: s.client, dst: s.server, sid: 4001, sig: 'live to_server', sev: 1 }),
        alert({ ts: nowTs(), src: ['198.18.0.9', 9], dst: s.server, sid: 4002, sig: 'other host' }),
      ];
      for (const l of lines) expect(schemaErrors(JSON.parse(l), SCHEMA)).toEqual([]);
      appendFileSync(eve, lines.join('\n') + '\n');
      await sleep(600); // polled at a flush or, at the latest, at the stop
      await api.stopCapture(info.sessionId);
      await service.whenDone(info.sessionId);
      const rows = (await api.connections({ sessionId: info.sessionId, offset: 0, limit: 100 })).rows;
      const row = rows.find((r) => r.client.ip === s.client[0] && r.client.port === s.client[1])!;
      expect(row).toBeDefined();
      const d = await api.connectionDetail(info.sessionId, row.id);
      expect(d.alerts.map((a) => [a.signatureId, a.connectionId])).toEqual([[4001, row.id]]);
      const findings = await api.findings({ sessionId: info.sessionId, offset: 0, limit: 100 });
      expect(findings.rows.some((f) => f.kind === 'ids.alert')).toBe(true);
    } finally {
      await service.dispose();
    }
  }, 120_000);
});
