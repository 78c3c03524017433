import { L4, type Frame } from './frame.js';
import { IPPROTO_UDP, Proto } from './protocols.js';
import { registerDecoder, registerIpProto, type DecodeTables } from './registry.js';

/*
 * UDP (RFC 768): src port(16) dst port(16) length(16) checksum(16)
 * What follows is found by port in the udp.port table (tunnels register their ports;
 * Decode As overrides them). The destination port is tried first, then the source.
 */
export function decodeUdp(f: Frame, t: DecodeTables): Proto {
  const o = f.off;
  if (f.end - o < 8) return f.truncate('udp');
  const v = f.view;
  f.l4 = L4.Udp;
  f.srcPort = v.getUint16(o);
  f.dstPort = v.getUint16(o + 2);
  f.udpLen = v.getUint16(o + 4);
  f.top = Proto.Udp;
  const wire = (f.udpLen >= 8 ? Math.min(f.udpLen, f.ipPayloadLen || f.udpLen) : f.ipPayloadLen) - 8;
  f.payloadOff = o + 8;
  f.payloadLen = wire > 0 ? wire : 0;
  f.payloadCapLen = Math.max(0, Math.min(f.end - f.payloadOff, f.payloadLen));
  if (f.isFragment) return Proto.None; // a first fragment's payload is incomplete
  const next = t.udpPort[f.dstPort] || t.udpPort[f.srcPort];
  if (next) f.off = o + 8;
  return next;
}

registerDecoder(Proto.Udp, decodeUdp);
registerIpProto(IPPROTO_UDP, Proto.Udp);
