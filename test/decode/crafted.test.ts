import { describe, expect, it, beforeAll, afterAll } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { saveCapture } from '../../main/pcap/writer.js';
import { openCapture } from '../../main/pcap/reader.js';
import { Decoder } from '../../main/decode/decoder.js';
import { tsharkRows } from '../pcap/oracle.js';
import { tapscopeViews, tsharkViews } from './tshark-stack.js';
import { cat, corpusPacket, erspan3, eth, ext8, frag6, geneve, gre, icmpError, icmpv6Error, ipv4, ipv6, udp, vxlan } from './craft.js';

/*
 * Encapsulations the corpus lacks, built around real packets (craft.ts) and written with
 * Tapscope's writer; tshark decodes the same file as the oracle:
 *   IP-in-IP, IPv6-in-IPv4 (sit), IPv4-in-IPv6, GENEVE carrying bare IPv4/IPv6 (AWS GWLB)
 *   and Ethernet, ERSPAN III with and without the platform sub-header, VXLAN on 8472,
 *   GRE with key+seq, ICMP/ICMPv6 errors quoting UDP/TCP, IPv6 extension headers, IPv4 and
 *   IPv6 fragments.
 */

const inner4 = corpusPacket('http-get-basic.pcap', 4).slice(14); // IPv4/TCP HTTP GET
const inner6 = corpusPacket('http-ipv4-and-ipv6.pcapng', 14).slice(14); // IPv6/TCP HTTP GET
const frame = corpusPacket('http-get-basic.pcap', 4); // Ethernet frame
const dns = corpusPacket('dns-queries-no-response.pcap', 1).slice(14); // IPv4/UDP DNS query

const PACKETS: [string, Uint8Array][] = [
  ['IP-in-IP', eth(0x0800, ipv4('192.0.2.1', '192.0.2.2', 4, inner4))],
  ['IPv6-in-IPv4 (sit)', eth(0x0800, ipv4('192.0.2.1', '192.0.2.2', 41, inner6))],
  ['IPv4-in-IPv6', eth(0x86dd, ipv6('2001:db8::1', '2001:db8::2', 4, inner4))],
  ['GENEVE bare IPv4', eth(0x0800, ipv4('10.0.0.1', '10.0.0.2', 17, udp(40000, 6081, geneve(0x123456, 0x0800, inner4))))],
  ['GENEVE bare IPv6', eth(0x0800, ipv4('10.0.0.1', '10.0.0.2', 17, udp(40000, 6081, geneve(0xabcdef, 0x86dd, inner6))))],
  ['GENEVE Ethernet', eth(0x0800, ipv4('10.0.0.1', '10.0.0.2', 17, udp(40000, 6081, geneve(7, 0x6558, frame))))],
  ['ERSPAN III + platform sub-header', eth(0x0800, ipv4('10.1.0.1', '10.1.0.2', 47, gre(0x22eb, erspan3(777, frame, true), { seq: 5 })))],
  ['ERSPAN III', eth(0x0800, ipv4('10.1.0.1', '10.1.0.2', 47, gre(0x22eb, erspan3(778, frame, false), { seq: 6 })))],
  ['VXLAN on 8472', eth(0x0800, ipv4('10.2.0.1', '10.2.0.2', 17, udp(51000, 8472, vxlan(4242, frame))))],
  ['GRE key+seq TEB', eth(0x0800, ipv4('10.3.0.1', '10.3.0.2', 47, gre(0x6558, frame, { key: 0x01020304, seq: 9 })))],
  ['GRE over IPv6 carrying IPv4', eth(0x86dd, ipv6('2001:db8::3', '2001:db8::4', 47, gre(0x0800, inner4, { key: 99 })))],
  ['ICMP port unreachable quoting UDP', eth(0x0800, ipv4('10.9.0.2', '10.9.0.1', 1, icmpError(3, 3, dns)))],
  ['ICMP time exceeded quoting TCP', eth(0x0800, ipv4('10.9.0.254', '10.9.0.1', 1, icmpError(11, 0, inner4)))],
  ['ICMPv6 unreachable quoting TCP', eth(0x86dd, ipv6('2001:db8::fe', '2001:db8::1', 58, icmpv6Error(1, 4, inner6)))],
  ['IPv6 hop-by-hop + destination options + TCP', eth(0x86dd, ipv6('2001:db8::a', '2001:db8::b', 0, cat(ext8(60), ext8(6), inner6.slice(40))))],
];

