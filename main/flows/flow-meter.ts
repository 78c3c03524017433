import { L4, type Frame } from '../decode/frame.js';
import type { FrameAnalyzer, PacketContext } from '../analysis/types.js';

/*
 * The metering process of an exporter (RFC 7011 §2, "Metering Process"): per connection
 * and direction, what a flow record needs and the connection table does not keep —
 * packets, IP-layer octets, first/last packet time in ms, OR of TCP flags, and the
 * VLAN id / VXLAN-GENEVE VNI of the direction's first packet.
 *
 * Slot = connection id * 2 + (0 client->server, 1 server->client). Columns are typed
 * arrays grown by doubling: nothing is allocated per packet, and the cost on a packet
 * that is not TCP/UDP is one comparison.
 */

/** One direction of one connection, as metered. */
export interface DirectionMeter {
  packets: number;
  /** IP header + IP payload of every packet (octetDeltaCount, RFC 7012 / IANA IE 1). */
  octets: number;
  /** Epoch milliseconds (truncated) of the first and last packet. */
  firstMs: number;
  lastMs: number;
  /** OR of the TCP flags of every packet (tcpControlBits, IE 6). */
  tcpFlags: number;
  /** Outermost 802.1Q VLAN id of the first packet, or null. */
  vlanId: number | null;
  /** VXLAN/GENEVE VNI of the first packet (innermost), or null. */
  vni: number | null;
  vniType: 'vxlan' | 'geneve' | null;
}

const NONE = -1;

// ---- per-packet facts of a flow record, shared with the live flow cache (flow-cache.ts) ----

/** Exact epoch milliseconds (truncated) from the record's seconds and nanoseconds (no float rounding). */
export function frameMs(f: Frame): number {
  return f.tsSec * 1000 + Math.floor(f.tsNsec / 1e6);
}

/**
 * IP-layer octets of a TCP/UDP packet (octetDeltaCount): what the IP header says the
 * datagram is (the decoder already capped bogus lengths). The L4 header start is where
 * the IP header plus extension headers end.
 */
export function ipOctets(f: Frame): number {
  const l4Start = f.l4 === L4.Tcp ? f.payloadOff - f.tcpHdrLen : f.payloadOff - 8;
  return l4Start - f.ipOff + f.ipPayloadLen;
}

/** Outermost 802.1Q VLAN id of the packet, or -1. */
export function outerVlan(f: Frame): number {
  for (let i = 0; i < f.tunnelCount; i++) {
    const t = f.tunnels[i];
    if (t.type === 'vlan' && t.id !== null) return t.id;
  }
  return NONE;
}

/** VNI bits of innerVni's value; a GENEVE VNI has VNI_GENEVE added. */
export const VNI_MASK = 0xffffff;
export const VNI_GENEVE = 0x1000000;

/** The innermost VXLAN/GENEVE VNI (GENEVE + VNI_GENEVE), or -1 without one. */
export function innerVni(f: Frame): number {
  let v = NONE;
  for (let i = 0; i < f.tunnelCount; i++) {
    const t = f.tunnels[i];
    if ((t.type === 'vxlan' || t.type === 'geneve') && t.id !== null) v = t.id + (t.type === 'geneve' ? VNI_GENEVE : 0);
  }
  return v;
}

export class FlowMeter implements FrameAnalyzer {
  private cap = 0;
  private packets = new Float64Array(0);
  private octets = new Float64Array(0);
  private firstMs = new Float64Array(0);
  private lastMs = new Float64Array(0);
  private flags = new Uint16Array(0);
  private vlan = new Int32Array(0);
  private vni = new Float64Array(0);
  /** 1 VXLAN, 2 GENEVE. */
  private vniType = new Uint8Array(0);

  onFrame(f: Frame, ctx: PacketContext): void {
    if (ctx.connId < 0 || (f.l4 !== L4.Tcp && f.l4 !== L4.Udp)) return;
    const slot = ctx.connId * 2 + (ctx.toServer ? 0 : 1);
    if (slot >= this.cap) this.grow(slot + 1);
    // Exact integer ms from the record's seconds and nanoseconds (no float rounding).
    const ms = frameMs(f);
    if (this.packets[slot] === 0) {
      this.firstMs[slot] = ms;
      this.vlan[slot] = outerVlan(f);
      const v = innerVni(f);
      this.vni[slot] = v < 0 ? NONE : v & VNI_MASK;
      this.vniType[slot] = v < 0 ? 0 : v > VNI_MASK ? 2 : 1;
    }
    this.lastMs[slot] = ms;
    this.packets[slot]++;
    this.octets[slot] += ipOctets(f);
    if (f.l4 === L4.Tcp) this.flags[slot] |= f.tcpFlags;
  }

  /** The metered direction (0 client->server, 1 server->client) of a connection; null if it saw no packet. */
  direction(connectionId: number, dir: 0 | 1): DirectionMeter | null {
    const slot = connectionId * 2 + dir;
    if (slot >= this.cap || this.packets[slot] === 0) return null;
    return {
      packets: this.packets[slot],
      octets: this.octets[slot],
      firstMs: this.firstMs[slot],
      lastMs: this.lastMs[slot],
      tcpFlags: this.flags[slot],
      vlanId: this.vlan[slot] === NONE ? null : this.vlan[slot],
      vni: this.vni[slot] === NONE ? null : this.vni[slot],
      vniType: this.vni[slot] === NONE ? null : this.vniType[slot] === 1 ? 'vxlan' : 'geneve',
    };
  }

  private grow(min: number): void {
    let cap = Math.max(64, this.cap * 2);
    while (cap < min) cap *= 2;
    const g = <T extends Float64Array | Uint16Array | Int32Array | Uint8Array>(a: T, make: (n: number) => T): T => {
      const b = make(cap);
      b.set(a);
      return b;
    };
    this.packets = g(this.packets, (n) => new Float64Array(n));
    this.octets = g(this.octets, (n) => new Float64Array(n));
    this.firstMs = g(this.firstMs, (n) => new Float64Array(n));
    this.lastMs = g(this.lastMs, (n) => new Float64Array(n));
    this.flags = g(this.flags, (n) => new Uint16Array(n));
    this.vlan = g(this.vlan, (n) => new Int32Array(n));
    this.vni = g(this.vni, (n) => new Float64Array(n));
    this.vniType = g(this.vniType, (n) => new Uint8Array(n));
    this.cap = cap;
  }
}
