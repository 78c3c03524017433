import { describe, expect, it } from 'vitest';
import { createSocket } from 'node:dgram';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { runFlows } from '../../main/cli/flows.js';
import { flowsOfFile, sendDatagrams } from '../../main/flows/flow-export.js';
import { IpfixEncoder, readIpfix, layer2SegmentId, utf8Prefix, TEMPLATE_V4, TEMPLATE_V6 } from '../../main/flows/ipfix.js';
import type { FlowRecord } from '../../main/flows/flow-records.js';
import { capture } from '../helpers/captures.js';
import { rngUint32 } from '../helpers/rng.js';
import { Nfcapd, byKey, flowKey, have, nfdumpFlows, tsharkUniflows } from './collector.js';

/**
 * Captures with TCP and UDP over IPv4 and IPv6, tunnels (VXLAN, GENEVE), SLL, BSD
 * loopback, a snaplen-truncated one (IP octets come from the IP header), resets and
 * refusals, and many short connections.
 */
const FILES = ['http-get-basic.pcap', 'http-ipv4-and-ipv6.pcapng', 'vxlan-http.pcap', 'geneve-http-many-options.pcap', 'dns-nxdomain.pcapng',
  'tcp-syn-rst-refused.pcapng', 'http-dns-ipv6-wikipedia.pcap', 'tls-sni-multi-hosts.pcap', 'http-snaplen96-truncated.pcap', 'sll-http-retx-rst.pcap',
  'null-loopback-ipv6-http.pcap', 'tcp-zerowindow-recovery.pcapng', 'dns-servfail.pcapng'];

/**
 * http-get-basic.pcap with an 802.1Q tag (VLAN 100) inserted after the MAC addresses of
 * every frame: the corpus has no tagged TCP/UDP with a non-zero VLAN id.
 */
function taggedCopy(dir: string): string {
  const src = readFileSync(capture('http-get-basic.pcap'));
  const parts: Buffer[] = [src.subarray(0, 24)];
  const le = src.readUInt32LE(0) === 0xa1b2c3d4;
  const u32 = (o: number) => (le ? src.readUInt32LE(o) : src.readUInt32BE(o));
  for (let o = 24; o + 16 <= src.length;) {
    const incl = u32(o + 8);
    const hdr = Buffer.from(src.subarray(o, o + 16));
    const w = (v: number, at: number) => (le ? hdr.writeUInt32LE(v, at) : hdr.writeUInt32BE(v, at));
    w(incl + 4, 8);
    w(u32(o + 12) + 4, 12);
    const frame = src.subarray(o + 16, o + 16 + incl);
    parts.push(hdr, frame.subarray(0, 12), Buffer.from([0x81, 0x00, 0x00, 100]), frame.subarray(12));
    o += 16 + incl;
  }
  const out = join(dir, 'vlan100-http.pcap');
  writeFileSync(out, Buffer.concat(parts));
  return out;
}

const sink = () => {
  let text = '';
  const w = new Writable({ write: (c, _e, cb) => { text += c; cb(); } });
  return { w, text: () => text };
};

/** The oracle and analyze for a file, computed once for both round trips. */
const memo = new Map<string, unknown>();
function once<T>(key: string, f: () => T): T {
  if (!memo.has(key)) memo.set(key, f());
  return memo.get(key) as T;
}

/** What `tapscope analyze` says each direction of each connection carried. */
function analyzeDirections(file: string): { key: string; packets: number; firstMs: number; lastMs: number; conn: number }[] {
  const { report } = flowsOfFile(file);
  const out = [];
  for (const c of report.connections as { id: number; transport: string; client: { ip: string; port: number }; server: { ip: string; port: number }; packetsToServer: number; packetsToClient: number; firstTs: number; lastTs: number }[]) {
    const p = c.transport === 'tcp' ? 6 : 17;
    const ms = (t: number) => Math.floor(t * 1000 + 1e-6);
    if (c.packetsToServer) out.push({ key: flowKey(p, c.client.ip, c.client.port, c.server.ip, c.server.port), packets: c.packetsToServer, firstMs: ms(c.firstTs), lastMs: ms(c.lastTs), conn: c.id });
    if (c.packetsToClient) out.push({ key: flowKey(p, c.server.ip, c.server.port, c.client.ip, c.client.port), packets: c.packetsToClient, firstMs: ms(c.firstTs), lastMs: ms(c.lastTs), conn: c.id });
  }
  return out;
}

