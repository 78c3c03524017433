import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Writable } from 'node:stream';
import { runAnalyze } from '../../main/cli/analyze.js';
import { EVE_ALERT_FIELDS, EVE_FIELDS, EVE_TUNNEL_FIELDS, EveParser, MAX_LINE, canonicalIp, eveTimestamp, parseEve, readEveFile } from '../../main/ids/eve.js';
import { capture, tshark } from '../helpers/captures.js';
import { SCHEMA, alert, eveTs, schemaErrors, tsharkStreams, type Stream } from './eve-records.js';
import { rngUint32 } from '../helpers/rng.js';

function analyze(file: string, eve: string, extra: string[] = []): { code: number; report: Record<string, any> } {
  const dir = mkdtempSync(join(tmpdir(), 'tapscope-eve-'));
  try {
    const path = join(dir, 'eve.json');
    writeFileSync(path, eve);
    let text = '';
    const w = new Writable({ write: (c, _e, cb) => { text += c; cb(); } });
    // --alerts analyses in one thread: the status is a number, not a promise.
    const code = runAnalyze([file, '--json', '--alerts', path, ...extra], w, new Writable({ write: (_c, _e, cb) => cb() })) as number;
    return { code, report: JSON.parse(text) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('EVE alerts', () => {
  it('reads the fields with the types of Suricata\'s schema', () => {
    const p = SCHEMA.properties;
    for (const [k, t] of Object.entries(EVE_FIELDS)) expect(p[k]?.type, k).toBe(t);
    for (const [k, t] of Object.entries(EVE_ALERT_FIELDS)) expect(p.alert.properties[k]?.type, `alert.${k}`).toBe(t);
    for (const [k, t] of Object.entries(EVE_TUNNEL_FIELDS)) expect(p.tunnel.properties[k]?.type, `tunnel.${k}`).toBe(t);
    expect(SCHEMA.required).toEqual(expect.arrayContaining(['event_type', 'timestamp']));
    const re = new RegExp(p.timestamp.pattern);
    for (const ts of ['2022-03-17T08:38:50.766672+0000', '2022-03-17T10:38:50.766672+0200', '2022-03-17T08:38:50.1-0130']) {
      expect(re.test(ts)).toBe(true);
      expect(eveTimestamp(ts)).not.toBeNull();
    }
    for (const ts of ['2022-03-17T08:38:50+0000', '2022-03-17 08:38:50.766672+0000', '2022-03-17T08:38:50.766672Z']) {
      expect(re.test(ts)).toBe(false);
      expect(eveTimestamp(ts)).toBeNull();
    }
    expect(eveTimestamp('2022-03-17T10:38:50.766672+0200')).toBe(eveTimestamp('2022-03-17T08:38:50.766672+0000'));
    expect(eveTimestamp('2022-03-17T08:38:50.766672+0000')).toBe(Date.UTC(2022, 2, 17, 8, 38, 50) / 1000 + 0.766672);
    expect(canonicalIp('2001:0db8:0000:0000:0000:0000:0000:0001')).toBe('2001:db8::1');
  });

  it('rejects what the schema rejects, with the line number; never throws', () => {
    const ok = alert({ ts: '2022-03-27T09:29:17.870000+0000', src: ['10.0.0.1', 1], dst: ['10.0.0.2', 2], sid: 1, sig: 'x' });
    const badType = ok.replace('"signature_id":1', '"signature_id":"1"');
    const badTs = ok.replace('17.870000+0000', '17+0000');
    const badPort = ok.replace('"src_port":1', '"src_port":"1"');
    const lines = [ok, 'not json{', '[1,2]', badType, '', badTs, badPort, '{"event_type":"flow","timestamp":"2022-03-27T09:29:17.870000+0000"}', '{"event_type":"dns","timestamp":"2022-03-27T09:29:17.870000+0000"}', '{"event_type":"dns","timestamp":"2022-03-27T09:29:17.870000+0000"}', '{"timestamp":"x"}'];
    // The real schema's verdict on the alert records.
    expect(schemaErrors(JSON.parse(ok), SCHEMA)).toEqual([]);
    for (const b of [badType, badTs, badPort]) expect(schemaErrors(JSON.parse(b), SCHEMA).length).toBeGreaterThan(0);
    const r = parseEve(lines.join('\n'));
    expect(r.alerts.map((a) => a.line)).toEqual([1]);
    expect(r.skipped).toEqual({ flow: 1, dns: 2 });
    expect(r.warnings.map((w) => w.split(':')[0])).toEqual(['line 2', 'line 3', 'line 4', 'line 6', 'line 7', 'line 11']);
    expect(r.warnings[2]).toMatch(/alert\.signature_id is string, not integer/);
    expect(parseEve('\u0000\u0001garbage\n{"a":').warnings).toHaveLength(2);
    // Seeded corruption of a valid record never throws; each bad line is one warning at most.
    const rnd = rngUint32(7);
    for (let i = 0; i < 300; i++) {
      const chars = [...ok];
      for (let k = 0; k < 1 + (rnd() % 4); k++) chars[rnd() % chars.length] = String.fromCharCode(32 + (rnd() % 95));
      const res = parseEve(chars.join('') + '\n' + ok);
      expect(res.alerts.length + res.warnings.length + Object.keys(res.skipped).length).toBeGreaterThanOrEqual(1);
      expect(res.alerts.at(-1)?.line).toBe(2);
    }
  });

  it('reads in pieces: any split of the text, files over the read chunk, over-long lines', () => {
    const ok = alert({ ts: '2022-03-27T09:29:17.870000+0000', src: ['10.0.0.1', 1], dst: ['10.0.0.2', 2], sid: 1, sig: 'règle é' });
    const text = [ok, 'bad', '{"event_type":"flow","timestamp":"2022-03-27T09:29:17.870000+0000"}', ok].join('\n');
    const whole = parseEve(text);
    for (let cut = 0; cut <= text.length; cut += 7) {
      const p = new EveParser();
      expect(p.push(text.slice(0, cut)).push(text.slice(cut)).end(), `cut ${cut}`).toEqual(whole);
    }
    const dir = mkdtempSync(join(tmpdir(), 'tapscope-eve-big-'));
    try {
      const path = join(dir, 'eve.json');
      // Over 1 MiB, so a read chunk ends inside some record (and some multi-byte character).
      const n = Math.ceil((1.5 * (1 << 20)) / (ok.length + 1));
      writeFileSync(path, Array.from({ length: n }, () => ok).join('\n'));
      const r = readEveFile(path);
      expect(r.alerts).toHaveLength(n);
      expect(r.warnings).toEqual([]);
      expect(new Set(r.alerts.map((a) => a.signature))).toEqual(new Set(['règle é']));
      expect(r.alerts.at(-1)!.line).toBe(n);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    const long = new EveParser().push(ok + '\n' + 'x'.repeat(MAX_LINE + 10)).push('yyy\n' + ok + '\n').end();
    expect(long.alerts.map((a) => a.line)).toEqual([1, 3]);
    expect(long.warnings).toEqual([`line 2: longer than ${MAX_LINE} characters (skipped)`]);
  });

  it('joins alerts to tshark-identified connections: both orientations, community_id, time window, no match', () => {
    const file = capture('tls-sni-multi-hosts.pcap');
    const streams = tsharkStreams(file);
    expect(streams).toHaveLength(6);
    const lines: string[] = [];
    // Per stream: one to_server alert (client is src) and one to_client alert (server is src).
    streams.forEach((s, i) => {
      lines.push(alert({ ts: eveTs(s.toServerTs), src: s.client, dst: s.server, sid: 2000000 + i, sig: `to server ${i}` }));
      lines.push(alert({ ts: eveTs(s.toClientTs), src: s.server, dst: s.client, sid: 2100000, sig: 'to client', direction: 'to_client', sev: 1 }));
    });
    // By community_id alone: the tuple's port is wrong, the id (tshark's, seed 0) right.
    lines.push(alert({ ts: eveTs(streams[0].toServerTs), src: streams[0].client, dst: [streams[0].server[0], 1], sid: 2200000, sig: 'by community id', cid: streams[0].cid }));
    // Matches nothing: an address not in the capture; the right tuple an hour later.
    lines.push(alert({ ts: eveTs(streams[0].toServerTs), src: ['192.0.2.1', 1234], dst: streams[0].server, sid: 2300000, sig: 'nothing' }));
    lines.push(alert({ ts: eveTs(streams[1].toServerTs, 3600), src: streams[1].client, dst: streams[1].server, sid: 2300001, sig: 'too late' }));
    // The same signature again on the same connection: one finding, two alerts.
    lines.push(alert({ ts: eveTs(streams[0].toClientTs), src: streams[0].client, dst: streams[0].server, sid: 2000000, sig: 'to server 0' }));
    lines.push('{"event_type":"flow","timestamp":"2022-03-27T09:29:17.870000+0000"}', 'garbage');
    for (const l of lines.slice(0, -2)) expect(schemaErrors(JSON.parse(l), SCHEMA), l).toEqual([]);

    const { code, report } = analyze(file, lines.join('\n') + '\n');
    expect(code).toBe(0);
    const conns = report.connections as { id: number; client: { ip: string; port: number }; server: { ip: string; port: number }; communityId: string }[];
    const connOf = (s: Stream) => conns.find((c) => c.client.ip === s.client[0] && c.client.port === s.client[1] && c.server.ip === s.server[0] && c.server.port === s.server[1])!.id;
    const alerts = report.alerts as { signatureId: number; connectionId: number | null; communityId: string | null; src: { ip: string; port: number }; ts: number; severity: number }[];
    expect(alerts).toHaveLength(streams.length * 2 + 4);
    streams.forEach((s, i) => {
      expect(alerts[2 * i].connectionId, `to_server ${i}`).toBe(connOf(s));
      expect(alerts[2 * i + 1].connectionId, `to_client ${i}`).toBe(connOf(s));
      expect(alerts[2 * i + 1].src).toEqual({ ip: s.server[0], port: s.server[1] });
      // No community_id in the record: the connection's (the same as tshark's).
      expect(alerts[2 * i].communityId).toBe(s.cid);
    });
    expect(alerts[12].connectionId).toBe(connOf(streams[0]));
    expect(alerts[13].connectionId).toBeNull();
    expect(alerts[14].connectionId).toBeNull();
    expect(Object.keys(alerts[0]).sort()).toEqual(['category', 'communityId', 'connectionId', 'dst', 'proto', 'severity', 'signature', 'signatureId', 'src', 'ts'].sort());
    expect(alerts[0].ts).toBe(eveTimestamp(eveTs(streams[0].toServerTs)));
    const warnings = (report.warnings as { message: string }[]).map((w) => w.message);
    expect(warnings.filter((w) => / line \d+: /.test(w))).toEqual([expect.stringMatching(new RegExp(` line ${lines.length}: not JSON`))]);
    expect(warnings.some((w) => /1 non-alert record\(s\) skipped \(flow 1\)/.test(w))).toBe(true);
    expect(warnings.some((w) => /2 of 16 alert\(s\) match no connection/.test(w))).toBe(true);

    // Findings: per signature and site. The to_client signature hit all six connections,
    // two of them to one server and SNI: one finding per site, critical (Suricata severity 1).
    const tls = report.tls as { connectionId: number; sni: string }[];
    const ids = (report.findings as { kind: string; site: string | null; connectionIds: number[]; severity: string; count: number; summary: string; id: string }[]).filter((f) => f.kind === 'ids.alert');
    const toClient = ids.filter((f) => f.id.startsWith('ids.alert:2100000|'));
    const sites = new Map<string, number[]>();
    for (const t of tls) sites.set(t.sni, [...(sites.get(t.sni) ?? []), t.connectionId].sort((a, b) => a - b));
    expect(toClient.map((f) => f.site).sort()).toEqual([...sites.keys()].sort());
    for (const f of toClient) {
      expect(f.connectionIds).toEqual(sites.get(f.site!));
      expect(f.severity).toBe('critical');
    }
    const again = ids.filter((f) => f.id.startsWith('ids.alert:2000000|'));
    expect(again).toHaveLength(1);
    expect(again[0].summary).toMatch(/: 2 alerts on 1 of 1 connection to pluralsight\.com \(54\.69\.188\.18:443\)/);
    expect(again[0].severity).toBe('warning');
    const nothing = ids.find((f) => f.id.startsWith('ids.alert:2300000|'))!;
    expect(nothing.connectionIds).toEqual([]);
    expect(nothing.summary).toMatch(/1 matched no connection/);
    // Critical findings rank first.
    expect((report.findings as { severity: string }[])[0].severity).toBe('critical');
  });

  it('tunnel: joins when the record names the tunnel the connection came through, not another', () => {
    const file = capture('vxlan-http.pcap');
    const [s] = tsharkStreams(file);
    const outer = tshark(['-r', file, '-n', '-c', '1', '-T', 'fields', '-E', 'occurrence=f', '-e', 'ip.src', '-e', 'ip.dst']).trim().split('\t');
    const ts = eveTs(s.toServerTs);
    const lines = [
      alert({ ts, src: s.client, dst: s.server, sid: 1, sig: 'through the tap', tunnel: { src_ip: outer[0], dest_ip: outer[1], src_port: 50000, dest_port: 4789, proto: 'UDP', depth: 1 } }),
      alert({ ts, src: s.client, dst: s.server, sid: 2, sig: 'other tap', tunnel: { src_ip: '192.0.2.7', dest_ip: outer[1], src_port: 50000, dest_port: 4789, proto: 'UDP', depth: 1 } }),
      alert({ ts, src: s.client, dst: s.server, sid: 3, sig: 'no tunnel' }),
    ];
    for (const l of lines) expect(schemaErrors(JSON.parse(l), SCHEMA)).toEqual([]);
    const { report } = analyze(file, lines.join('\n'));
    const id = report.connections[0].id;
    expect(report.alerts.map((a: { connectionId: number | null }) => a.connectionId)).toEqual([id, null, id]);
  });

  it('an unreadable eve.json is a clear error; no --alerts gives alerts: []', () => {
    let err = '';
    const e = new Writable({ write: (c, _e, cb) => { err += c; cb(); } });
    expect(runAnalyze([capture('http-get-basic.pcap'), '--json', '--alerts', '/nonexistent/eve.json'], new Writable({ write: (_c, _e, cb) => cb() }), e)).toBe(1);
    expect(err).toMatch(/cannot read \/nonexistent\/eve.json/);
    let text = '';
    const w = new Writable({ write: (c, _e, cb) => { text += c; cb(); } });
    expect(runAnalyze([capture('http-get-basic.pcap'), '--json'], w, w)).toBe(0);
    expect(JSON.parse(text).alerts).toEqual([]);
  });
});
