import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { analyzeFile } from '../../main/engine/analyze-file.js';
import { parseDecodeAs } from '../../main/decode/decoder.js';
import { duration, type HttpExchange } from '../../main/analysis/http-exchanges.js';
import { handshakeTime } from '../../main/analysis/tls-handshakes.js';
import { qtypeName, responseTime } from '../../main/analysis/dns-transactions.js';
import { allCaptures, capture, decodeAsFor, tsharkFields } from '../helpers/captures.js';

/*
 * HTTP, DNS and TLS against tshark on every capture of the corpus that carries them.
 * Deliberate differences are the ones listed in docs/protocols.md ("Differences from
 * Wireshark"); each is checked here for the reason given there, not just tolerated.
 */

/**
 * Files whose tunnel packets are IP-fragmented outside: Tapscope does not reassemble IP
 * fragments and reads the inner segment at the first fragment, so tshark runs with
 * reassembly off (`-o ip.defragment:FALSE`) to read them the same way (docs/protocols.md).
 */
const OUTER_FRAGMENTS = new Set(['gre-teb-http-dns.pcap']);
const NO_DEFRAG = ['-o', 'ip.defragment:FALSE'];
/** Fuzzed packets: only "never throws" is tested (test/parsers/hostile-input.test.ts). */
const skip = (name: string) => name.startsWith('malformed-');

function run(name: string) {
  const da = decodeAsFor(name);
  const keys = KEY_LOGS[name];
  return analyzeFile(capture(name), { decodeAs: da.tapscope.map(parseDecodeAs), keyLogs: keys ? [{ text: readFileSync(capture(keys), 'utf8'), source: keys }] : [] });
}

const us = (v: number) => Math.round(v * 1e6);
/** Times agree within 1 µs: epoch seconds as doubles keep about 0.2 µs of a nanosecond clock. */
const near = (a: number, b: number) => Math.abs(a - b) <= 1e-6;

/**
 * Responses Tapscope completes and tshark 4.0 does not, with the reason (docs/protocols.md).
 * Key: request method + URI prefix + time of the packet completing the request (µs).
 */
const TSHARK_UNREASSEMBLED: Record<string, string[]> = {
  // The 816,896-byte 206 body overlaps retransmissions after a zero-window stall; tshark
  // stops reassembling the PDU, Tapscope keeps the first copy of each byte and completes it.
  'http-206-zerowindow-retx-ooo.pcap': ['GET /msdownload/update/software/uprl/2011/01/windows-kb890830 @1294816093468314'],
};

/**
 * NSS key logs that come with a capture (MANIFEST): given to tshark (`-o tls.keylog_file:`)
 * and to Tapscope alike, so HTTP inside TLS is compared like clear text. Keys inside a
 * capture (pcapng DSBs) both read by themselves.
 */
const KEY_LOGS: Record<string, string> = {
  'tls13-rfc8446-early-data-keylog.pcap': 'tls13-rfc8446-early-data.keys',
};

const FIELDS = [
  'frame.number', 'frame.time_epoch', 'http.request.method', 'http.host', 'http.request.uri', 'http.response.code', 'http.time', // 0-6
  'http.request_in', 'tcp.analysis.retransmission', 'dns.id', 'dns.flags.response', 'dns.qry.name', 'dns.qry.type', 'dns.flags.rcode', // 7-13
  'dns.time', 'dns.retransmission', 'dns.a', 'dns.aaaa', 'dns.cname', 'dns.count.answers', 'dns.resp.type', 'udp.port', 'tcp.port', // 14-22
  'tls.handshake.type', 'tls.handshake.extensions_server_name', 'tls.handshake.extensions_alpn_str', 'tls.handshake.extensions.supported_version', // 23-26
  'tls.handshake.version', 'x509af.utcTime', 'tcp.stream', 'tls.record.content_type', 'tcp.srcport', // 27-31
  'tls.record.opaque_type', // 32: the outer type of a TLS 1.3 encrypted record (content_type is then the inner one, or absent)
];
const C = Object.fromEntries(FIELDS.map((f, i) => [f, i]));
const list = (v: string) => (v ? v.split(',') : []);

/**
 * Where tshark says the capture lost data: per marked packet, the direction whose data was
 * lost ("sender ip|port|receiver ip|port": the packet's own direction for lost_segment, the
 * reverse for ack_lost_segment, which ACKs it) and when. Innermost addresses and ports.
 */
