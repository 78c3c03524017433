/** LINKTYPE_* values (tcpdump.org/linktypes.html) that Tapscope decodes. */
export const LINKTYPE_NULL = 0;
export const LINKTYPE_ETHERNET = 1;
export const LINKTYPE_PPP = 9;
export const LINKTYPE_RAW_OPENBSD = 12;
export const LINKTYPE_PPP_HDLC = 50;
export const LINKTYPE_RAW = 101;
export const LINKTYPE_LOOP = 108;
export const LINKTYPE_LINUX_SLL = 113;
export const LINKTYPE_IPV4 = 228;
export const LINKTYPE_IPV6 = 229;
export const LINKTYPE_LINUX_SLL2 = 276;

export const LINK_TYPE_NAMES: Record<number, string> = {
  [LINKTYPE_NULL]: 'NULL/Loopback',
  [LINKTYPE_ETHERNET]: 'Ethernet',
  [LINKTYPE_PPP]: 'PPP',
  [LINKTYPE_PPP_HDLC]: 'PPP in HDLC-like framing',
  [LINKTYPE_RAW_OPENBSD]: 'Raw IP',
  [LINKTYPE_RAW]: 'Raw IP',
  [LINKTYPE_LOOP]: 'OpenBSD loopback',
  [LINKTYPE_LINUX_SLL]: 'Linux cooked v1',
  [LINKTYPE_IPV4]: 'Raw IPv4',
  [LINKTYPE_IPV6]: 'Raw IPv6',
  [LINKTYPE_LINUX_SLL2]: 'Linux cooked v2',
};

export function linkTypeName(lt: number): string {
  return LINK_TYPE_NAMES[lt] ?? `LINKTYPE ${lt}`;
}
