/*
 * Alerts during a live capture: EveFollower on a growing eve.json (lines split across
 * polls and inside a UTF-8 character, malformed lines warned with their line numbers, a
 * truncated file re-read), and `tapscope listen --alerts eve.json --json` fed a real VXLAN
 * capture's datagrams while alert records (in Suricata's schema) are appended to eve.json:
 * each joins the inner connection tshark identifies, by 5-tuple either way, by
 * community_id, and through the tunnel's outer addresses; others stay unjoined.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { appendFileSync, mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EveFollower } from '../../main/ids/eve-follower.js';
import { capture, tsharkFields } from '../helpers/captures.js';
import { skipUnlessRequired } from '../helpers/privileged.js';
import { SCHEMA, alert, schemaErrors, tsharkStreams } from './eve-records.js';

const tmp = mkdtempSync(join(tmpdir(), 'tapscope-eve-live-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Now in Suricata's timestamp format (µs, +0000). */
const nowTs = (shiftSec = 0) => new Date(Date.now() + shiftSec * 1000).toISOString().replace('Z', '000+0000');

describe('EveFollower', () => {
  it('reads appended lines as they come, whole across polls and UTF-8 boundaries; warnings keep line numbers; truncation re-reads', () => {
    const f = join(tmp, 'follow.json');
    writeFileSync(f, '');
    const fo = new EveFollower(f);
    const a1 = alert({ ts: '2024-01-01T00:00:00.000001+0000', src: ['10.0.0.1', 1000], dst: ['10.0.0.2', 80], sid: 1, sig: 'caf\u00e9 \u00fcber', sev: 1 });
    const bytes = Buffer.from(a1 + '\n', 'utf8');
    const cut = bytes.indexOf(Buffer.from('\u00e9', 'utf8')) + 1; // inside the two octets of é
    appendFileSync(f, bytes.subarray(0, cut));
    expect(fo.poll()).toBe(cut);
    expect(fo.result.alerts).toHaveLength(0);
    appendFileSync(f, bytes.subarray(cut));
    fo.poll();
    expect(fo.result.alerts.map((a) => [a.line, a.signature])).toEqual([[1, 'caf\u00e9 \u00fcber']]);
    appendFileSync(f, '{"not json\n' + JSON.stringify({ timestamp: '2024-01-01T00:00:01.000000+0000', event_type: 'flow' }) + '\n');
    fo.poll();
    expect(fo.result.warnings).toEqual([expect.stringMatching(/^line 2: not JSON/)]);
    expect(fo.result.skipped).toEqual({ flow: 1 });
    // Rotated by the IDS: shorter than what was read, so read again from the start.
    truncateSync(f, 0);
    fo.poll();
    appendFileSync(f, alert({ ts: '2024-01-01T00:00:02.000000+0000', src: ['10.0.0.3', 1], dst: ['10.0.0.4', 2], sid: 2, sig: 'after rotation' }));
    fo.poll();
    const end = fo.end(); // the last line has no newline: read at the end
    expect(end.alerts.map((a) => a.signature)).toEqual(['caf\u00e9 \u00fcber', 'after rotation']);
    expect(fo.problem).toBeNull();
    const missing = new EveFollower(join(tmp, 'none.json'));
    missing.poll();
    expect(missing.problem).toMatch(/cannot read .*none\.json/);
  });
});

const hasTshark = !skipUnlessRequired('live alerts', spawnSync('tshark', ['-v']).status === 0 ? null : 'tshark is not installed');

