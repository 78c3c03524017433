import { join } from 'node:path';
import { openCapture } from '../../main/pcap/reader.js';
import { saveCapture } from '../../main/pcap/writer.js';
import { capture } from '../helpers/captures.js';

/*
 * Hand-built packets for encapsulations the corpus lacks. Each wraps REAL inner bytes
 * taken from corpus captures in headers built field by field from the RFC layouts; tshark
 * then decodes the result as the oracle.
 */

export const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));

export function cat(...parts: Uint8Array[]): Uint8Array {
  return Uint8Array.from(Buffer.concat(parts.map((p) => Buffer.from(p))));
}

const u16 = (v: number) => Uint8Array.of(v >> 8, v & 0xff);
const u32 = (v: number) => Uint8Array.of(v >>> 24, (v >> 16) & 0xff, (v >> 8) & 0xff, v & 0xff);
const ip4 = (s: string) => Uint8Array.from(s.split('.').map(Number));

/** The n-th (1-based) packet of a corpus capture, whole frame. */
export function corpusPacket(name: string, n: number): Uint8Array {
  const r = openCapture(capture(name));
  try {
    for (let p = r.next(), i = 1; p; p = r.next(), i++) if (i === n) return p.data.slice(p.offset, p.offset + p.caplen);
  } finally {
    r.close();
  }
  throw new Error(`${name} has no packet ${n}`);
}

/** Ethernet II (no FCS). */
export function eth(type: number, payload: Uint8Array): Uint8Array {
  return cat(hex('02 00 00 00 00 02'), hex('02 00 00 00 00 01'), u16(type), payload);
}

function checksum(b: Uint8Array): number {
  let s = 0;
  for (let i = 0; i < b.length; i += 2) s += (b[i] << 8) | (b[i + 1] ?? 0);
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return ~s & 0xffff;
}

/** RFC 791 header (20 bytes + options) with a correct checksum. */
export function ipv4(src: string, dst: string, proto: number, payload: Uint8Array, o: { id?: number; mf?: boolean; fragOffset?: number; totalLen?: number; options?: Uint8Array } = {}): Uint8Array {
  const opts = o.options ?? new Uint8Array(0); // a multiple of 4 bytes
  const h = cat(
    Uint8Array.of(0x40 | ((20 + opts.length) / 4), 0),
    u16(o.totalLen ?? 20 + opts.length + payload.length),
    u16(o.id ?? 0x1234),
    u16((o.mf ? 0x2000 : 0) | ((o.fragOffset ?? 0) >> 3)),
    Uint8Array.of(64, proto),
    u16(0),
    ip4(src),
    ip4(dst),
    opts,
  );
  const c = checksum(h);
  h[10] = c >> 8;
  h[11] = c & 0xff;
  return cat(h, payload);
}

/** RFC 8200 fixed header; `next` is the first next-header value. */
export function ipv6(src: string, dst: string, next: number, payload: Uint8Array): Uint8Array {
  const addr = (s: string) => Uint8Array.from(Buffer.from(expand6(s), 'hex'));
  return cat(hex('60 00 00 00'), u16(payload.length), Uint8Array.of(next, 64), addr(src), addr(dst), payload);
}

function expand6(s: string): string {
  const [head, tail] = s.split('::');
  const h = head ? head.split(':') : [];
  const t = tail !== undefined && tail ? tail.split(':') : [];
  const zeros = 8 - h.length - t.length;
  return [...h, ...Array(tail !== undefined ? zeros : 0).fill('0'), ...t].map((w) => w.padStart(4, '0')).join('');
}

/** UDP with checksum 0 ("none", allowed over IPv4). */
export function udp(sport: number, dport: number, payload: Uint8Array): Uint8Array {
  return cat(u16(sport), u16(dport), u16(8 + payload.length), u16(0), payload);
}

