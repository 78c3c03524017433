import type { Frame } from './frame.js';
import { Proto } from './protocols.js';
import { registerDecoder, registerLinkType, type DecodeTables } from './registry.js';
import { LINKTYPE_ETHERNET } from '../pcap/link-types.js';

/*
 * Ethernet II (IEEE 802.3 clause 3.1.1):
 *   dst MAC(6) src MAC(6) EtherType/length(2)
 * A type field <= 1500 is an 802.3 length (LLC follows), which Tapscope does not decode further.
 */
export function decodeEthernet(f: Frame, t: DecodeTables): Proto {
  if (f.end - f.off < 14) return f.truncate('eth');
  const type = f.view.getUint16(f.off + 12);
  f.etherType = type;
  f.off += 14;
  return type > 1500 ? t.ethertype[type] : Proto.None;
}

registerDecoder(Proto.Ethernet, decodeEthernet);
registerLinkType(LINKTYPE_ETHERNET, Proto.Ethernet);
