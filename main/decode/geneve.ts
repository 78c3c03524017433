import type { Frame } from './frame.js';
import { Proto, UDP_PORT_GENEVE } from './protocols.js';
import { registerDecoder, registerUdpPort, type DecodeTables } from './registry.js';

/*
 * GENEVE (RFC 8926 §3.4):
 *   ver(2) opt len(6, in 4-byte words) | O(1) C(1) rsvd(6) | protocol type(16)
 *   VNI(24) reserved(8) | options (opt len * 4 bytes)
 * The protocol type is an EtherType: 0x6558 for Ethernet (GCP packet mirroring), or bare
 * IPv4/IPv6 as AWS Gateway Load Balancer sends it.
 */
export function decodeGeneve(f: Frame, t: DecodeTables): Proto {
  const o = f.off;
  if (f.end - o < 8) return f.truncate('geneve');
  const b = f.data;
  if (b[o] >> 6 !== 0) return f.truncate('geneve', `unknown version ${b[o] >> 6}`);
  const optLen = (b[o] & 0x3f) * 4;
  const protocol = f.view.getUint16(o + 2);
  const vni = f.view.getUint32(o + 4) >>> 8;
  if (f.end - o < 8 + optLen) return f.truncate('geneve', 'options cut short');
  f.pushTunnel('geneve', vni);
  f.clearInner();
  f.off = o + 8 + optLen;
  f.etherType = protocol;
  return t.ethertype[protocol];
}

registerDecoder(Proto.Geneve, decodeGeneve);
registerUdpPort(UDP_PORT_GENEVE, Proto.Geneve);
