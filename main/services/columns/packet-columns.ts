import { L4, TCP_ACK, TCP_CWR, TCP_ECE, TCP_FIN, TCP_PSH, TCP_RST, TCP_SYN, TCP_URG, type Frame } from '../../decode/frame.js';
import { Proto } from '../../decode/protocols.js';
import { linkTypeName } from '../../pcap/link-types.js';
import { looksLikeQuicLong, parseQuicHeader, QUIC_TYPE_NAMES, QuicHeader, QuicType } from '../../decode/quic.js';
import { dnsInfo } from './dns-info.js';
import type { AppLabel } from './tcp-app-labels.js';

/*
 * The Protocol and Info columns of the packet list, one function each for every view (the
 * app's Packets table, the API, `tapscope packets`). The protocol is the highest layer
 * decoded: an application label from the connection's reassembly (tcp-app-labels.ts) when
 * there is one, DNS/mDNS/LLMNR and QUIC from the datagram itself, the names tshark gives
 * to well-known UDP ports Tapscope does not decode (NBNS, DHCP, ...), then the transport,
 * network or link layer. Deliberate differences from tshark: docs/packet-columns.md.
 */

const TCP_FLAG_NAMES: [number, string][] = [
  [TCP_SYN, 'SYN'], [TCP_FIN, 'FIN'], [TCP_RST, 'RST'], [TCP_PSH, 'PSH'], [TCP_ACK, 'ACK'], [TCP_URG, 'URG'], [TCP_ECE, 'ECE'], [TCP_CWR, 'CWR'],
];

export function tcpFlagText(flags: number): string {
  return TCP_FLAG_NAMES.filter(([b]) => flags & b).map(([, n]) => n).join(', ');
}

/** UDP ports whose protocol tshark names (decoded by tshark, not by Tapscope: Info stays UDP's). */
const UDP_PORT_NAMES = new Map<number, string>([
  [67, 'DHCP'], [68, 'DHCP'], [123, 'NTP'], [137, 'NBNS'], [138, 'BROWSER'], [161, 'SNMP'], [162, 'SNMP'],
  [546, 'DHCPv6'], [547, 'DHCPv6'], [1900, 'SSDP'], [17500, 'DB-LSP-DISC'],
]);
const DNS_PORTS = new Map<number, string>([[53, 'DNS'], [5353, 'MDNS'], [5355, 'LLMNR']]);

/** The DNS-family protocol of a UDP datagram by port (the lower port first, as tshark tries). */
function dnsPortName(f: Frame): string | null {
  const lo = Math.min(f.srcPort, f.dstPort);
  const hi = Math.max(f.srcPort, f.dstPort);
  return DNS_PORTS.get(lo) ?? DNS_PORTS.get(hi) ?? null;
}

function udpPortName(f: Frame): string | null {
  const lo = Math.min(f.srcPort, f.dstPort);
  const hi = Math.max(f.srcPort, f.dstPort);
  const name = UDP_PORT_NAMES.get(lo) ?? UDP_PORT_NAMES.get(hi) ?? null;
  if (name === 'DHCP') return hasDhcpMessageType(f) ? 'DHCP' : 'BOOTP';
  // tshark hands a JSON payload on to its JSON dissector ("DB-LSP-DISC/JSON").
  if (name === 'DB-LSP-DISC' && f.payloadCapLen > 0 && f.data[f.payloadOff] === 0x7b) return 'DB-LSP-DISC/JSON';
  return name;
}

/** RFC 2132: BOOTP is DHCP when the options after the magic cookie carry a message type (53). */
function hasDhcpMessageType(f: Frame): boolean {
  const b = f.data;
  let o = f.payloadOff + 236;
  const end = f.payloadOff + f.payloadCapLen;
  if (o + 4 > end || b[o] !== 0x63 || b[o + 1] !== 0x82 || b[o + 2] !== 0x53 || b[o + 3] !== 0x63) return false;
  for (o += 4; o < end && b[o] !== 255;) {
    if (b[o] === 0) { o++; continue; }
    if (b[o] === 53) return true;
    if (o + 1 >= end) return false;
    o += 2 + b[o + 1];
  }
  return false;
}

