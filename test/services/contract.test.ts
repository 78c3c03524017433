import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { analyzeFile } from '../../main/engine/analyze-file';
import { capture, tsharkFields } from '../helpers/captures';
import { SAMPLE, inProcess, openAndWait, overWebSocket, type Transport } from './harness';

/*
 * The contract suite: the same API calls over the in-process service and over the
 * WebSocket transport of browser mode, checked against the engine's report (what
 * `tapscope analyze --json` prints) and against tshark.
 */
type Obj = Record<string, any>;

const FILE = capture('http-retx-fastretx-dupack-ooo.pcap');
const report = analyzeFile(FILE).report as unknown as Obj;
const sample = analyzeFile(SAMPLE).report as unknown as Obj;

for (const make of [inProcess, overWebSocket]) {
  describe(`API over ${make === inProcess ? 'the in-process service' : 'the WebSocket transport'}`, () => {
    let t: Transport;
    let sid = '';
    beforeAll(async () => {
      t = await make();
      const { info, final } = await openAndWait(t.api, FILE);
      expect(final.state).toBe('ready');
      sid = info.sessionId;
    });
    afterAll(async () => t.close());

    it('summarises the file as the engine reports it', async () => {
      const s = await t.api.summary(sid);
      expect(s.file.packets).toBe(report.file.packets);
      expect(s.file.bytes).toBe(report.file.bytes);
      expect(s.counts).toEqual({
        connections: report.connections.length, http: report.http.length, dns: report.dns.length, tls: report.tls.length,
        findings: report.findings.length, tunnels: report.tunnels.length,
      });
    });

    it('pages, sorts and filters connections', async () => {
      const all = await t.api.connections({ sessionId: sid, offset: 0, limit: 1000 });
      expect(all.total).toBe(report.connections.length);
      expect(all.rows.map((r) => r.id)).toEqual(report.connections.map((c: Obj) => c.id));
      const byPackets = await t.api.connections({ sessionId: sid, offset: 0, limit: 3, sortKey: 'packets', sortDir: 'desc' });
      const expected = [...report.connections].sort((a: Obj, b: Obj) => b.packets - a.packets || a.id - b.id).slice(0, 3).map((c: Obj) => c.id);
      expect(byPackets.rows.map((r) => r.id)).toEqual(expected);
      const port = report.connections[0].server.port;
      const byPort = await t.api.connections({ sessionId: sid, offset: 0, limit: 1000, port });
      expect(byPort.total).toBe(report.connections.filter((c: Obj) => c.client.port === port || c.server.port === port).length);
      const c0 = report.connections[0];
      const range = await t.api.connections({ sessionId: sid, offset: 0, limit: 1000, filter: { timeFrom: c0.lastTs + 1e-6, timeTo: null } });
      expect(range.total).toBe(report.connections.filter((c: Obj) => c.lastTs >= c0.lastTs + 1e-6).length);
      const evidence = await t.api.connections({ sessionId: sid, offset: 0, limit: 10, filter: { connectionIds: [c0.id] } });
      expect(evidence.rows.map((r) => r.id)).toEqual([c0.id]);
    });

    it("lists a connection's packets as tshark finds them by address and port", async () => {
      const c = [...report.connections].sort((a: Obj, b: Obj) => b.packets - a.packets)[0];
      const page = await t.api.packets({ sessionId: sid, offset: 0, limit: 5000, connectionId: c.id });
      expect(page.total).toBe(c.packets);
      const filter = `ip.addr==${c.client.ip} && ip.addr==${c.server.ip} && tcp.port==${c.client.port} && tcp.port==${c.server.port}`;
      const frames = tsharkFields(FILE, ['frame.number', 'tcp.analysis.retransmission', 'tcp.seq', 'tcp.ack'], ['-Y', filter]);
      expect(page.rows.map((r) => r.number)).toEqual(frames.map((f) => Number(f[0])));
      // Relative sequence and acknowledgment numbers in the Info column of the TCP rows, as
      // tshark's (like Wireshark's Info, a packet without the ACK flag shows no Ack; rows that
      // complete an HTTP message show its start line instead: docs/packet-columns.md).
      const tcpRows = page.rows.map((r, k) => ({ r, f: frames[k] })).filter(({ r }) => r.protocol === 'TCP');
      expect(tcpRows.length).toBeGreaterThan(page.rows.length / 2);
      expect(tcpRows.map(({ r }) => /Seq=(\d+)/.exec(r.info)?.[1])).toEqual(tcpRows.map(({ f }) => f[2]));
      tcpRows.forEach(({ r, f }) => {
        const ack = /Ack=(\d+)/.exec(r.info)?.[1];
        if (ack !== undefined) expect(ack).toBe(f[3]);
      });
      expect(tcpRows.filter(({ r }) => /Ack=/.test(r.info)).length).toBeGreaterThan(tcpRows.length / 2);
      // The analysis flags shown per packet are tshark's retransmission marks.
      expect(page.rows.filter((r) => r.flags.some((x) => /retransmission/i.test(x))).map((r) => r.number))
        .toEqual(frames.filter((f) => f[1] !== '').map((f) => Number(f[0])));
    });

    it('decodes one packet from its file offset as tshark does', async () => {
      const d = await t.api.decodePacket(sid, 5);
      const [row] = tsharkFields(FILE, ['ip.src', 'ip.dst', 'tcp.srcport', 'tcp.dstport', 'tcp.seq_raw', 'frame.len'], ['-Y', 'frame.number==5']);
      const fields = Object.fromEntries(d.layers.flatMap((l) => l.fields.map((f) => [`${l.name}/${f.name}`, f.value])));
      expect(fields['Internet Protocol version 4/Source']).toBe(row[0]);
      expect(fields['Internet Protocol version 4/Destination']).toBe(row[1]);
      expect(fields['Transmission Control Protocol/Source port']).toBe(row[2]);
      expect(fields['Transmission Control Protocol/Destination port']).toBe(row[3]);
      expect(fields['Transmission Control Protocol/Sequence number (raw)']).toBe(row[4]);
      expect(d.origLen).toBe(Number(row[5]));
    });

    it("gives a connection's chart series from the engine's analysis", async () => {
      const c = [...report.connections].sort((a: Obj, b: Obj) => b.packets - a.packets)[0];
      const d = await t.api.connectionDetail(sid, c.id);
      expect(d.connection.id).toBe(c.id);
      expect(d.raw).toEqual(c);
      if (!d.truncated) expect(d.rtt.length).toBe(c.rtt?.samples ?? 0);
      expect(d.sequence.filter((p) => p.retransmission).length).toBeGreaterThan(0);
      expect(d.http.length).toBe(report.http.filter((h: Obj) => h.connectionId === c.id).length);
    });

    it('serves the timeline: packets per second add up to the capture', async () => {
      const tl = await t.api.timeline({ sessionId: sid, buckets: 50 });
      expect(tl.packets).toHaveLength(50);
      expect(Math.round(tl.packets.reduce((a, b) => a + b, 0) * tl.step)).toBe(report.file.packets);
    });

    it('saves a connection as pcap and as pcapng; tshark reads the same packets', async () => {
      const c = [...report.connections].sort((a: Obj, b: Obj) => b.packets - a.packets)[0];
      for (const format of ['pcap', 'pcapng'] as const) {
        const r = await t.api.saveCapture({ sessionId: sid, format, connectionId: c.id });
        expect(r.packets).toBe(c.packets);
        const path = t.service.downloadPath(r.downloadId!)!;
        const out = execFileSync('capinfos', ['-M', '-c', '-t', path], { encoding: 'utf8' });
        expect(out).toMatch(new RegExp(`Number of packets:\\s+${c.packets}\\b`));
        expect(out).toMatch(format === 'pcap' ? /pcap\b/ : /pcapng/);
        // Same timestamps and lengths as the original packets.
        const filter = `ip.addr==${c.client.ip} && tcp.port==${c.client.port} && tcp.port==${c.server.port}`;
        const want = tsharkFields(FILE, ['frame.time_epoch', 'frame.len'], ['-Y', filter]);
        expect(tsharkFields(path, ['frame.time_epoch', 'frame.len'])).toEqual(want);
      }
    });

    it('rejects bad arguments and unknown sessions with a clear error', async () => {
      await expect(t.api.connections({ sessionId: sid, offset: -1, limit: 10 })).rejects.toThrow(/invalid argument offset/);
      await expect(t.api.connections({ sessionId: sid, offset: 0, limit: 10, sortKey: 'x; drop' })).rejects.toThrow(/sortKey/);
      await expect(t.api.summary('no-such-session')).rejects.toThrow(/no session/);
      await expect(t.api.decodePacket(sid, report.file.packets + 1)).rejects.toThrow(/no packet/);
      await expect(t.api.openFile({ path: '/nonexistent/x.pcap' })).rejects.toThrow(/no such file/);
    });
  });
}

