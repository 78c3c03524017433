import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { analyzeFile } from '../../main/engine/analyze-file.js';
import { TurnTracker, newTurns, MAX_TURN_SAMPLES } from '../../main/analysis/tls-timing.js';
import type { Finding } from '../../main/analysis/findings.js';
import { tsharkFields } from '../helpers/captures.js';
import { canCaptureLoopback, captureLoopback, recordInOrder, selfSignedCert } from '../decrypt/loopback-capture.js';
import { analyzeWithKeys, expectHttpLikeTshark } from '../decrypt/tls-oracle.js';

/*
 * TLS timing without keys (analysis/tls-timing.ts, the tls.slow-server finding): turns from
 * record boundaries, checked against the turns the same rule gives on tshark's record list
 * (`tls.record.opaque_type`/`content_type` 23 per frame), and a multi-backend scenario: one site
 * name, three HTTPS backends on 127.0.0.2-4, one of them slow (250 ms) and answering 502 to
 * some requests. With no keys at all, the finding must name the slow address.
 */

describe('TurnTracker', () => {
  it('a turn is the client records, then the server records up to the client\'s next', () => {
    const t = newTurns();
    const k = new TurnTracker(t);
    k.record(false, 0.5, 300); // a ticket before any request: no turn
    k.record(true, 1.0, 100);
    k.record(true, 1.1, 50);
    k.record(false, 1.3, 1000);
    k.record(false, 1.4, 2000);
    k.record(true, 2.0, 80);
    k.record(false, 2.25, 500);
    k.end();
    expect(t).toEqual({ count: 2, requestBytes: 230, responseBytes: 3500, answerTimes: [0.3, 0.25] });
  });

  it('keeps at most MAX_TURN_SAMPLES answer times, counts every turn', () => {
    const t = newTurns();
    const k = new TurnTracker(t);
    for (let i = 0; i < 100; i++) {
      k.record(true, i, 10);
      k.record(false, i + 0.5, 10);
    }
    k.end();
    expect(t.count).toBe(100);
    expect(t.answerTimes).toHaveLength(MAX_TURN_SAMPLES);
  });
});

interface Backend { ip: string; delayMs: number; fail: boolean }
const BACKENDS: Backend[] = [
  { ip: '127.0.0.2', delayMs: 0, fail: false },
  { ip: '127.0.0.3', delayMs: 250, fail: true },
  { ip: '127.0.0.4', delayMs: 0, fail: false },
];