/** IP protocols Tapscope does not decode that tshark names. */
const IP_PROTO_NAMES = new Map<number, string>([
  [2, 'IGMPv2'], [50, 'ESP'], [51, 'AH'], [89, 'OSPF'], [103, 'PIMv2'], [112, 'VRRP'], [115, 'L2TPv3'], [132, 'SCTP'],
]);

/** Context a row needs beyond its own packet: the TCP label, and whether its UDP flow is QUIC. */
export interface RowContext {
  app: AppLabel | null;
  quicFlow: boolean;
}

export const NO_CONTEXT: RowContext = { app: null, quicFlow: false };

function isQuic(f: Frame, ctx: RowContext): boolean {
  if (f.l4 !== L4.Udp || f.payloadCapLen === 0) return false;
  return f.top === Proto.Quic || ctx.quicFlow || looksLikeQuicLong(f.data, f.payloadOff, f.payloadCapLen);
}

export function protocolOf(f: Frame, ctx: RowContext = NO_CONTEXT): string {
  if (f.l4 === L4.Tcp) return ctx.app?.protocol ?? 'TCP';
  if (f.l4 === L4.Udp) {
    if (isQuic(f, ctx)) return 'QUIC';
    return dnsPortName(f) ?? udpPortName(f) ?? 'UDP';
  }
  if (f.l4 === L4.Icmp) return 'ICMP';
  if (f.l4 === L4.Icmpv6) return 'ICMPv6';
  if (f.arpOp) return 'ARP';
  // A transport header too short or invalid: tshark names the transport (Malformed Packet).
  const bad = f.malformed ? /^(tcp|udp|icmp|icmpv6):/.exec(f.malformed) : null;
  if (bad) return bad[1] === 'icmpv6' ? 'ICMPv6' : bad[1].toUpperCase();
  if (f.ipVersion) return (!f.isFragment && IP_PROTO_NAMES.get(f.ipProto)) || `IPv${f.ipVersion}`;
  return linkProtocolOf(f);
}

/*
 * Below IP: tshark names the EtherType's protocol, "0x0900" for an EtherType it has no
 * dissector for, STP for 802.3 frames to the bridge LLC SAP (0x42), and IPv4/IPv6 for a
 * packet whose EtherType says IP but whose header is bogus (Tapscope: Malformed).
 */
function linkProtocolOf(f: Frame): string {
  const t = f.etherType || outerEtherType(f);
  if (t === 0x0800) return 'IPv4';
  if (t === 0x86dd) return 'IPv6';
  if (t > 0 && t <= 1500) {
    const o = f.frameOff + 14;
    return o + 2 <= f.end && f.data[o] === 0x42 && f.data[o + 1] === 0x42 ? 'STP' : 'LLC';
  }
  if (t >= 0x0600) return `0x${t.toString(16).padStart(4, '0')}`;
  return linkTypeName(f.linkType);
}

/** The EtherType (or 802.3 length) of an untagged Ethernet frame, 0 when not Ethernet. */
function outerEtherType(f: Frame): number {
  if (f.linkType !== 1 || f.end - f.frameOff < 14 || f.tunnelCount > 0) return 0;
  return f.view.getUint16(f.frameOff + 12);
}

export function infoOf(f: Frame, ctx: RowContext = NO_CONTEXT, bases: [number | null, number | null] | null = null, d = 0): string {
  if (f.l4 === L4.Tcp) return ctx.app?.info ?? tcpInfo(f, bases, d);
  if (f.l4 === L4.Udp) {
    if (isQuic(f, ctx)) return quicInfo(f);
    const dns = dnsPortName(f);
    if (dns) return dnsInfo(f.data, f.payloadOff, f.payloadCapLen, dns === 'MDNS') ?? `${f.srcPort} \u2192 ${f.dstPort} Len=${f.payloadLen}`;
    return `${f.srcPort} \u2192 ${f.dstPort} Len=${f.payloadLen}`;
  }
  if (f.l4 === L4.Icmp || f.l4 === L4.Icmpv6) return icmpInfo(f);
  if (f.arpOp) return f.arpOp === 1 ? `Who has ${f.arpTargetIp}? Tell ${f.arpSenderIp}` : `${f.arpSenderIp} is at …`;
  return f.malformed ?? '';
}

