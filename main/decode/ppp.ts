import type { Frame } from './frame.js';
import { Proto } from './protocols.js';
import { registerDecoder, registerLinkType } from './registry.js';
import { LINKTYPE_PPP, LINKTYPE_PPP_HDLC } from '../pcap/link-types.js';

/*
 * PPP (RFC 1661 §2, LINKTYPE_PPP; LINKTYPE_PPP_HDLC is the same frame, RFC 1662 framing
 * already undone by the capturing host):
 *   [address 0xff, control 0x03] protocol(1 or 2) | information
 * The address/control pair may be absent (ACFC, RFC 1661 §6.6) and the protocol field
 * compressed to one byte (PFC, §6.5: an odd first byte ends the field).
 * Only the network protocols Tapscope decodes are followed; LCP, IPCP and the rest stop.
 */
const PPP_IPV4 = 0x0021;
const PPP_IPV6 = 0x0057;

export function decodePpp(f: Frame): Proto {
  let off = f.off;
  if (f.end - off >= 2 && f.data[off] === 0xff && f.data[off + 1] === 0x03) off += 2;
  if (f.end - off < 1) return f.truncate('ppp');
  let proto = f.data[off];
  if ((proto & 1) === 0) {
    if (f.end - off < 2) return f.truncate('ppp');
    proto = f.view.getUint16(off);
    off += 2;
  } else {
    off += 1;
  }
  f.off = off;
  if (proto === PPP_IPV4) return Proto.Ipv4;
  if (proto === PPP_IPV6) return Proto.Ipv6;
  return Proto.None;
}

registerDecoder(Proto.Ppp, decodePpp);
registerLinkType(LINKTYPE_PPP, Proto.Ppp);
registerLinkType(LINKTYPE_PPP_HDLC, Proto.Ppp);