/** Exports FILES with `tapscope flows --<proto>` into a fresh nfcapd and checks every flow against tshark and analyze. */
async function roundTrip(protoOption: '--ipfix' | '--netflow9'): Promise<{ flows: number; files: number }> {
  const tmp = mkdtempSync(join(tmpdir(), 'tapscope-vlan-'));
  const taggedFile = taggedCopy(tmp);
  const paths = [...FILES.map(capture), taggedFile];
  const nf = new Nfcapd();
  await nf.start();
  let recs: Record<string, unknown>[];
  try {
    const out = sink();
    const err = sink();
    const code = await runFlows([...paths, protoOption, `127.0.0.1:${nf.port}`], out.w, err.w);
    expect(code, err.text()).toBe(0);
    recs = await nf.stop();
  } finally {
    nf.remove();
  }
  // The VLAN id reaches the collector (IPFIX vlanId, NetFlow v9 SRC_VLAN): only the tagged copy's
  // records (same 5-tuples as http-get-basic.pcap's) carry 100.
  expect(recs.filter((r) => r.src_vlan === 100)).toHaveLength(2);
  expect(recs.filter((r) => r.src_vlan !== 0 && r.src_vlan !== 100)).toEqual([]);
  rmSync(tmp, { recursive: true, force: true });
  expect(nf.output).toMatch(/Sequence Errors: 0\b/);
  const got = byKey(nfdumpFlows(recs.filter((r) => r.src_vlan !== 100)));
  // The tagged copy: the same flows as the untagged capture, in VLAN 100.
  const tagged = byKey(nfdumpFlows(recs.filter((r) => r.src_vlan === 100)));
  expect(tagged).toEqual(once('tshark http-get-basic.pcap', () => byKey(tsharkUniflows(capture('http-get-basic.pcap')))));
  let directions = 0;
  for (const f of FILES) {
    const oracle = once(`tshark ${f}`, () => byKey(tsharkUniflows(capture(f))));
    const ours = once(`analyze ${f}`, () => analyzeDirections(capture(f)));
    directions += ours.length;
    // tshark and Tapscope see the same directions.
    expect([...new Set(ours.map((d) => d.key))].sort(), f).toEqual([...oracle.keys()].sort());
    for (const [key, want] of oracle) {
      const g = got.get(key);
      expect(g, `${f} ${key}`).toBeDefined();
      // Packets, IP-layer octets, first and last packet to the ms: as tshark counts them.
      expect(g, `${f} ${key}`).toEqual(want);
      // And as analyze counts them: packets per direction, within the connection's time span.
      const dirs = ours.filter((d) => d.key === key);
      expect(g!.packets, `${f} ${key}`).toBe(dirs.reduce((n, d) => n + d.packets, 0));
      expect(g!.firstMs).toBeGreaterThanOrEqual(Math.min(...dirs.map((d) => d.firstMs)));
      expect(g!.lastMs).toBeLessThanOrEqual(Math.max(...dirs.map((d) => d.lastMs)));
    }
    // The connection's first/last packet is the earlier/later of its two directions.
    for (const c of new Set(ours.map((d) => d.conn))) {
      const dirs = ours.filter((d) => d.conn === c);
      const flows = dirs.map((d) => got.get(d.key)!);
      if (dirs.every((d) => ours.filter((o) => o.key === d.key).length === 1)) {
        expect(Math.min(...flows.map((x) => x.firstMs)), `${f} conn ${c}`).toBe(dirs[0].firstMs);
        expect(Math.max(...flows.map((x) => x.lastMs)), `${f} conn ${c}`).toBe(dirs[0].lastMs);
      }
    }
  }
  // One record per direction that carried packets, no more (2 of them the tagged copy's).
  expect(recs.length).toBe(directions + 2);
  return { flows: recs.length, files: FILES.length };
}

const NO_COLLECTOR = !have('nfcapd') || !have('nfdump') ? 'nfcapd/nfdump (Debian nfdump) not installed' : '';