describe.skipIf(!canCaptureLoopback())('multi-backend site over TLS, no keys (Node https on 127.0.0.2-4, tcpdump)', () => {
  it('finds the slow backend from record timing alone, with turns equal to tshark\'s records', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tapscope-tls-timing-'));
    const { key, cert } = selfSignedCert(dir);
    const servers: https.Server[] = [];
    const keyLog: string[] = [];
    let port = 0;
    for (const b of BACKENDS) {
      let n = 0;
      const s = https.createServer({ key: readFileSync(key), cert: readFileSync(cert) }, (req, res) => {
        req.resume();
        const status = b.fail && ++n % 3 === 0 ? 502 : 200;
        setTimeout(() => {
          res.writeHead(status, { 'content-type': 'text/plain', 'content-length': '3' });
          res.end('ok\n');
        }, b.delayMs);
      });
      s.on('keylog', (line) => keyLog.push(line.toString('latin1').trimEnd()));
      await new Promise<void>((r) => s.listen(port, b.ip, r));
      port = (s.address() as AddressInfo).port; // the same port on every backend
      servers.push(s);
    }
    const pcap = join(dir, 'site.pcap');
    const record = async () => {
      const dump = await captureLoopback(pcap, port);
      try {
        // Round robin over the three addresses, as DNS would hand them out: 4 connections per
        // backend, 3 keep-alive requests each.
        for (let c = 0; c < 12; c++) {
          const b = BACKENDS[c % 3];
          const agent = new https.Agent({ keepAlive: true, maxSockets: 1, rejectUnauthorized: false, servername: 'www.example.org' });
          for (let q = 0; q < 3; q++) {
            await new Promise<void>((resolve, reject) => {
              https.get({ host: b.ip, port, path: `/item/${c}/${q}`, agent, headers: { host: 'www.example.org' } }, (res) => {
                res.resume();
                res.on('end', () => resolve());
              }).on('error', reject);
            });
          }
          agent.destroy();
        }
      } finally {
        await dump.stop();
      }
    };
    try {
      await recordInOrder(record, () => pcap);
    } finally {
      for (const s of servers) await new Promise((r) => s.close(r));
    }
    const r = analyzeFile(pcap);
    const hs = r.session.app.tls.handshakes;
    expect(hs).toHaveLength(12);
    expect(hs.every((h) => h.sni === 'www.example.org' && !h.decrypted)).toBe(true);
    expect(r.report.http).toEqual([]); // nothing decrypted: HTTP is invisible

    // Oracle: the same turn rule over tshark's application-data records (small records: each
    // starts and ends in one frame, so tshark's frame is the record's start).
    const rows = tsharkFields(pcap, ['tcp.stream', 'frame.time_epoch', 'tcp.srcport', 'tls.record.opaque_type', 'tls.record.content_type', 'tls.handshake.type', 'tls.record.length'], ['-Y', 'tls']);
    const byStream = new Map<string, string[][]>();
    for (const row of rows) byStream.set(row[0], [...(byStream.get(row[0]) ?? []), row]);
    const expected: string[] = [];
    for (const rs of byStream.values()) {
      const t = newTurns();
      const k = new TurnTracker(t);
      let finished = false;
      for (const [, ts, sport, opaque, content, , lens] of rs) {
        const fromClient = sport !== String(port);
        // Wire types in record order: a TLS 1.3 frame lists encrypted records by opaque_type, and
        // a clear ChangeCipherSpec before them by content_type (as protocols-vs-tshark reads them).
        const op = opaque ? opaque.split(',') : [];
        const ct = content ? content.split(',') : [];
        const types = op.length ? [...ct.filter((x) => x === '20'), ...op] : ct;
        const ls = lens.split(',');
        types.forEach((type, i) => {
          if (type !== '23') return;
          // TLS 1.3: the client's first encrypted record is its Finished; everything before it is handshake.
          if (!finished) {
            if (fromClient) finished = true;
            return;
          }
          k.record(fromClient, Number(ts), Number(ls[i]));
        });
      }
      k.end();
      expected.push(JSON.stringify(t));
    }
    const ours = hs.map((h) => JSON.stringify(h.turns!, (key, v) => (key === 'answerTimes' ? v.map((x: number) => Math.round(x * 1e6)) : v)));
    const theirs = expected.map((e) => JSON.stringify(JSON.parse(e), (key, v) => (key === 'answerTimes' ? v.map((x: number) => Math.round(x * 1e6)) : v)));
    expect(ours.sort()).toEqual(theirs.sort());
    expect(hs.every((h) => h.turns!.count === 3)).toBe(true);

    const slow = (r.report.findings as Finding[]).filter((f) => f.kind === 'tls.slow-server');
    expect(slow).toHaveLength(1);
    expect(slow[0]).toMatchObject({ severity: 'warning', site: 'www.example.org', server: '127.0.0.3', count: 12, total: 36 });
    expect(slow[0].summary).toMatch(/^www\.example\.org: 127\.0\.0\.3 answers \d+× slower than the site's other 2 addresses \(median 2\d\d ms vs \d+(\.\d)? ms over 12 and 24 TLS request\/response turns/);
    expect(slow[0].connectionIds).toEqual(hs.filter((h) => h.serverIp === '127.0.0.3').map((h) => h.connectionId));

    // With the servers' key log the same capture shows the exchanges (as tshark does) and the
    // 502s of the slow backend; decrypted connections leave the timing rule to HTTP's.
    const keys = join(dir, 'servers.keys');
    writeFileSync(keys, keyLog.join('\n') + '\n');
    const d = analyzeWithKeys(pcap, [keys]);
    expect(expectHttpLikeTshark(pcap, keys, d)).toEqual({ requests: 36, responses: 36 });
    const kinds = (d.report.findings as Finding[]).map((f) => `${f.kind} ${f.server}`);
    expect(kinds).toContain('http.5xx 127.0.0.3:' + port);
    expect(kinds.filter((k) => k.startsWith('tls.slow-server'))).toEqual([]);
  }, 150_000);
});