describe.skipIf(!hasTshark)('tapscope listen --alerts', () => {
  it('alerts appended while the feed runs are joined to the inner connections', async () => {
    const file = capture('vxlan-http.pcap');
    const [s] = tsharkStreams(file); // the inner HTTP connection
    const payloads = tsharkFields(file, ['udp.payload'], ['-Y', 'udp.port == 4789']).map((r) => Buffer.from(r[0].split(',').pop()!.replace(/:/g, ''), 'hex'));
    const eve = join(tmp, 'eve.json');
    writeFileSync(eve, JSON.stringify({ timestamp: nowTs(), event_type: 'stats', stats: {} }) + '\n');
    let proc;
    let port = 0;
    let err = '';
    let out = '';
    for (let attempt = 0; attempt < 5; attempt++) {
      port = 30000 + Math.floor(Math.random() * 10000);
      proc = spawn(process.execPath, ['--import', 'tsx', join(__dirname, '..', 'flows', 'listen-cli.ts'), 'listen', '--vxlan', String(port), '--address', '127.0.0.1',
        '-w', join(tmp, `spool-${port}.pcapng`), '--alerts', eve, '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
      err = '';
      out = '';
      proc.stderr!.on('data', (d) => (err += d));
      proc.stdout!.on('data', (d) => (out += d));
      for (let i = 0; i < 150 && proc.exitCode === null && !err.includes('listening for'); i++) await sleep(100);
      if (err.includes('listening for')) break;
      proc.kill('SIGKILL');
    }
    const exit = new Promise<number>((r) => proc!.once('exit', (c) => r(c ?? -1)));
    const sock = createSocket('udp4');
    for (const p of payloads) await new Promise<void>((res, rej) => sock.send(p, port, '127.0.0.1', (e) => (e ? rej(e) : res())));
    sock.close();
    // The listener stamps arrival times: the alerts are "now", as the last datagram left
    // (within the ±1 s the join allows around the connection's span).
    const at = nowTs();
    await sleep(300);
    const lines = [
      alert({ ts: at, src: s.client, dst: s.server, sid: 2001, sig: 'to_server by tuple', sev: 1 }),
      alert({ ts: at, src: s.server, dst: s.client, sid: 2002, sig: 'to_client by tuple', direction: 'to_client' }),
      alert({ ts: at, src: [s.client[0], 1], dst: s.server, sid: 2003, sig: 'by community_id', cid: s.cid }),
      alert({ ts: at, src: s.client, dst: s.server, sid: 2004, sig: 'through the tunnel', tunnel: { src_ip: '127.0.0.1', dest_ip: '127.0.0.1', depth: 1 } }),
      alert({ ts: at, src: s.client, dst: s.server, sid: 2005, sig: 'another tunnel', tunnel: { src_ip: '10.9.9.9', dest_ip: '10.9.9.8', depth: 1 } }),
      alert({ ts: at, src: ['192.0.2.77', 5555], dst: s.server, sid: 2006, sig: 'not in the capture' }),
    ];
    for (const l of lines) expect(schemaErrors(JSON.parse(l), SCHEMA), l).toEqual([]);
    appendFileSync(eve, lines.slice(0, 3).join('\n') + '\n' + lines[3].slice(0, 40));
    await sleep(600); // polled mid-line
    appendFileSync(eve, lines[3].slice(40) + '\n{broken\n' + lines.slice(4).join('\n') + '\n');
    await sleep(600);
    proc!.kill('SIGTERM');
    expect(await exit, err).toBe(0);
    const report = JSON.parse(out);
    const conn = (report.connections as { id: number; client: { ip: string; port: number } }[]).find((c) => c.client.ip === s.client[0] && c.client.port === s.client[1])!;
    expect(conn).toBeDefined();
    expect((report.alerts as { signatureId: number; connectionId: number | null }[]).map((a) => [a.signatureId, a.connectionId])).toEqual([
      [2001, conn.id], [2002, conn.id], [2003, conn.id], [2004, conn.id], [2005, null], [2006, null],
    ]);
    const warnings = (report.warnings as { message: string }[]).map((w) => w.message);
    expect(warnings).toContain(`${eve} line 6: not JSON (${(() => { try { JSON.parse('{broken'); } catch (e) { return (e as Error).message; } })()})`);
    expect(warnings).toContain(`${eve}: 1 non-alert record(s) skipped (stats 1)`);
    expect((report.findings as { kind: string }[]).some((f) => f.kind === 'ids.alert')).toBe(true);
    expect(err).toContain('6 IDS alerts read from');
    expect(err).toContain('4 joined to a connection');
  }, 60_000);
});