/** RFC 8926 GENEVE with one 8-byte option (class 0x0103, type 0x80). */
export function geneve(vni: number, protocol: number, payload: Uint8Array): Uint8Array {
  const opt = cat(u16(0x0103), Uint8Array.of(0x80, 1), hex('de ad be ef'));
  return cat(Uint8Array.of(opt.length / 4, 0), u16(protocol), u32(vni << 8), opt, payload);
}

/** RFC 7348 VXLAN. */
export function vxlan(vni: number, payload: Uint8Array): Uint8Array {
  return cat(hex('08 00 00 00'), u32(vni << 8), payload);
}

/** RFC 2784/2890 GRE with optional key and sequence number. */
export function gre(protocol: number, payload: Uint8Array, o: { key?: number; seq?: number } = {}): Uint8Array {
  const flags = (o.key !== undefined ? 0x2000 : 0) | (o.seq !== undefined ? 0x1000 : 0);
  return cat(u16(flags), u16(protocol), o.key !== undefined ? u32(o.key) : new Uint8Array(0), o.seq !== undefined ? u32(o.seq) : new Uint8Array(0), payload);
}

/**
 * ERSPAN type III (draft-foschiano-erspan §4.3) with the optional platform-specific
 * sub-header (O bit): Platf ID 3 = port index + upper 32 bits of the timestamp.
 */
export function erspan3(session: number, frame: Uint8Array, platform: boolean): Uint8Array {
  const word3 = (1 << 15) /* P: Ethernet PDU */ | (0 << 10) /* FT 0: Ethernet */ | (5 << 4) /* HW id */ | (platform ? 1 : 0);
  const head = cat(u16((2 << 12) | 100 /* ver 2, VLAN 100 */), u16(session & 0x3ff), u32(0x01020304), u16(0xabcd), u16(word3));
  const plat = platform ? cat(u32((3 << 26) | 0x1234 /* platf id 3, port index */), u32(0x0000ffff)) : new Uint8Array(0);
  return cat(head, plat, frame);
}

/** ICMP error (RFC 792): type, code, checksum, unused, then the offending IP header + 8 bytes. */
export function icmpError(type: number, code: number, offending: Uint8Array): Uint8Array {
  const ihl = (offending[0] & 0x0f) * 4;
  const m = cat(Uint8Array.of(type, code, 0, 0), u32(0), offending.slice(0, ihl + 8));
  const c = checksum(m);
  m[2] = c >> 8;
  m[3] = c & 0xff;
  return m;
}

/** ICMPv6 error (RFC 4443): as much of the offending packet as fits the minimum MTU; checksum left 0 (tshark does not require it). */
export function icmpv6Error(type: number, code: number, offending: Uint8Array): Uint8Array {
  return cat(Uint8Array.of(type, code, 0, 0), u32(0), offending.slice(0, 1232));
}

/** IPv6 extension header of 8 bytes (hop-by-hop / destination options: PadN; routing type 0 with no addresses is invalid, so type 4 SRH-like length 0 is avoided). */
export function ext8(next: number): Uint8Array {
  return Uint8Array.of(next, 0, 1, 4, 0, 0, 0, 0); // PadN covering the 6 option bytes
}

/** IPv6 fragment header (RFC 8200 §4.5). */
export function frag6(next: number, offset: number, more: boolean, id: number): Uint8Array {
  return cat(Uint8Array.of(next, 0), u16((offset & 0xfff8) | (more ? 1 : 0)), u32(id));
}

// --- the crafted captures -----------------------------------------------------

export const inner4 = corpusPacket('http-get-basic.pcap', 4).slice(14); // IPv4/TCP HTTP GET
export const inner6 = corpusPacket('http-ipv4-and-ipv6.pcapng', 14).slice(14); // IPv6/TCP HTTP GET
const frame = corpusPacket('http-get-basic.pcap', 4); // Ethernet frame
const dns = corpusPacket('dns-queries-no-response.pcap', 1).slice(14); // IPv4/UDP DNS query

