import type { Frame, TunnelType } from '../decode/frame.js';

export interface Endpoint {
  ip: string;
  port: number;
}

/** One TCP or UDP conversation: 5-tuple plus tunnel context (VNI, GRE key, VLAN...). */
export interface Connection {
  id: number;
  transport: 'tcp' | 'udp';
  /** Lookup key: network context (VNIs) + both endpoints, direction-independent. */
  key: string;
  client: Endpoint;
  server: Endpoint;
  /** Encapsulation of the first packet seen, outermost first. */
  tunnel: { type: TunnelType; id: number | null }[];
  firstTs: number;
  lastTs: number;
  packets: number;
  bytes: number;
  packetsToServer: number;
  packetsToClient: number;
  bytesToServer: number;
  bytesToClient: number;
  payloadBytes: number;
  /** True when the client is the endpoint that sorts first (address, then port); internal. */
  clientIsLow: boolean;
  /** TCP analysis state and counters; null for UDP. Filled by the TCP analyser. */
  tcp: unknown;
}

/** What the connection table tells the analysers about the current packet. */
export interface PacketContext {
  conn: Connection | null;
  /** True when the packet goes client -> server. */
  toServer: boolean;
  /** tcp.analysis flag bits the packet earned (see analysis/tcp-flags.ts). */
  tcpFlags: number;
}

/** An analyser sees every decoded packet in order, once, and keeps its own bounded state. */
export interface FrameAnalyzer {
  onFrame(f: Frame, ctx: PacketContext): void;
  /** End of input (file end or capture stop). */
  finish?(lastTs: number): void;
}
