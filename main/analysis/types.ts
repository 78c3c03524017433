import type { Frame } from '../decode/frame.js';
import type { FlowContext, TunnelRef } from '../flows/flow-table.js';
import type { TcpSummary } from './tcp-report.js';

export interface Endpoint {
  ip: string;
  port: number;
}

/**
 * One TCP or UDP conversation (5-tuple plus network context), as a value built on demand
 * from the flow table's columns (FlowTable.view, ConnectionTable.connection): the engine
 * keeps no object per connection. Application analysers receive one when they claim a
 * connection.
 */
export interface Connection {
  id: number;
  transport: 'tcp' | 'udp';
  client: Endpoint;
  server: Endpoint;
  /** Encapsulation of the first packet seen, outermost first. */
  tunnel: TunnelRef[];
  firstTs: number;
  lastTs: number;
  packets: number;
  bytes: number;
  packetsToServer: number;
  packetsToClient: number;
  bytesToServer: number;
  bytesToClient: number;
  payloadBytes: number;
  /** TCP analysis results; null for UDP (and in views that leave them out). */
  tcp: TcpSummary | null;
}

/** What the connection table tells the analysers about the current packet. */
export type PacketContext = FlowContext;

/** An analyser sees every decoded packet in order, once, and keeps its own bounded state. */
export interface FrameAnalyzer {
  onFrame(f: Frame, ctx: PacketContext): void;
  /** End of input (file end or capture stop). */
  finish?(lastTs: number): void;
}
