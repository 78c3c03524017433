import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { analyzeFile } from '../../main/engine/analyze-file.js';
import { QuicConnections } from '../../main/analysis/quic-connections.js';
import { AnalysisSession } from '../../main/engine/session.js';
import { openCapture } from '../../main/pcap/reader.js';
import type { PacketRecord } from '../../main/pcap/record.js';
import { parseDecodeAs } from '../../main/decode/decoder.js';
import { allCaptures, capture, tsharkFields } from '../helpers/captures.js';
import { expectSameAsTshark, tsharkConnections, type ConnJson, type QuicJson } from './quic-oracle.js';

/*
 * Captures that start in the middle of a QUIC connection: each quic-* capture of the corpus
 * (alone, and one merged with a complete capture) cut after its last packet with a long header, so the
 * conversation holds no Initial, Handshake or version. tshark 4.0 dissects those packets as QUIC only
 * with Decode As (`-d udp.port==N,quic`, even for 443), and then gives them no
 * quic.connection.number: its connections start at a client Initial. Tapscope lists one
 * `quic` entry per such conversation on a QUIC port (443, or --decode udp:N=quic), state
 * "mid-connection", version/SNI unknown; its spin-bit RTT is the one tshark's quic.spin_bit
 * gives. docs/quic.md "Connections".
 */

