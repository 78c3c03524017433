/*
 * IDS alerts and Community ID through the API (in-process service with the real analysis
 * worker): openFile with alertsPath joins a schema-checked eve.json written for the TCP
 * streams tshark finds in tls-sni-multi-hosts.pcap; each connection's detail lists exactly
 * its alerts, the findings carry ids.alert, and every connection row's communityId is
 * tshark's (--enable-protocol communityid).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Progress } from '../../preload/api.js';
import { validatedApi } from '../../main/services/validate.js';
import { capture } from '../helpers/captures.js';
import { skipUnlessRequired } from '../helpers/privileged.js';
import { SCHEMA, alert, eveTs, schemaErrors, tsharkStreams } from '../ids/eve-records.js';
import { makeService } from './harness.js';

const tmp = mkdtempSync(join(tmpdir(), 'tapscope-alerts-api-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const hasTshark = !skipUnlessRequired('alerts API', spawnSync('tshark', ['-v']).status === 0 ? null : 'tshark is not installed');

describe.skipIf(!hasTshark)('alerts and Community ID in the API', () => {
  it('openFile alertsPath: connection detail lists its alerts; rows carry the Community ID', async () => {
    const file = capture('tls-sni-multi-hosts.pcap');
    const streams = tsharkStreams(file);
    expect(streams.length).toBeGreaterThan(2);
    const lines = streams.map((s, i) => alert({ ts: eveTs(s.toServerTs), src: s.client, dst: s.server, sid: 3000 + i, sig: `alert on stream ${i}`, sev: 1 }));
    lines.push(alert({ ts: eveTs(streams[0].toServerTs), src: ['203.0.113.9', 4444], dst: streams[0].server, sid: 3999, sig: 'nobody' }));
    for (const l of lines) expect(schemaErrors(JSON.parse(l), SCHEMA)).toEqual([]);
    const eve = join(tmp, 'eve.json');
    writeFileSync(eve, lines.join('\n') + '\n{bad line\n');

    const service = await makeService();
    const api = validatedApi(service);
    try {
      const done = new Promise<Progress>((r) => service.on('progress', (p: Progress) => { if (p.state !== 'opening') r(p); }));
      const info = await api.openFile({ path: file, alertsPath: eve });
      expect((await done).state).toBe('ready');
      const page = await api.connections({ sessionId: info.sessionId, offset: 0, limit: 1000 });
      for (const [i, s] of streams.entries()) {
        const row = page.rows.find((r) => r.client.ip === s.client[0] && r.client.port === s.client[1] && r.server.port === s.server[1])!;
        expect(row, `stream ${i}`).toBeDefined();
        expect(row.communityId).toBe(s.cid);
        const d = await api.connectionDetail(info.sessionId, row.id);
        expect(d.alerts.map((a) => [a.signatureId, a.signature, a.severity, a.connectionId])).toEqual([[3000 + i, `alert on stream ${i}`, 1, row.id]]);
      }
      const findings = await api.findings({ sessionId: info.sessionId, offset: 0, limit: 100 });
      expect(findings.rows.some((f) => f.kind === 'ids.alert')).toBe(true);
      const summary = await api.summary(info.sessionId);
      expect(JSON.stringify(summary)).toMatch(/line \d+: not JSON/);
    } finally {
      await service.dispose();
    }
  }, 60_000);
});