describe('HTTP, findings and HAR over both transports', () => {
  for (const make of [inProcess, overWebSocket]) {
    it(`${make === inProcess ? 'in-process' : 'websocket'}: the sample's HTTP, findings and HAR`, async () => {
      const t = await make();
      try {
        const { info } = await openAndWait(t.api, SAMPLE);
        const http = await t.api.http({ sessionId: info.sessionId, offset: 0, limit: 1000 });
        expect(http.rows.map((h) => `${h.method} ${h.uri} ${h.status}`)).toEqual(sample.http.map((h: Obj) => `${h.method} ${h.uri} ${h.status}`));
        const f = await t.api.findings({ sessionId: info.sessionId, offset: 0, limit: 100 });
        expect(f.rows.map((x) => x.summary)).toEqual(sample.findings.map((x: Obj) => x.summary));
        const r = await t.api.exportHar({ sessionId: info.sessionId });
        const har = JSON.parse(readFileSync(t.service.downloadPath(r.downloadId!)!, 'utf8'));
        expect(har.log.version).toBe('1.2');
        expect(har.log.entries.map((e: Obj) => `${e.request.method} ${new URL(e.request.url).pathname} ${e.response.status}`))
          .toEqual([...sample.http].sort((a: Obj, b: Obj) => a.requestTs - b.requestTs).map((h: Obj) => `${h.method} ${h.uri} ${h.status ?? 0}`));
        // Writing to a path the user did not choose in a dialog is refused outside tests.
        (t.service.opts as { allowAnyWritePath?: boolean }).allowAnyWritePath = false;
        await expect(t.api.exportHar({ sessionId: info.sessionId, path: join('/tmp', 'x.har') })).rejects.toThrow(/save dialog/);
      } finally {
        await t.close();
      }
    });
  }
});
