import { L4, type Frame } from '../decode/frame.js';
import type { FrameAnalyzer, PacketContext } from './types.js';

/** One ICMP/ICMPv6 destination-unreachable message and the packet it quotes. */
export interface IcmpUnreachable {
  ts: number;
  version: 4 | 6;
  code: number;
  /** Router or host that sent the error. */
  reporter: string;
  /** The quoted packet: protocol, addresses and ports (ports 0 when not quoted). */
  proto: number;
  src: string;
  dst: string;
  srcPort: number;
  dstPort: number;
}

const ICMP_UNREACHABLE = 3; // RFC 792
const ICMPV6_UNREACHABLE = 1; // RFC 4443 §3.1
const MAX_KEPT = 100_000;

const V4_CODES: Record<number, string> = {
  0: 'network unreachable', 1: 'host unreachable', 2: 'protocol unreachable', 3: 'port unreachable',
  4: 'fragmentation needed', 5: 'source route failed', 6: 'destination network unknown', 7: 'destination host unknown',
  9: 'network administratively prohibited', 10: 'host administratively prohibited', 13: 'communication administratively prohibited',
};
const V6_CODES: Record<number, string> = {
  0: 'no route to destination', 1: 'administratively prohibited', 2: 'beyond scope of source address',
  3: 'address unreachable', 4: 'port unreachable', 5: 'source address failed ingress/egress policy', 6: 'reject route',
};

export function unreachableText(u: IcmpUnreachable): string {
  return (u.version === 4 ? V4_CODES : V6_CODES)[u.code] ?? `unreachable code ${u.code}`;
}

/*
 * ICMP UNREACHABLES. Destination-unreachable errors (ICMP type 3, ICMPv6 type 1) quote the
 * header of the packet that failed, which names the conversation (and so the connection)
 * the error is about: a closed UDP port, a host that is down, a firewall that rejects.
 */
export class IcmpErrors implements FrameAnalyzer {
  readonly unreachables: IcmpUnreachable[] = [];
  count = 0;

  onFrame(f: Frame, _ctx: PacketContext): void {
    if (!f.icmpInner) return;
    const v4 = f.l4 === L4.Icmp && f.icmpType === ICMP_UNREACHABLE;
    const v6 = f.l4 === L4.Icmpv6 && f.icmpType === ICMPV6_UNREACHABLE;
    if (!v4 && !v6) return;
    this.count++;
    if (this.unreachables.length >= MAX_KEPT) return;
    this.unreachables.push({
      ts: f.ts, version: v4 ? 4 : 6, code: f.icmpCode, reporter: f.src, proto: f.innerProto,
      src: f.innerSrc, dst: f.innerDst, srcPort: f.innerSrcPort, dstPort: f.innerDstPort,
    });
  }
}