function serverDataLost(file: string, opts: string[]): { dir: string; ts: number }[] {
  const rows = tsharkFields(file, ['frame.time_epoch', 'ip.src', 'ipv6.src', 'tcp.srcport', 'ip.dst', 'ipv6.dst', 'tcp.dstport', 'tcp.analysis.lost_segment', 'tcp.analysis.ack_lost_segment'],
    [...opts, '-Y', 'tcp.analysis.lost_segment || tcp.analysis.ack_lost_segment']);
  const lastOf = (v: string) => v.split(',').pop() ?? '';
  return rows.map((r) => {
    const src = `${lastOf(r[2] || r[1])}|${lastOf(r[3])}`;
    const dst = `${lastOf(r[5] || r[4])}|${lastOf(r[6])}`;
    return { dir: r[7] ? `${src}|${dst}` : `${dst}|${src}`, ts: Number(r[0]) };
  });
}

/** Registers one test per corpus capture accepted by `part` (the corpus is split over two files to keep each under a minute). */
export function compareWithTshark(part: (name: string, index: number) => boolean): void {
  allCaptures().filter((n) => !skip(n)).filter(part).forEach((name) => {
    it(name, () => {
      const da = decodeAsFor(name);
      const keyOpt = KEY_LOGS[name] ? ['-o', `tls.keylog_file:${capture(KEY_LOGS[name])}`] : [];
      const opts = [...da.tshark, ...keyOpt, ...(OUTER_FRAGMENTS.has(name) ? NO_DEFRAG : [])];
      const rows = tsharkFields(capture(name), FIELDS, [...opts, '-Y', 'http || dns || tls.record']);
      const { report, session } = run(name);
      const get = (r: string[], f: string) => r[C[f]] ?? '';

      // HTTP requests: method, host, URI and the packet completing the request.
      const httpRows = rows.filter((r) => get(r, 'http.request.method') || get(r, 'http.response.code'));
      const http = httpRows;
      const all = session.app.http.exchanges;
      // HTTP/2 and HTTP/3 streams are compared with tshark's http2/http3 fields in their own tests.
      const xs = all.filter((x) => (x.protocol ?? 'http/1.1') === 'http/1.1');
      const byFrame = new Map(http.map((r) => [get(r, 'frame.number'), r]));
      const theirReq = http.filter((r) => get(r, 'http.request.method')).map((r) => `${get(r, 'http.request.method')} ${get(r, 'http.host')} ${get(r, 'http.request.uri')} @${us(Number(get(r, 'frame.time_epoch')))}`).sort();
      const ourReq = xs.filter((x) => x.method !== null).map((x) => `${x.method} ${x.host ?? ''} ${x.uri} @${us(x.requestEndTs ?? x.requestTs!)}`).sort();
      expect(ourReq).toEqual(theirReq);
      // HTTP responses paired with their request: status and http.time (= Tapscope's duration).
      const theirs = new Map<string, number>();
      for (const r of http) {
        const q = byFrame.get(get(r, 'http.request_in'));
        if (!get(r, 'http.response.code') || !q) continue;
        theirs.set(`${get(q, 'http.request.method')} ${get(q, 'http.host')} ${get(q, 'http.request.uri')} @${us(Number(get(q, 'frame.time_epoch')))} -> ${get(r, 'http.response.code')}`, Number(get(r, 'http.time')));
      }
      const ours = new Map<string, { t: number; x: HttpExchange; listed: boolean }>();
      const listed = (method: string, uri: string, at: number) =>
        (TSHARK_UNREASSEMBLED[name] ?? []).some((e) => {
          const [m, u, a] = e.split(' ');
          return m === method && uri.startsWith(u) && a === `@${at}`;
        });
      for (const x of xs) {
        if (x.method === null || x.status === null || x.responseEndTs === null) continue;
        const at = us(x.requestEndTs ?? x.requestTs!);
        ours.set(`${x.method} ${x.host ?? ''} ${x.uri} @${at} -> ${x.status}`, { t: duration(x)!, x, listed: listed(x.method, x.uri ?? '', at) });
      }
      for (const [k, t] of theirs) {
        const o = ours.get(k);
        expect(o, `tshark pairs ${k}`).toBeDefined();
        expect(near(o!.t, t), `${k}: ${o!.t} vs http.time ${t}`).toBe(true);
      }
      // A response only Tapscope completes is one whose bytes tshark too says the capture lost
      // (tcp.analysis.lost_segment or ack_lost_segment on the server's data, before the response
      // ended, on that connection), or is listed with its reason.
      const onlyOurs = [...ours].filter(([k]) => !theirs.has(k));
      const lost = onlyOurs.length ? serverDataLost(capture(name), opts) : [];
      for (const [k, o] of onlyOurs) {
        const c = session.connections.all[o.x.connectionId];
        const dir = `${c.server.ip}|${c.server.port}|${c.client.ip}|${c.client.port}`;
        const tsharkLost = lost.some((l) => l.dir === dir && l.ts <= o.x.responseEndTs! + 1e-6);
        expect(tsharkLost || o.listed, `only Tapscope completes ${k} (tshark marks no lost segment of that response)`).toBe(true);
        if (tsharkLost && !o.listed) expect(o.x.responseGapBytes, `${k}: Tapscope counts the lost bytes`).toBeGreaterThan(0);
      }
      // Responses without a request (the capture started after it): the same on both sides.
      // tshark's second dissection of a retransmitted segment as a new response is the
      // documented exception (docs/protocols.md "Differences from Wireshark", item 2).
      const theirOrphans = http.filter((r) => get(r, 'http.response.code') && !byFrame.has(get(r, 'http.request_in')) && !get(r, 'tcp.analysis.retransmission'))
        .map((r) => `${get(r, 'http.response.code')} @${us(Number(get(r, 'frame.time_epoch')))}`).sort();
      const ourOrphans = xs.filter((x) => x.method === null && x.status !== null).map((x) => `${x.status} @${us(x.responseEndTs ?? x.responseTs!)}`).sort();
      expect(ourOrphans, 'responses without a request').toEqual(theirOrphans);
      expect(report.http.length).toBe(all.length);

      // DNS (port 53): queries (first copies), responses with rcode, dns.time and answers.
      const dns = rows.filter((r) => get(r, 'dns.id') && (list(get(r, 'udp.port')).includes('53') || list(get(r, 'tcp.port')).includes('53')));
      const ts = session.app.dns.transactions;
      const theirQ = dns.filter((r) => get(r, 'dns.flags.response') === '0' && !get(r, 'dns.retransmission')).map((r) => `${Number(get(r, 'dns.id'))} ${get(r, 'dns.qry.name')} ${get(r, 'dns.qry.type')} @${us(Number(get(r, 'frame.time_epoch')))}`).sort();
      const ourQ = ts.filter((t) => t.queryTs !== null).map((t) => `${t.id} ${t.qname} ${t.qtype} @${us(t.queryTs!)}`).sort();
      expect(ourQ).toEqual(theirQ);
      const theirR = dns.filter((r) => get(r, 'dns.flags.response') === '1').map((r) => {
        // Answer section only: the first dns.count.answers record types say how many A/AAAA/CNAME it holds.
        const types = list(get(r, 'dns.resp.type')).slice(0, Number(get(r, 'dns.count.answers') || 0));
        const n = (t: string) => types.filter((x) => x === t).length;
        const a = list(get(r, 'dns.a')).slice(0, n('1'));
        const aaaa = list(get(r, 'dns.aaaa')).slice(0, n('28'));
        const cname = list(get(r, 'dns.cname')).slice(0, n('5'));
        return { key: `${Number(get(r, 'dns.id'))} ${get(r, 'dns.qry.name')} rcode=${get(r, 'dns.flags.rcode')} a=${a} aaaa=${aaaa} cname=${cname}`, time: get(r, 'dns.time') };
      }).sort((x, y) => (x.key < y.key ? -1 : 1));
      const ourR = ts.filter((t) => t.rcode !== null).map((t) => {
        const a = t.answers.filter((x) => /^\d+\.\d+\.\d+\.\d+$/.test(x));
        const aaaa = t.answers.filter((x) => x.includes(':'));
        const cname = t.answers.filter((x) => !a.includes(x) && !aaaa.includes(x));
        return { key: `${t.id} ${t.qname} rcode=${t.rcode} a=${a} aaaa=${aaaa} cname=${cname}`, time: responseTime(t) };
      }).sort((x, y) => (x.key < y.key ? -1 : 1));
      expect(ourR.map((x) => x.key)).toEqual(theirR.map((x) => x.key));
      theirR.forEach((x, i) => {
        if (x.time === '') expect(ourR[i].time, x.key).toBeNull();
        else expect(near(ourR[i].time!, Number(x.time)), `${x.key}: ${ourR[i].time} vs dns.time ${x.time}`).toBe(true);
      });
      expect(report.dns.length).toBe(ts.length);
      expect(ts.every((t) => qtypeName(t.qtype).length > 0)).toBe(true);

      // TLS: SNI and ALPN of every ClientHello, negotiated version, server certificate validity.
      const tls = rows.filter((r) => get(r, 'tls.handshake.type'));
      // (rows without handshake types are the other TLS records, used for the times below)
      const hs = session.app.tls.handshakes;
      const hello = tls.filter((r) => list(get(r, 'tls.handshake.type')).includes('1'));
      expect(hs.filter((h) => h.clientHelloTs !== null).map((h) => `${h.sni ?? ''} ${h.alpn.join(',')}`).sort()).toEqual(hello.map((r) => `${get(r, 'tls.handshake.extensions_server_name')} ${get(r, 'tls.handshake.extensions_alpn_str')}`).sort());
      const server = tls.filter((r) => list(get(r, 'tls.handshake.type')).includes('2'));
      const vname = (v: string) => ({ '0x0301': 'TLS 1.0', '0x0302': 'TLS 1.1', '0x0303': 'TLS 1.2', '0x0304': 'TLS 1.3' })[v] ?? v;
      // supported_versions in a ServerHello is the chosen version; tshark lists the ClientHello's too, so take the ServerHello's row.
      expect(hs.filter((h) => h.version).map((h) => h.version).sort()).toEqual(server.map((r) => vname(list(get(r, 'tls.handshake.extensions.supported_version'))[0] || list(get(r, 'tls.handshake.version'))[0])).sort());
      const certs = tls.filter((r) => list(get(r, 'tls.handshake.type')).includes('11') && get(r, 'x509af.utcTime')).map((r) => list(get(r, 'x509af.utcTime')).slice(0, 2));
      const asIso = (v: string) => new Date(v.replace(' (UTC)', 'Z').replace(' ', 'T')).toISOString().replace('.000Z', 'Z');
      expect(hs.filter((h) => h.certificate).map((h) => `${h.certificate!.notBefore} ${h.certificate!.notAfter}`).sort()).toEqual(certs.map((p) => p.map(asIso).join(' ')).sort());
      expect(report.tls.length).toBe(hs.length);

      // Handshake time from tshark's record types (docs/protocols.md "TLS"): ClientHello to the
      // Finished (handshake record after ChangeCipherSpec) of the side that sent it second;
      // for TLS 1.3 to the client's first encrypted record after the ServerHello.
      const recs = rows.filter((r) => get(r, 'tls.record.content_type') || get(r, 'tls.record.opaque_type'));
      const byStream = new Map<string, string[][]>();
      for (const r of recs) {
        const k = get(r, 'tcp.stream');
        if (!byStream.has(k)) byStream.set(k, []);
        byStream.get(k)!.push(r);
      }
      const expected: (number | null)[] = [];
      for (const rs of byStream.values()) {
        let ch: number | null = null;
        let client = '';
        let tls13 = false;
        let shSeen = false;
        const ccs = new Set<string>();
        const fin = new Map<string, number>();
        let done: number | null = null;
        for (const r of rs) {
          const ts = Number(get(r, 'frame.time_epoch'));
          const side = get(r, 'tcp.srcport');
          const types = list(get(r, 'tls.handshake.type'));
          if (ch === null && types.includes('1')) {
            ch = ts;
            client = side;
          }
          if (types.includes('2')) {
            shSeen = true;
            tls13 = list(get(r, 'tls.handshake.extensions.supported_version')).includes('0x0304');
          }
          // Wire record types. A TLS 1.3 encrypted record shows as opaque_type 23, and
          // content_type is then its inner type when tshark decrypted it (keys in a DSB), so
          // in a frame with encrypted records only ChangeCipherSpec is a clear content type.
          const opaque = list(get(r, 'tls.record.opaque_type'));
          const content = list(get(r, 'tls.record.content_type'));
          const wire = opaque.length ? [...content.filter((t) => t === '20'), ...opaque] : content;
          for (const t of wire) {
            if (done !== null) break;
            if (t === '20') ccs.add(side);
            else if (tls13 && t === '23' && side === client && shSeen) done = ts;
            else if (!tls13 && t === '22' && ccs.has(side) && !fin.has(side)) {
              fin.set(side, ts);
              if (fin.size === 2) done = ts;
            }
          }
        }
        if (ch !== null) expected.push(done === null ? null : done - ch);
      }
      const got = hs.filter((h) => h.clientHelloTs !== null).map((h) => handshakeTime(h));
      expect(got.map((v) => (v === null ? null : us(v))).sort()).toEqual(expected.map((v) => (v === null ? null : us(v))).sort());
    }, 180_000);
  });
}
