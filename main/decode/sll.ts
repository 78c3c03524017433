import type { Frame } from './frame.js';
import { Proto } from './protocols.js';
import { registerDecoder, registerLinkType, type DecodeTables } from './registry.js';
import { LINKTYPE_LINUX_SLL, LINKTYPE_LINUX_SLL2 } from '../pcap/link-types.js';

/*
 * Linux cooked capture v1 (LINKTYPE_LINUX_SLL, 16 bytes):
 *   packet type(2) ARPHRD type(2) addr len(2) addr(8) protocol(2)
 * v2 (LINKTYPE_LINUX_SLL2, 20 bytes):
 *   protocol(2) reserved(2) ifindex(4) ARPHRD type(2) packet type(1) addr len(1) addr(8)
 * The protocol is an EtherType for the link types that carry one.
 */
const ARPHRD_NETLINK = 824;

export function decodeSll(f: Frame, t: DecodeTables): Proto {
  if (f.end - f.off < 16) return f.truncate('sll');
  const hatype = f.view.getUint16(f.off + 2);
  const proto = f.view.getUint16(f.off + 14);
  f.off += 16;
  return cookedNext(f, t, hatype, proto);
}

export function decodeSll2(f: Frame, t: DecodeTables): Proto {
  if (f.end - f.off < 20) return f.truncate('sll2');
  const proto = f.view.getUint16(f.off);
  const hatype = f.view.getUint16(f.off + 8);
  f.off += 20;
  return cookedNext(f, t, hatype, proto);
}

function cookedNext(f: Frame, t: DecodeTables, hatype: number, proto: number): Proto {
  if (hatype === ARPHRD_NETLINK || proto <= 1500) return Proto.None; // netlink or 802.2 payloads
  f.etherType = proto;
  return t.ethertype[proto];
}

registerDecoder(Proto.Sll, decodeSll);
registerDecoder(Proto.Sll2, decodeSll2);
registerLinkType(LINKTYPE_LINUX_SLL, Proto.Sll);
registerLinkType(LINKTYPE_LINUX_SLL2, Proto.Sll2);
