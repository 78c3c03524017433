import type { Frame } from './frame.js';
import { ETHERTYPE_QINQ, ETHERTYPE_QINQ_OLD, ETHERTYPE_VLAN, Proto } from './protocols.js';
import { registerDecoder, registerEthertype, type DecodeTables } from './registry.js';

/*
 * IEEE 802.1Q / 802.1ad tag, after the outer EtherType:
 *   PCP(3) DEI(1) VID(12) | inner EtherType(2)
 * Stacks of any depth decode by re-entering this decoder.
 */
export function decodeVlan(f: Frame, t: DecodeTables): Proto {
  if (f.end - f.off < 4) return f.truncate('vlan');
  const vid = f.view.getUint16(f.off) & 0x0fff;
  const type = f.view.getUint16(f.off + 2);
  f.pushTunnel('vlan', vid, false);
  f.etherType = type;
  f.off += 4;
  return type > 1500 ? t.ethertype[type] : Proto.None;
}

registerDecoder(Proto.Vlan, decodeVlan);
registerEthertype(ETHERTYPE_VLAN, Proto.Vlan);
registerEthertype(ETHERTYPE_QINQ, Proto.Vlan);
registerEthertype(ETHERTYPE_QINQ_OLD, Proto.Vlan);