describe.skipIf(NO_COLLECTOR !== '')(`IPFIX and NetFlow v9 into nfcapd ${NO_COLLECTOR}`, () => {
  it('IPFIX: every TCP/UDP direction of 13 captures (and a VLAN-tagged one) reads back from nfcapd as tshark counts it', async () => {
    const r = await roundTrip('--ipfix');
    expect(r.flows).toBeGreaterThan(40);
  }, 60_000);

  it('NetFlow v9: the same records, times exact to the ms through sysUptime', async () => {
    const r = await roundTrip('--netflow9');
    expect(r.flows).toBeGreaterThan(40);
  }, 60_000);
});

describe('IPFIX file (-w) and the message stream', () => {
  it('-w OUT.ipfix reads back with every element, Tapscope enterprise ones included', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tapscope-ipfix-'));
    try {
      const files = ['http-get-basic.pcap', 'http-ipv4-and-ipv6.pcapng', 'vxlan-http.pcap', 'geneve-http-many-options.pcap', 'dns-nxdomain.pcapng', 'tls-sni-multi-hosts.pcap'].map(capture);
      const out = sink();
      const file = join(dir, 'out.ipfix');
      expect(await runFlows([...files, '-w', file, '--json', '--community-id-seed', '7'], out.w, sink().w)).toBe(0);
      const printed = JSON.parse(out.text()) as { flows: FlowRecord[] };
      const want = files.flatMap((f) => flowsOfFile(f, { communityIdSeed: 7 }).records);
      expect(printed.flows).toEqual(want);
      const read = readIpfix(readFileSync(file));
      expect(read.errors).toEqual([]);
      expect(read.sequenceGaps).toBe(0);
      expect(read.messages[0].templates).toBe(2);
      expect(read.messages.slice(1).every((m) => m.templates === 0)).toBe(true);
      const recs = read.messages.flatMap((m) => m.records);
      expect(recs).toHaveLength(want.length);
      want.forEach((w, i) => {
        const r = recs[i];
        const v = w.ipVersion === 6 ? '6' : '4';
        expect(r[`sourceIPv${v}Address`]).toBe(w.srcIp);
        expect(r[`destinationIPv${v}Address`]).toBe(w.dstIp);
        expect([r.sourceTransportPort, r.destinationTransportPort, r.protocolIdentifier]).toEqual([w.srcPort, w.dstPort, w.proto]);
        expect([r.packetDeltaCount, r.octetDeltaCount, r.flowStartMilliseconds, r.flowEndMilliseconds]).toEqual([w.packets, w.octets, w.startMs, w.endMs]);
        expect([r.tcpControlBits, r.flowEndReason, r.vlanId, r.layer2SegmentId]).toEqual([w.tcpFlags, w.endReason, w.vlanId ?? 0, layer2SegmentId(w)]);
        expect([r.tapscopeConnectionId, r.communityId, r.retransmittedPackets, r.captureLostSegments, r.captureAckedUnseen]).toEqual([w.connectionId, w.communityId, w.retransmissions, w.lostSegments, w.ackedUnseen]);
        expect([r.httpHost, r.httpStatusCode, r.dnsQueryName, r.dnsResponseCode, r.tlsServerName]).toEqual([w.httpHost ?? '', w.httpStatus ?? 0, w.dnsName ?? '', w.dnsRcode ?? 255, w.tlsSni ?? '']);
      });
      // The facts behind the enterprise elements are really there.
      expect(want.find((w) => w.vni !== null && w.vniType === 'vxlan')).toBeDefined();
      expect(want.find((w) => w.vniType === 'geneve')).toBeDefined();
      expect(want.find((w) => w.httpHost !== null && w.httpStatus === 200)).toBeDefined();
      expect(want.find((w) => w.tlsSni !== null)).toBeDefined();
      expect(want.find((w) => w.dnsRcode === 3 && w.dnsName !== null)).toBeDefined();
      expect(want.every((w) => w.communityId?.startsWith('1:'))).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('over UDP: templates first and every N messages, sequence numbers count data records (RFC 7011 §3.1)', async () => {
    const records = flowsOfFile(capture('many-conns-loopback-echo.pcap')).records;
    expect(records.length).toBeGreaterThan(500);
    const enc = new IpfixEncoder({ templateRefresh: 4, observationDomainId: 9 });
    const msgs = enc.encode(records, 1_700_000_000);
    const sock = createSocket('udp4');
    const got: Buffer[] = [];
    await new Promise<void>((r) => sock.bind(0, '127.0.0.1', r));
    sock.on('message', (m) => got.push(m));
    await sendDatagrams(msgs, { host: '127.0.0.1', port: sock.address().port });
    for (let i = 0; i < 50 && got.length < msgs.length; i++) await new Promise((r) => setTimeout(r, 20));
    sock.close();
    expect(got.length).toBe(msgs.length);
    expect(got.every((m) => m.length <= 1400)).toBe(true);
    const read = readIpfix(Buffer.concat(got));
    expect(read.errors).toEqual([]);
    expect(read.sequenceGaps).toBe(0);
    let seq = 0;
    read.messages.forEach((m, i) => {
      expect(m.templates, `message ${i}`).toBe(i % 4 === 0 ? 2 : 0);
      expect(m.sequence, `message ${i}`).toBe(seq);
      expect(m.domainId).toBe(9);
      seq += m.records.length;
    });
    expect(seq).toBe(records.length);
    expect(enc.dataRecords).toBe(records.length);
  }, 30_000);

  it('the reader reports damaged input instead of throwing', () => {
    const enc = new IpfixEncoder();
    const msgs = enc.encode(flowsOfFile(capture('http-ipv4-and-ipv6.pcapng')).records, 0);
    const whole = Buffer.concat(msgs);
    expect(readIpfix(whole.subarray(0, whole.length - 5)).errors[0]).toMatch(/bad message header/);
    expect(readIpfix(Buffer.from('garbage!garbage!garbage!')).errors).toHaveLength(1);
    // Data before its template is skipped and said so (a collector that restarted).
    const noTemplates = new IpfixEncoder({ templateRefresh: Infinity });
    noTemplates.encode([], 0);
    const later = noTemplates.encode(flowsOfFile(capture('http-get-basic.pcap')).records, 0);
    const r = readIpfix(Buffer.concat(later));
    expect(r.errors.some((e) => e.includes(`data set ${TEMPLATE_V4} before its template`))).toBe(true);
    expect(TEMPLATE_V6).toBe(257);
  });

  it('strings are cut to 255 octets at a character boundary, so a record fits a datagram', () => {
    const [r] = flowsOfFile(capture('http-get-basic.pcap')).records;
    const long = { ...r, httpHost: 'é'.repeat(200) + '.example', dnsName: 'x'.repeat(300), tlsSni: 'y'.repeat(300) };
    const msgs = new IpfixEncoder().encode([long], 0);
    expect(msgs).toHaveLength(1);
    expect(msgs[0].length).toBeLessThanOrEqual(1400);
    const got = readIpfix(msgs[0]).messages[0].records[0];
    expect(got.httpHost).toBe('é'.repeat(127));
    expect(got.dnsQueryName).toBe('x'.repeat(255));
    expect(utf8Prefix('aé', 2).toString()).toBe('a');
  });

  it('the reader survives seeded corruption (bit flips, cuts) of real messages', () => {
    const whole = Buffer.concat(new IpfixEncoder({ templateRefresh: 2 }).encode(flowsOfFile(capture('tls-sni-multi-hosts.pcap')).records, 0));
    const rnd = rngUint32(13);
    for (let i = 0; i < 500; i++) {
      const b = Buffer.from(whole.subarray(0, 1 + (rnd() % whole.length)));
      for (let k = 0; k < 1 + (rnd() % 8); k++) b[rnd() % b.length] ^= 1 << (rnd() % 8);
      const r = readIpfix(b);
      expect(Array.isArray(r.messages)).toBe(true);
    }
    // A template whose fields are all zero-length cannot make the reader spin.
    // header (16) | template set: id 256, one field IE 1 of length 0 (12) | data set 256 with 4 octets (8)
    const m = Buffer.from('000a0024' + '00'.repeat(12) + '0002000c' + '0100000100010000' + '01000008' + '00000000', 'hex');
    expect(readIpfix(m).messages).toHaveLength(1);
  });
});
