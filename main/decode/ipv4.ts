import type { Frame } from './frame.js';
import { ETHERTYPE_IPV4, IPPROTO_IPIP, IPPROTO_IPV6, Proto } from './protocols.js';
import { registerDecoder, registerEthertype, registerIpProto, type DecodeTables } from './registry.js';
import { ipv4Text } from './addr.js';

/*
 * IPv4 (RFC 791 §3.1):
 *   ver(4) IHL(4) | TOS(8) | total length(16)
 *   identification(16) | flags(3) fragment offset(13)
 *   TTL(8) | protocol(8) | header checksum(16)
 *   source(32) destination(32) options(IHL*4 - 20)
 * The layer ends at total length, not at the captured end: Ethernet pads short frames.
 * A total length of 0 (TSO-offloaded sends seen on the capturing host) means "the rest";
 * one beyond the frame's wire length is cut to it.
 */
export function decodeIpv4(f: Frame, t: DecodeTables): Proto {
  const o = f.off;
  const avail = f.end - o;
  if (avail < 20) return f.truncate('ip');
  const b = f.data;
  const v = f.view;
  const ihl = (b[o] & 0x0f) * 4;
  if (b[o] >> 4 !== 4) return f.truncate('ip', 'version is not 4');
  if (ihl < 20) return f.truncate('ip', `header length ${ihl} < 20`);
  if (avail < ihl) return f.truncate('ip');
  const flagsFrag = v.getUint16(o + 6);
  f.ipVersion = 4;
  f.ipOff = o;
  f.ipId = v.getUint16(o + 4);
  f.ttl = b[o + 8];
  f.ipProto = b[o + 9];
  f.src = ipv4Text(b, o + 12);
  f.dst = ipv4Text(b, o + 16);
  f.moreFragments = (flagsFrag & 0x2000) !== 0;
  f.fragOffset = (flagsFrag & 0x1fff) * 8;
  f.isFragment = f.moreFragments || f.fragOffset > 0;
  let total = v.getUint16(o + 2);
  if (total === 0) total = avail; // TSO: length not filled in
  // A total length beyond the frame's wire length is bogus: what was on the wire is all
  // there is (tshark: "IPv4 total length exceeds packet length", and it uses the latter).
  const wireLeft = f.origLen - (o - f.frameOff);
  if (total > wireLeft && wireLeft >= ihl && !f.inFragment) total = wireLeft;
  if (total < ihl) return f.truncate('ip', `total length ${total} < header length ${ihl}`);
  f.ipPayloadLen = total - ihl;
  f.top = Proto.Ipv4;
  // Trim link-layer padding; keep the captured end if the packet was cut short.
  if (o + total < f.end) f.end = o + total;
  f.off = o + ihl;
  if (f.fragOffset > 0) return Proto.None; // later fragment: no L4 header here
  if (f.moreFragments) f.inFragment = true;
  return nextAfterIp(f, t, f.ipProto);
}

/** IP protocol dispatch shared by IPv4 and IPv6; IP-in-IP opens a tunnel layer. */
export function nextAfterIp(f: Frame, t: DecodeTables, proto: number): Proto {
  if (proto === IPPROTO_IPIP || proto === IPPROTO_IPV6) {
    f.pushTunnel('ipip', null);
    f.clearInner();
    return proto === IPPROTO_IPIP ? Proto.Ipv4 : Proto.Ipv6;
  }
  return t.ipProto[proto];
}

registerDecoder(Proto.Ipv4, decodeIpv4);
registerEthertype(ETHERTYPE_IPV4, Proto.Ipv4);
registerIpProto(IPPROTO_IPIP, Proto.Ipv4);
