import type { Frame } from './frame.js';
import { ETHERTYPE_IPV6, IPPROTO_IPV6, Proto } from './protocols.js';
import { registerDecoder, registerEthertype, registerIpProto, type DecodeTables } from './registry.js';
import { ipv6Text } from './addr.js';
import { nextAfterIp } from './ipv4.js';

/*
 * IPv6 (RFC 8200 §3): ver(4) class(8) flow(20) | payload length(16) next header(8) hop limit(8)
 *   source(128) destination(128), then extension headers (§4):
 *   hop-by-hop 0, routing 43, destination options 60, AH 51 (length in 4-byte units + 2),
 *   fragment 44 (8 bytes: next(8) res(8) offset(13) res(2) M(1) id(32)).
 */
const EXT_HOP = 0;
const EXT_ROUTING = 43;
const EXT_FRAGMENT = 44;
const EXT_AH = 51;
const EXT_NONE = 59;
const EXT_DSTOPTS = 60;
const EXT_MOBILITY = 135;

export function decodeIpv6(f: Frame, t: DecodeTables): Proto {
  const o = f.off;
  if (f.end - o < 40) return f.truncate('ipv6');
  const b = f.data;
  const v = f.view;
  if (b[o] >> 4 !== 6) return f.truncate('ipv6', 'version is not 6');
  let payloadLen = v.getUint16(o + 4);
  if (payloadLen === 0) payloadLen = f.end - o - 40; // jumbogram or TSO
  const wireLeft = f.origLen - (o - f.frameOff) - 40; // as IPv4: never beyond the wire length
  if (payloadLen > wireLeft && wireLeft >= 0 && !f.inFragment) payloadLen = wireLeft;
  f.ipVersion = 6;
  f.ipOff = o;
  f.ttl = b[o + 7];
  f.src = ipv6Text(b, o + 8);
  f.dst = ipv6Text(b, o + 24);
  f.top = Proto.Ipv6;
  if (o + 40 + payloadLen < f.end) f.end = o + 40 + payloadLen;
  let next = b[o + 6];
  let p = o + 40;
  let remaining = payloadLen;
  // Walk extension headers, bounded by the captured bytes.
  for (;;) {
    if (next === EXT_HOP || next === EXT_ROUTING || next === EXT_DSTOPTS || next === EXT_MOBILITY || next === EXT_AH) {
      if (f.end - p < 2) return f.truncate('ipv6', 'extension header cut short');
      const len = next === EXT_AH ? (b[p + 1] + 2) * 4 : (b[p + 1] + 1) * 8;
      next = b[p];
      p += len;
      remaining -= len;
    } else if (next === EXT_FRAGMENT) {
      if (f.end - p < 8) return f.truncate('ipv6', 'fragment header cut short');
      const offFlags = v.getUint16(p + 2);
      f.fragOffset = offFlags & 0xfff8;
      f.moreFragments = (offFlags & 1) !== 0;
      f.isFragment = true;
      f.ipId = v.getUint32(p + 4);
      next = b[p];
      p += 8;
      remaining -= 8;
    } else break;
    if (remaining < 0 || p > f.end) return f.truncate('ipv6', 'extension headers exceed the payload');
  }
  f.ipProto = next;
  f.ipPayloadLen = remaining;
  f.off = p;
  if (next === EXT_NONE || f.fragOffset > 0) return Proto.None;
  if (f.moreFragments) f.inFragment = true;
  return nextAfterIp(f, t, next);
}

registerDecoder(Proto.Ipv6, decodeIpv6);
registerEthertype(ETHERTYPE_IPV6, Proto.Ipv6);
registerIpProto(IPPROTO_IPV6, Proto.Ipv6);
