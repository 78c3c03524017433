import { Proto } from './protocols.js';

export type TunnelType = 'vxlan' | 'geneve' | 'gre' | 'erspan2' | 'erspan3' | 'tzsp' | 'ipip' | 'vlan';

/** One encapsulation the packet came wrapped in, outermost first. */
export interface TunnelLayer {
  type: TunnelType;
  /** VNI, GRE key, ERSPAN session id or VLAN id; null when the layer has none. */
  id: number | null;
  outerSrc: string | null;
  outerDst: string | null;
}

export const enum L4 {
  None = 0,
  Tcp = 6,
  Udp = 17,
  Icmp = 1,
  Icmpv6 = 58,
}

export const TCP_FIN = 0x01;
export const TCP_SYN = 0x02;
export const TCP_RST = 0x04;
export const TCP_PSH = 0x08;
export const TCP_ACK = 0x10;
export const TCP_URG = 0x20;
export const TCP_ECE = 0x40;
export const TCP_CWR = 0x80;

const MAX_TUNNELS = 16;
const MAX_SACK = 4;

/**
 * Everything decoded from one packet. One Frame is allocated per decoder and
 * overwritten for each packet: decoders write fields by offset into the record's
 * buffer, never slice it. Inner layers overwrite outer ones (so the IP/TCP fields
 * describe the innermost conversation); encapsulations are kept in `tunnels`.
 */
export class Frame {
  // Record
  index = 0;
  ts = 0;
  tsSec = 0;
  tsNsec = 0;
  caplen = 0;
  origLen = 0;
  linkType = 1;
  fileOffset = 0;
  data: Uint8Array = new Uint8Array(0);
  view: DataView = new DataView(this.data.buffer);

  // Cursor for the decoder chain: current layer start and end of its bytes.
  off = 0;
  end = 0;
  /** Offset in data of the packet's first byte (the record's offset). */
  frameOff = 0;

  /** Set when a layer was cut short or is invalid: the protocol and why. */
  malformed: string | null = null;
  /** Deepest protocol decoded. */
  top: Proto = Proto.None;

  etherType = 0;

  // Encapsulation stack, outermost first (VLAN tags included).
  readonly tunnels: TunnelLayer[] = Array.from({ length: MAX_TUNNELS }, () => ({ type: 'vlan' as TunnelType, id: null, outerSrc: null, outerDst: null }));
  tunnelCount = 0;

  // Network layer (innermost IP)
  ipVersion: 0 | 4 | 6 = 0;
  src = '';
  dst = '';
  ipProto = 0;
  ttl = 0;
  ipId = 0;
  /** Offset of the innermost IP header in data. */
  ipOff = 0;
  /** L4 length according to the IP header (not the captured bytes). */
  ipPayloadLen = 0;
  isFragment = false;
  /**
   * Inside the first fragment of an outer datagram (a tunnel packet fragmented in transit):
   * inner lengths then legitimately exceed the wire length, the rest being in later fragments.
   */
  inFragment = false;
  moreFragments = false;
  fragOffset = 0;

  // Transport
  l4: L4 = L4.None;
  srcPort = 0;
  dstPort = 0;
  tcpSeq = 0;
  tcpAck = 0;
  tcpFlags = 0;
  tcpWindow = 0;
  tcpHdrLen = 0;
  /** -1 when the option is absent. */
  tcpMss = -1;
  tcpWscale = -1;
  tcpSackPerm = false;
  tcpHasTs = false;
  tcpTsVal = 0;
  tcpTsEcr = 0;
  sackCount = 0;
  readonly sackLeft = new Float64Array(MAX_SACK);
  readonly sackRight = new Float64Array(MAX_SACK);
  udpLen = 0;
  /** Offset of the L4 payload in data, its wire length (from IP lengths) and captured length. */
  payloadOff = 0;
  payloadLen = 0;
  payloadCapLen = 0;

  // ICMP / ICMPv6 (with the quoted header of error messages)
  icmpType = -1;
  icmpCode = -1;
  icmpInner = false;
  innerProto = 0;
  innerSrc = '';
  innerDst = '';
  innerSrcPort = 0;
  innerDstPort = 0;

  // ARP
  arpOp = 0;
  arpSenderIp = '';
  arpTargetIp = '';

  reset(): void {
    this.malformed = null;
    this.top = Proto.None;
    this.etherType = 0;
    this.tunnelCount = 0;
    this.inFragment = false;
    this.src = '';
    this.dst = '';
    this.ipProto = 0;
    this.ipPayloadLen = 0;
    this.srcPort = 0;
    this.dstPort = 0;
    this.icmpType = -1;
    this.icmpCode = -1;
    this.icmpInner = false;
    this.arpOp = 0;
    this.clearInner();
  }

  /** Records an encapsulation; the current IP addresses become its outer addresses. */
  pushTunnel(type: TunnelType, id: number | null, withOuter = true): void {
    if (this.tunnelCount >= MAX_TUNNELS) return;
    const t = this.tunnels[this.tunnelCount++];
    t.type = type;
    t.id = id;
    t.outerSrc = withOuter && this.ipVersion ? this.src : null;
    t.outerDst = withOuter && this.ipVersion ? this.dst : null;
  }

  /** Before an inner packet: forget the outer network/transport layer. */
  clearInner(): void {
    this.ipVersion = 0;
    this.l4 = L4.None;
    this.isFragment = false;
    this.moreFragments = false;
    this.fragOffset = 0;
    this.tcpFlags = 0;
    this.tcpMss = -1;
    this.tcpWscale = -1;
    this.tcpSackPerm = false;
    this.tcpHasTs = false;
    this.sackCount = 0;
    this.payloadOff = 0;
    this.payloadLen = 0;
    this.payloadCapLen = 0;
  }

  /**
   * Stable text key of the tunnel context ("" when not encapsulated): type:id per layer.
   * Built at most once per packet, and reused across packets while the stack is the same
   * (a mirror feed repeats one stack for every packet).
   */
  tunnelKey(): string {
    if (this.tunnelCount === 0) return '';
    const n = this.tunnelCount;
    let same = n === this.keyCount;
    for (let i = 0; same && i < n; i++) same = this.tunnels[i].type === this.keyTypes[i] && this.tunnels[i].id === this.keyIds[i];
    if (same) return this.keyText;
    let k = '';
    for (let i = 0; i < n; i++) {
      const t = this.tunnels[i];
      k += `${t.type}:${t.id ?? ''}/`;
      this.keyTypes[i] = t.type;
      this.keyIds[i] = t.id;
    }
    this.keyCount = n;
    this.keyText = k;
    return k;
  }

  private keyCount = 0;
  private keyText = '';
  private readonly keyTypes: TunnelType[] = Array.from({ length: MAX_TUNNELS }, () => 'vlan' as TunnelType);
  private readonly keyIds: (number | null)[] = Array.from({ length: MAX_TUNNELS }, () => null);

  /** A layer ran out of bytes or is invalid; decoding stops here. */
  truncate(proto: string, why = 'truncated'): Proto {
    this.malformed = `${proto}: ${why}`;
    return Proto.None;
  }
}