export const PACKETS: [string, Uint8Array][] = [
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
  ['ICMPv6 too big quoting IPv6 hop-by-hop + UDP', eth(0x86dd, ipv6('2001:db8::fe', '2001:db8::1', 58, icmpv6Error(2, 0, ipv6('2001:db8::1', '2001:db8::9', 0, cat(ext8(17), udp(4444, 53, new Uint8Array(16)))))))],
  ['IPv4 options (router alert, NOPs, timestamp) + TCP', eth(0x0800, ipv4('10.5.0.1', '10.5.0.2', 6, inner4.slice((inner4[0] & 0x0f) * 4), {
    options: cat(hex('94 04 00 00'), hex('01 01 01 01'), hex('44 0c 05 00 00 00 00 01 00 00 00 02')), // RFC 2113, NOP x4, RFC 791 timestamp
  }))],
  ['IPv6 hop-by-hop + destination options + TCP', eth(0x86dd, ipv6('2001:db8::a', '2001:db8::b', 0, cat(ext8(60), ext8(6), inner6.slice(40))))],
];

// Fragments, checked field by field (tshark reassembles; Tapscope flags and stops at IP).
const udpPayload = new Uint8Array(24).fill(0x61);
const dgram = udp(5000, 6000, udpPayload); // 32 bytes: split 16 + 16
export const FRAGMENTS: [string, Uint8Array][] = [
  ['IPv4 first fragment', eth(0x0800, ipv4('10.4.0.1', '10.4.0.2', 17, dgram.slice(0, 16), { id: 77, mf: true }))],
  ['IPv4 last fragment', eth(0x0800, ipv4('10.4.0.1', '10.4.0.2', 17, dgram.slice(16), { id: 77, fragOffset: 16 }))],
  ['IPv6 first fragment', eth(0x86dd, ipv6('2001:db8::c', '2001:db8::d', 44, cat(frag6(17, 0, true, 0x55), dgram.slice(0, 16))))],
  ['IPv6 last fragment', eth(0x86dd, ipv6('2001:db8::c', '2001:db8::d', 44, cat(frag6(17, 16, false, 0x55), dgram.slice(16))))],
];

/** Link types the corpus lacks: [file name, LINKTYPE, packets]. AF_INET6 = 24 (BSD) in each byte order. */
export const LINK_CAPTURES: [string, number, Uint8Array[]][] = [
  ['raw101.pcap', 101, [inner4, inner6]],
  ['raw228-ipv4.pcap', 228, [inner4]],
  ['raw229-ipv6.pcap', 229, [inner6]],
  ['null0-le.pcap', 0, [cat(Uint8Array.of(2, 0, 0, 0), inner4), cat(Uint8Array.of(24, 0, 0, 0), inner6)]],
  ['null0-be.pcap', 0, [cat(Uint8Array.of(0, 0, 0, 2), inner4), cat(Uint8Array.of(0, 0, 0, 24), inner6)]],
  ['loop108.pcap', 108, [cat(Uint8Array.of(0, 0, 0, 2), inner4), cat(Uint8Array.of(0, 0, 0, 24), inner6)]],
];

function save(path: string, linkType: number, packets: Uint8Array[]): string {
  saveCapture(path, packets.map((data, i) => ({ tsSec: 1700000000 + i, tsNsec: 0, caplen: data.length, origLen: data.length, data, offset: 0, interfaceId: 0 })), {
    format: 'pcap',
    interfaces: [{ id: 0, linkType, snaplen: 262144, name: null, description: null, tsUnitsPerSec: 1e6 }],
  });
  return path;
}

/** Writes crafted.pcap (Ethernet: PACKETS then FRAGMENTS) and the LINK_CAPTURES into dir; returns their paths. */
export function writeCrafted(dir: string): string[] {
  return [
    save(join(dir, 'crafted.pcap'), 1, [...PACKETS, ...FRAGMENTS].map(([, d]) => d)),
    ...LINK_CAPTURES.map(([name, lt, pkts]) => save(join(dir, name), lt, pkts)),
  ];
}
