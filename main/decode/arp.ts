import type { Frame } from './frame.js';
import { ETHERTYPE_ARP, Proto } from './protocols.js';
import { registerDecoder, registerEthertype } from './registry.js';
import { ipv4Text } from './addr.js';

/*
 * ARP (RFC 826): htype(2) ptype(2) hlen(1) plen(1) op(2) sha(hlen) spa(plen) tha(hlen) tpa(plen)
 */
export function decodeArp(f: Frame): Proto {
  if (f.end - f.off < 8) return f.truncate('arp');
  const v = f.view;
  const hlen = f.data[f.off + 4];
  const plen = f.data[f.off + 5];
  f.arpOp = v.getUint16(f.off + 6);
  if (plen === 4 && f.end - f.off >= 8 + 2 * hlen + 8) {
    f.arpSenderIp = ipv4Text(f.data, f.off + 8 + hlen);
    f.arpTargetIp = ipv4Text(f.data, f.off + 8 + 2 * hlen + 4);
  }
  f.top = Proto.Arp;
  return Proto.None;
}

registerDecoder(Proto.Arp, decodeArp);
registerEthertype(ETHERTYPE_ARP, Proto.Arp);
