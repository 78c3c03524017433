/** Protocol ids used by the dispatch tables. Decoders return the id of the next layer. */
export const enum Proto {
  None = 0,
  Ethernet,
  Vlan,
  Arp,
  Ipv4,
  Ipv6,
  Tcp,
  Udp,
  Icmp,
  Icmpv6,
  Vxlan,
  Geneve,
  Gre,
  Erspan2,
  Erspan3,
  Tzsp,
  Sll,
  Sll2,
  Null,
  RawIp,
  Ppp,
  Quic,
  Count,
}

export const PROTO_NAMES: Record<string, Proto> = {
  ethernet: Proto.Ethernet, vlan: Proto.Vlan, arp: Proto.Arp, ipv4: Proto.Ipv4, ipv6: Proto.Ipv6,
  tcp: Proto.Tcp, udp: Proto.Udp, icmp: Proto.Icmp, icmpv6: Proto.Icmpv6, vxlan: Proto.Vxlan,
  geneve: Proto.Geneve, gre: Proto.Gre, erspan2: Proto.Erspan2, erspan3: Proto.Erspan3, tzsp: Proto.Tzsp,
  quic: Proto.Quic,
};

export const ETHERTYPE_IPV4 = 0x0800;
export const ETHERTYPE_ARP = 0x0806;
export const ETHERTYPE_TEB = 0x6558; // transparent Ethernet bridging (GRE)
export const ETHERTYPE_VLAN = 0x8100;
export const ETHERTYPE_QINQ = 0x88a8;
export const ETHERTYPE_QINQ_OLD = 0x9100;
export const ETHERTYPE_IPV6 = 0x86dd;
export const ETHERTYPE_ERSPAN2 = 0x88be;
export const ETHERTYPE_ERSPAN3 = 0x22eb;

export const IPPROTO_ICMP = 1;
export const IPPROTO_IPIP = 4;
export const IPPROTO_TCP = 6;
export const IPPROTO_UDP = 17;
export const IPPROTO_IPV6 = 41;
export const IPPROTO_GRE = 47;
export const IPPROTO_ICMPV6 = 58;

export const UDP_PORT_VXLAN = 4789;
export const UDP_PORT_VXLAN_LINUX = 8472;
export const UDP_PORT_GENEVE = 6081;
export const UDP_PORT_TZSP = 37008;
export const UDP_PORT_QUIC = 443;