function tcpInfo(f: Frame, bases: [number | null, number | null] | null, d: number): string {
  // Relative numbers as tshark prints them when the bases are known; raw otherwise.
  const seqBase = bases?.[d] ?? 0;
  const ackBase = bases?.[1 - d] ?? 0;
  const seq = ((f.tcpSeq >>> 0) - seqBase) >>> 0;
  const ack = f.tcpFlags & TCP_ACK ? ((f.tcpAck >>> 0) - ackBase) >>> 0 : 0;
  return `${f.srcPort} \u2192 ${f.dstPort} [${tcpFlagText(f.tcpFlags)}] Seq=${seq}${f.tcpFlags & TCP_ACK ? ` Ack=${ack}` : ''} Win=${f.tcpWindow} Len=${f.payloadLen}`;
}

const header = new QuicHeader();

function hex(b: Uint8Array, o: number, n: number): string {
  return Buffer.from(b.buffer, b.byteOffset + o, n).toString('hex');
}

/** "Initial, DCID=…, SCID=…" for long headers, "Protected Payload" for short ones (frames need the keys). */
function quicInfo(f: Frame): string {
  const b = f.data;
  const o = f.payloadOff;
  const e = o + f.payloadCapLen;
  if (!parseQuicHeader(b, o, e, -1, header)) return 'QUIC (unreadable header)';
  // The key phase bit is under header protection (RFC 9001 §5.4): without removing it, unknown.
  if (!header.long) return 'Protected Payload';
  let s = header.type === QuicType.VersionNegotiation ? 'Version Negotiation' : QUIC_TYPE_NAMES[header.type];
  if (header.dcidLen) s += `, DCID=${hex(b, header.dcidOff, header.dcidLen)}`;
  if (header.scidLen) s += `, SCID=${hex(b, header.scidOff, header.scidLen)}`;
  return s;
}

const ICMP_TYPES: Record<number, string> = {
  0: 'Echo (ping) reply', 3: 'Destination unreachable', 4: 'Source quench', 5: 'Redirect', 8: 'Echo (ping) request',
  9: 'Router advertisement', 10: 'Router solicitation', 11: 'Time-to-live exceeded', 12: 'Parameter problem',
  13: 'Timestamp request', 14: 'Timestamp reply',
};
const ICMP_UNREACHABLE: Record<number, string> = {
  0: 'Network unreachable', 1: 'Host unreachable', 2: 'Protocol unreachable', 3: 'Port unreachable',
  4: 'Fragmentation needed', 5: 'Source route failed', 9: 'Network administratively prohibited',
  10: 'Host administratively prohibited', 13: 'Communication administratively filtered',
};
const ICMPV6_TYPES: Record<number, string> = {
  1: 'Destination Unreachable', 2: 'Packet Too Big', 3: 'Time Exceeded', 4: 'Parameter Problem',
  128: 'Echo (ping) request', 129: 'Echo (ping) reply', 133: 'Router Solicitation', 134: 'Router Advertisement',
  135: 'Neighbor Solicitation', 136: 'Neighbor Advertisement', 137: 'Redirect', 143: 'Multicast Listener Report Message v2',
};

function icmpInfo(f: Frame): string {
  const v6 = f.l4 === L4.Icmpv6;
  const name = (v6 ? ICMPV6_TYPES : ICMP_TYPES)[f.icmpType] ?? `Unknown ICMP${v6 ? 'v6' : ''} type ${f.icmpType}`;
  const echo = v6 ? f.icmpType === 128 || f.icmpType === 129 : f.icmpType === 0 || f.icmpType === 8;
  let s = name;
  if (!v6 && f.icmpType === 3) s += ` (${ICMP_UNREACHABLE[f.icmpCode] ?? `code ${f.icmpCode}`})`;
  if (echo && f.end - f.payloadOff >= 4) {
    const id = f.view.getUint16(f.payloadOff);
    const seq = f.view.getUint16(f.payloadOff + 2);
    const swapped = ((seq & 0xff) << 8) | (seq >> 8);
    s += `${v6 ? ' ' : '  '}id=0x${id.toString(16).padStart(4, '0')}, seq=${seq}${v6 ? '' : `/${swapped}`}, ${v6 ? 'hop limit' : 'ttl'}=${f.ttl}`;
  }
  if (f.icmpInner) s += ` (about ${f.innerSrc}:${f.innerSrcPort} \u2192 ${f.innerDst}:${f.innerDstPort})`;
  return s;
}
