import type { Frame } from './frame.js';
import { Proto } from './protocols.js';
import { registerDecoder, registerLinkType } from './registry.js';
import { LINKTYPE_IPV4, LINKTYPE_IPV6, LINKTYPE_LOOP, LINKTYPE_NULL, LINKTYPE_RAW, LINKTYPE_RAW_OPENBSD } from '../pcap/link-types.js';

/*
 * BSD loopback (LINKTYPE_NULL: address family in the capturing host's byte order;
 * LINKTYPE_LOOP: in network byte order). Either way we accept both orders: AF values
 * are small, so the order that gives a value below 256 is the right one.
 *   family(4) | IP packet
 * AF_INET is 2 everywhere; AF_INET6 is 24 (NetBSD/OpenBSD), 28 (FreeBSD), 30 (Darwin), 10 (Linux).
 */
const AF_INET = 2;
const AF_INET6 = new Set([10, 24, 28, 30]);

export function decodeNull(f: Frame): Proto {
  if (f.end - f.off < 4) return f.truncate('null');
  let family = f.view.getUint32(f.off, true);
  if (family > 0xff) family = f.view.getUint32(f.off, false);
  f.off += 4;
  if (family === AF_INET) return Proto.Ipv4;
  if (AF_INET6.has(family)) return Proto.Ipv6;
  return Proto.None;
}

/** Raw IP: the version nibble says which. */
export function decodeRawIp(f: Frame): Proto {
  if (f.end - f.off < 1) return f.truncate('raw');
  const version = f.data[f.off] >> 4;
  return version === 4 ? Proto.Ipv4 : version === 6 ? Proto.Ipv6 : Proto.None;
}

registerDecoder(Proto.Null, decodeNull);
registerDecoder(Proto.RawIp, decodeRawIp);
registerLinkType(LINKTYPE_NULL, Proto.Null);
registerLinkType(LINKTYPE_LOOP, Proto.Null);
registerLinkType(LINKTYPE_RAW, Proto.RawIp);
registerLinkType(LINKTYPE_RAW_OPENBSD, Proto.RawIp);
registerLinkType(LINKTYPE_IPV4, Proto.Ipv4);
registerLinkType(LINKTYPE_IPV6, Proto.Ipv6);