const dir = mkdtempSync(join(tmpdir(), 'tapscope-quic-mid-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

type Report = { quic: (QuicJson & { paths: number[] })[]; connections: ConnJson[] };

/** The capture without its packets before the first short-header-only one, and the server's port. */
function cut(file: string): { out: string; serverPort: string; from: number } | null {
  const rows = tsharkFields(file, ['frame.number', 'udp.srcport', 'udp.dstport', 'quic.header_form', 'quic.long.packet_type', 'quic.long.packet_type_v2'], ['-Y', 'quic']);
  // After the last long header: nothing of the handshake (version, connection ids) is left.
  const last = rows.findLastIndex((r) => r[3].split(',').includes('1'));
  const first = rows.slice(last + 1).find((r) => r[3] !== '' && r[3].split(',').every((x) => x === '0'));
  const initial = rows.find((r) => r[4].split(',').includes('0') || r[5].split(',').includes('1'));
  if (!first || !initial) return null;
  const out = join(dir, `${file.split('/').pop()!.replace(/\.pcapng?$/, '')}-from-${first[0]}.pcapng`);
  execFileSync('tshark', ['-r', file, '-Y', `frame.number >= ${first[0]}`, '-w', out], { stdio: 'ignore' });
  return { out, serverPort: initial[2], from: Number(first[0]) };
}

/** Per UDP conversation tshark decodes as QUIC (Decode As on the server port): its packets' numbers, spin RTT. */
function tsharkMid(file: string, serverPort: string) {
  const rows = tsharkFields(file, ['frame.time_epoch', 'udp.srcport', 'udp.dstport', 'quic.connection.number', 'quic.header_form', 'quic.spin_bit'], ['-d', `udp.port==${serverPort},quic`, '-Y', 'quic']);
  const convs = new Map<string, string[][]>();
  for (const r of rows) {
    const client = r[1] === serverPort ? r[2] : r[1];
    if (!convs.has(client)) convs.set(client, []);
    convs.get(client)!.push(r);
  }
  return [...convs].map(([client, rs]) => {
    // RFC 9000 §17.4: per direction, the time between two changes of the spin bit; the median.
    const samples: number[] = [];
    for (const port of [client, serverPort]) {
      let last = -1;
      let edge = NaN;
      for (const r of rs) {
        if (r[1] !== port || !r[4].split(',').includes('0') || r[5] === '') continue;
        const v = ['1', 'True'].includes(r[5].split(',').pop()!) ? 1 : 0;
        if (v !== last && last !== -1) {
          if (!Number.isNaN(edge)) samples.push(Number(r[0]) - edge);
          edge = Number(r[0]);
        }
        last = v;
      }
    }
    samples.sort((a, b) => a - b);
    const m = samples.length >> 1;
    return {
      client, numbered: rs.filter((r) => r[3] !== '').length, packets: rs.length,
      spinRtt: samples.length === 0 ? null : samples.length % 2 ? samples[m] : (samples[m - 1] + samples[m]) / 2,
    };
  });
}

function expectMidConnection(file: string, serverPort: string): Report {
  const expected = tsharkMid(file, serverPort);
  expect(expected.length).toBeGreaterThan(0);
  // tshark (4.0) numbers none of them.
  for (const e of expected) expect(e.numbered, `tshark numbers client port ${e.client}`).toBe(0);
  const decodeAs = serverPort === '443' ? [] : [parseDecodeAs(`udp:${serverPort}=quic`)];
  const report = analyzeFile(file, { decodeAs }).report as unknown as Report;
  expect(report.quic.map((q) => {
    const c = report.connections.find((x) => x.id === q.connectionId)!;
    return [String(c.client.port), String(c.server.port), q.version, q.sni, q.alpn, q.state, q.handshakeTime, q.paths];
  })).toEqual(expected.map((e) => [e.client, serverPort, null, null, [], 'mid-connection', null, [report.connections.find((c) => String(c.client.port) === e.client)!.id]]));
  for (let i = 0; i < expected.length; i++) {
    if (expected[i].spinRtt === null) expect(report.quic[i].spinRtt).toBeNull();
    else expect(report.quic[i].spinRtt).toBeCloseTo(expected[i].spinRtt!, 6);
  }
  return report;
}

describe('QUIC captures that start mid-connection', () => {
  const cases = allCaptures().filter((n) => n.startsWith('quic-')).map((n) => ({ name: n, c: cut(capture(n)) })).filter((x) => x.c !== null);

  it('the corpus has QUIC captures with short-header packets to cut at', () => {
    expect(cases.map((x) => x.name)).toEqual(expect.arrayContaining([
      'quic-draft29-localhost.pcap', 'quic-v1-chrome-cloudflare-keys-in-pcapng-dsb.pcapng', 'quic-v1-handshake-quic-go-interop-ppp.pcap', 'quic-v2-http3-keys-in-pcapng-dsb.pcapng',
    ]));
  });

  for (const { name, c } of cases) {
    it(`${name} from packet ${c!.from}: one mid-connection entry per conversation tshark decodes as QUIC (and leaves unnumbered)`, () => {
      expectMidConnection(c!.out, c!.serverPort);
    });
  }

  it('without Decode As, a port other than 443 stays plain UDP (as tshark)', () => {
    const v2 = cases.find((x) => x.name.startsWith('quic-v2'))!.c!;
    expect(v2.serverPort).toBe('4443');
    expect((analyzeFile(v2.out).report as unknown as Report).quic).toEqual([]);
    expect(tsharkFields(v2.out, ['frame.number'], ['-Y', 'quic'])).toEqual([]);
  });

  it('a cut conversation beside complete ones (merged captures): it is mid-connection, the others as tshark numbers them', () => {
    const chrome = cases.find((x) => x.name.startsWith('quic-v1-chrome'))!.c!;
    const out = join(dir, 'mixed.pcapng');
    execFileSync('mergecap', ['-F', 'pcapng', '-w', out, chrome.out, capture('quic-v1-clienthello-split-over-multiple-initials-client-close.pcap')]);
    const report = analyzeFile(out).report as unknown as Report;
    const mid = report.quic.filter((q) => q.state === 'mid-connection');
    const numbered = tsharkConnections(out);
    expect(numbered.length).toBeGreaterThan(0);
    expect(report.quic.length).toBe(mid.length + numbered.length);
    expectSameAsTshark({ ...report, quic: report.quic.filter((q) => q.state !== 'mid-connection') }, numbered, expect);
    const expected = tsharkMid(out, '443').filter((e) => e.numbered === 0);
    expect(expected.length).toBeGreaterThan(0);
    expect(mid.map((q) => String(report.connections.find((c) => c.id === q.connectionId)!.client.port))).toEqual(expected.map((e) => e.client));
  });

  // RFC 9287: peers that negotiated grease_quic_bit may clear the fixed bit (the v2 capture's
  // peers do, packet by packet). A conversation that begins with such a short header is still
  // QUIC when it goes to a QUIC server of the capture (same address and port).
  it('greased short headers to a QUIC server of the capture: an unlinkable new path is a mid-connection entry', () => {
    const name = 'quic-v2-http3-keys-in-pcapng-dsb.pcapng';
    const rows = tsharkFields(capture(name), ['frame.number', 'udp.srcport', 'quic.header_form', 'quic.fixed_bit'], ['-Y', 'quic']);
    const last = rows.findLastIndex((r) => r[2].split(',').includes('1'));
    const next = rows[last + 1];
    // The first packet after the handshake is the client's with the fixed bit cleared.
    expect([next[1], next[3]]).toEqual(['42086', '0']);
    const from = Number(next[0]);
    const run = (withHandshake: boolean) => {
      const quic = new QuicConnections();
      const session = new AnalysisSession({ analyzers: [quic] });
      const r = openCapture(capture(name));
      let n = 0;
      for (let p = r.next(); p; p = r.next()) {
        n++;
        if (n < from && !withHandshake) continue;
        const data = p.data.slice(p.offset, p.offset + p.caplen);
        const v = new DataView(data.buffer);
        const udp = 16 + 40; // Linux cooked capture, IPv6
        if (n >= from) {
          // A new client port, and DCIDs that match no known connection id: a path neither tool can link.
          for (const o of [udp, udp + 2]) if (v.getUint16(o) === 42086) v.setUint16(o, 40000);
          data[udp + 8 + 1] ^= 0xff;
        }
        session.feed({ ...p, data, view: v, offset: 0 } as PacketRecord);
      }
      r.close();
      session.finish();
      return quic;
    };
    const q = run(true);
    expect(q.json().map((x) => [x.version, x.sni, x.state])).toEqual([['2', 'test', 'established'], [null, null, 'mid-connection']]);
    expect([q.connections[1].serverPort, q.connections[1].serverIp]).toEqual([4443, q.connections[0].serverIp]);
    expect(q.connections[1].clientPackets + q.connections[1].serverPackets).toBe(rows.length - last - 1);
    // Without the handshake no QUIC server is known, and port 4443 is not a QUIC port: plain UDP.
    expect(run(false).json()).toEqual([]);
  });
});
