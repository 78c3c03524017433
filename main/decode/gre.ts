import type { Frame } from './frame.js';
import { ETHERTYPE_ERSPAN2, ETHERTYPE_ERSPAN3, ETHERTYPE_TEB, IPPROTO_GRE, Proto } from './protocols.js';
import { registerDecoder, registerEthertype, registerIpProto, type DecodeTables } from './registry.js';

/*
 * GRE (RFC 2784, key and sequence from RFC 2890):
 *   C(1) R(1) K(1) S(1) reserved(9) version(3) | protocol type(16)
 *   [checksum(16) reserved(16)] [key(32)] [sequence(32)]
 * The protocol type is an EtherType: 0x6558 transparent Ethernet bridging (OpenStack,
 * VMware mirrors), 0x88be ERSPAN II (type I when no sequence number), 0x22eb ERSPAN III.
 * Version 1 is PPTP's enhanced GRE (RFC 2637), which carries PPP, not a mirror.
 */
export function decodeGre(f: Frame, t: DecodeTables): Proto {
  const o = f.off;
  if (f.end - o < 4) return f.truncate('gre');
  const v = f.view;
  const flags = v.getUint16(o);
  const version = flags & 7;
  const protocol = v.getUint16(o + 2);
  if (version !== 0) return Proto.None;
  let p = o + 4;
  if (flags & 0x8000 || flags & 0x4000) p += 4; // checksum (+ offset with R)
  let key: number | null = null;
  if (flags & 0x2000) {
    if (f.end - p < 4) return f.truncate('gre');
    key = v.getUint32(p);
    p += 4;
  }
  const hasSeq = (flags & 0x1000) !== 0;
  if (hasSeq) p += 4;
  if (p > f.end) return f.truncate('gre');
  f.off = p;
  if (protocol === ETHERTYPE_ERSPAN2) {
    if (!hasSeq) {
      // ERSPAN type I: no ERSPAN header, the mirrored Ethernet frame follows directly.
      f.pushTunnel('erspan2', null);
      f.clearInner();
      return Proto.Ethernet;
    }
    return Proto.Erspan2;
  }
  if (protocol === ETHERTYPE_ERSPAN3) return Proto.Erspan3;
  f.pushTunnel('gre', key);
  f.clearInner();
  f.etherType = protocol;
  return t.ethertype[protocol];
}

registerDecoder(Proto.Gre, decodeGre);
registerIpProto(IPPROTO_GRE, Proto.Gre);
registerEthertype(ETHERTYPE_TEB, Proto.Ethernet);