// Fragments, checked field by field (tshark reassembles; Tapscope flags and stops at IP).
const udpPayload = new Uint8Array(24).fill(0x61);
const dgram = udp(5000, 6000, udpPayload); // 32 bytes: split 16 + 16
const FRAGMENTS: [string, Uint8Array][] = [
  ['IPv4 first fragment', eth(0x0800, ipv4('10.4.0.1', '10.4.0.2', 17, dgram.slice(0, 16), { id: 77, mf: true }))],
  ['IPv4 last fragment', eth(0x0800, ipv4('10.4.0.1', '10.4.0.2', 17, dgram.slice(16), { id: 77, fragOffset: 16 }))],
  ['IPv6 first fragment', eth(0x86dd, ipv6('2001:db8::c', '2001:db8::d', 44, cat(frag6(17, 0, true, 0x55), dgram.slice(0, 16))))],
  ['IPv6 last fragment', eth(0x86dd, ipv6('2001:db8::c', '2001:db8::d', 44, cat(frag6(17, 16, false, 0x55), dgram.slice(16))))],
];

let dir: string;
let path: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'tapscope-crafted-'));
  path = join(dir, 'crafted.pcap');
  const all = [...PACKETS, ...FRAGMENTS];
  saveCapture(path, all.map(([, data], i) => ({ tsSec: 1700000000 + i, tsNsec: 0, caplen: data.length, origLen: data.length, data, offset: 0, interfaceId: 0 })), {
    format: 'pcap',
    interfaces: [{ id: 0, linkType: 1, snaplen: 262144, name: null, description: null, tsUnitsPerSec: 1e6 }],
  });
});
afterAll(() => { rmSync(dir, { recursive: true, force: true }); });

describe('crafted encapsulations vs tshark', () => {
  it('tunnel stacks, inner addresses, ports and ICMP quotes agree', async () => {
    const theirs = await tsharkViews(path, ['-d', 'udp.port==8472,vxlan']);
    const ours = tapscopeViews(path);
    for (let i = 0; i < PACKETS.length; i++) {
      const label = PACKETS[i][0];
      expect(ours[i].malformed ?? null, label).toBeNull();
      const { malformed: _m, ...o } = ours[i];
      expect(o, label).toEqual(theirs[i]);
    }
    // The interesting parts are really there (not two empty views agreeing).
    expect(ours[0].stack).toBe('ipip:null 192.0.2.1>192.0.2.2');
    expect(ours[3].stack).toBe(`geneve:${0x123456} 10.0.0.1>10.0.0.2`);
    expect(ours[3].l4).toMatch(/^tcp \d+>80$/);
    expect(ours[6].stack).toBe('erspan3:777 10.1.0.1>10.1.0.2');
    expect(ours[11].quoted).toMatch(/^\S+>\S+ \d+>53$/);
  });

  it('fragments are flagged with tshark\'s offset and more-fragments bit', async () => {
    const rows = await tsharkRows(path, ['ip.flags.mf', 'ip.frag_offset', 'ipv6.fraghdr.more', 'ipv6.fraghdr.offset', 'ip.id', 'ipv6.fraghdr.ident']);
    const r = openCapture(path);
    const dec = new Decoder();
    let i = 0;
    for (let p = r.next(); p; p = r.next(), i++) {
      if (i < PACKETS.length) continue;
      const f = dec.decode(p);
      const t = rows[i];
      const label = FRAGMENTS[i - PACKETS.length][0];
      expect(f.isFragment, label).toBe(true);
      const [mf, off] = f.ipVersion === 4 ? [t[0], t[1]] : [t[2], t[3]];
      expect(f.moreFragments ? '1' : '0', label).toBe(mf === 'True' ? '1' : mf);
      expect(String(f.fragOffset / 8), label).toBe(off); // tshark counts 8-byte units; Tapscope bytes
      expect(String(f.ipId), label).toBe(String(Number(f.ipVersion === 4 ? t[4] : t[5])));
      // Only a first fragment has an L4 header; later fragments stop at IP.
      if (f.fragOffset > 0) expect(f.l4, label).toBe(0);
    }
    r.close();
    expect(i).toBe(PACKETS.length + FRAGMENTS.length);
  });
});
