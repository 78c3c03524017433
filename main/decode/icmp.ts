import { L4, type Frame } from './frame.js';
import { IPPROTO_ICMP, IPPROTO_ICMPV6, Proto } from './protocols.js';
import { registerDecoder, registerIpProto } from './registry.js';
import { ipv4Text, ipv6Text } from './addr.js';

/*
 * ICMP (RFC 792) and ICMPv6 (RFC 4443): type(8) code(8) checksum(16) rest(32), then for
 * error messages the offending packet's IP header and at least 8 bytes of its payload,
 * which name the connection the error is about (read here without touching the outer fields).
 */
const ICMP_ERRORS = new Set([3, 4, 5, 11, 12]); // unreachable, source quench, redirect, time exceeded, parameter problem
const ICMPV6_ERRORS = new Set([1, 2, 3, 4]); // unreachable, too big, time exceeded, parameter problem

export function decodeIcmp(f: Frame): Proto {
  return decodeIcmpCommon(f, L4.Icmp, ICMP_ERRORS);
}

export function decodeIcmpv6(f: Frame): Proto {
  return decodeIcmpCommon(f, L4.Icmpv6, ICMPV6_ERRORS);
}

function decodeIcmpCommon(f: Frame, kind: L4, errors: Set<number>): Proto {
  const o = f.off;
  if (f.end - o < 4) return f.truncate(kind === L4.Icmp ? 'icmp' : 'icmpv6');
  f.l4 = kind;
  f.icmpType = f.data[o];
  f.icmpCode = f.data[o + 1];
  f.top = kind === L4.Icmp ? Proto.Icmp : Proto.Icmpv6;
  f.payloadOff = o + 4;
  f.payloadLen = Math.max(0, f.ipPayloadLen - 4);
  f.payloadCapLen = Math.max(0, Math.min(f.end - f.payloadOff, f.payloadLen));
  if (errors.has(f.icmpType)) decodeQuoted(f, o + 8);
  return Proto.None;
}

function decodeQuoted(f: Frame, q: number): void {
  const b = f.data;
  if (f.end - q < 1) return;
  let l4: number;
  const version = b[q] >> 4;
  if (version === 4 && f.end - q >= 20) {
    const ihl = (b[q] & 0x0f) * 4;
    f.innerProto = b[q + 9];
    f.innerSrc = ipv4Text(b, q + 12);
    f.innerDst = ipv4Text(b, q + 16);
    l4 = q + ihl;
  } else if (version === 6 && f.end - q >= 40) {
    f.innerSrc = ipv6Text(b, q + 8);
    f.innerDst = ipv6Text(b, q + 24);
    // Skip the quoted packet's extension headers (as far as they were quoted) to its transport.
    let next = b[q + 6];
    l4 = q + 40;
    for (let n = 0; n < 8 && f.end - l4 >= 8; n++) {
      if (next === 0 || next === 43 || next === 60) { const len = (b[l4 + 1] + 1) * 8; next = b[l4]; l4 += len; }
      else if (next === 44) { next = b[l4]; l4 += 8; }
      else break;
    }
    f.innerProto = next;
  } else return;
  f.icmpInner = true;
  if (f.end - l4 >= 4) {
    f.innerSrcPort = f.view.getUint16(l4);
    f.innerDstPort = f.view.getUint16(l4 + 2);
  } else {
    f.innerSrcPort = 0;
    f.innerDstPort = 0;
  }
}

registerDecoder(Proto.Icmp, decodeIcmp);
registerDecoder(Proto.Icmpv6, decodeIcmpv6);
registerIpProto(IPPROTO_ICMP, Proto.Icmp);
registerIpProto(IPPROTO_ICMPV6, Proto.Icmpv6);
