import { L4, TCP_ACK, TCP_SYN, type Frame } from '../decode/frame.js';
import type { Connection, PacketContext } from './types.js';
import { tcpSegmentLength } from './tcp-analyzer.js';

/** Ports whose owner is the server when neither side sent a SYN we saw. */
const SERVICE_PORTS = new Set([
  53, 80, 88, 110, 123, 143, 389, 443, 445, 465, 587, 636, 853, 993, 995, 1433, 1521, 2049, 3128, 3306, 3389,
  5060, 5061, 5432, 5672, 6379, 6443, 8000, 8008, 8080, 8081, 8443, 8888, 9000, 9092, 9200, 11211, 27017,
]);

function isServicePort(p: number): boolean {
  return p < 1024 || SERVICE_PORTS.has(p);
}

type AddrMap = Map<string, Map<string, Map<number, Connection>>>;

/**
 * The part of the encapsulation that names a network of its own: VXLAN and GENEVE VNIs
 * (overlay segments whose address spaces are independent), so the same 5-tuple in two
 * VNIs is two conversations. Mirror-session labels are left out on purpose: ERSPAN
 * session ids, GRE keys, TZSP and VLAN tags often differ between the two directions of
 * one conversation (one session or tag per mirrored direction, a tag on one side of a
 * trunk only), and keying on them would split every such conversation in two.
 */
function networkContext(f: Frame): string {
  let k = '';
  for (let i = 0; i < f.tunnelCount; i++) {
    const t = f.tunnels[i];
    if (t.type === 'vxlan' || t.type === 'geneve') k += `${t.type}:${t.id ?? ''}/`;
  }
  return k;
}

/**
 * Hooks the TCP analyser provides: whether a packet starts a new conversation on a key
 * that is in use (port reuse), and the per-packet sequence analysis.
 */
export interface TcpHooks {
  startsNewConnection(conn: Connection, f: Frame, fromClient: boolean): boolean;
  onPacket(conn: Connection, f: Frame, toServer: boolean): number;
  create(conn: Connection): unknown;
}

/**
 * The conversation table: finds or creates the connection a TCP/UDP packet belongs to,
 * keyed by the tunnel context and both endpoints, and orients it (client/server).
 */
export class ConnectionTable {
  /** Lower address -> higher address -> protocol/port pair -> the current connection. */
  private readonly plain: AddrMap = new Map();
  /** The same per network context (VXLAN/GENEVE VNIs). */
  private readonly byNet = new Map<string, AddrMap>();
  readonly all: Connection[] = [];
  private ctx: PacketContext = { conn: null, toServer: false, tcpFlags: 0 };

  constructor(private tcp: TcpHooks | null = null) {}

  lookup(f: Frame): PacketContext {
    const ctx = this.ctx;
    ctx.conn = null;
    ctx.toServer = false;
    ctx.tcpFlags = 0;
    if ((f.l4 !== L4.Tcp && f.l4 !== L4.Udp) || f.isFragment && f.fragOffset > 0) return ctx;
    const isTcp = f.l4 === L4.Tcp;
    // Nested maps (network context, lower address, higher address, port pair as one
    // number): no key string is built per packet, and the address strings hash once.
    const aFirst = f.src < f.dst || (f.src === f.dst && f.srcPort <= f.dstPort);
    const lo = aFirst ? f.src : f.dst;
    const hi = aFirst ? f.dst : f.src;
    const portKey = (aFirst ? f.srcPort * 65536 + f.dstPort : f.dstPort * 65536 + f.srcPort) * 2 + (isTcp ? 1 : 0);
    let byLo = this.plain;
    let net = '';
    if (f.tunnelCount !== 0) {
      net = networkContext(f);
      if (net !== '') {
        byLo = this.byNet.get(net)!;
        if (!byLo) this.byNet.set(net, (byLo = new Map()));
      }
    }
    let byHi = byLo.get(lo);
    if (!byHi) byLo.set(lo, (byHi = new Map()));
    let ports = byHi.get(hi);
    if (!ports) byHi.set(hi, (ports = new Map()));
    let conn = ports.get(portKey);
    if (conn && isTcp && this.tcp && (f.tcpFlags & (TCP_SYN | TCP_ACK)) === TCP_SYN) {
      const fromClient = conn.client.port === f.srcPort && conn.client.ip === f.src;
      if (this.tcp.startsNewConnection(conn, f, fromClient)) conn = undefined;
    }
    if (!conn) {
      conn = this.create(`${net}${isTcp ? 't' : 'u'}|${lo}|${hi}|${portKey >>> 1}`, f, isTcp, aFirst);
      ports.set(portKey, conn);
    }
    // The client is the lower or the higher endpoint; the packet's side gives the direction.
    const toServer = aFirst === conn.clientIsLow;
    conn.lastTs = f.ts;
    conn.packets++;
    conn.bytes += f.origLen;
    if (isTcp) {
      const n = tcpSegmentLength(f);
      if (n > 0) conn.payloadBytes += n;
    } else conn.payloadBytes += f.payloadLen;
    if (toServer) {
      conn.packetsToServer++;
      conn.bytesToServer += f.origLen;
    } else {
      conn.packetsToClient++;
      conn.bytesToClient += f.origLen;
    }
    ctx.conn = conn;
    ctx.toServer = toServer;
    if (isTcp && this.tcp) ctx.tcpFlags = this.tcp.onPacket(conn, f, toServer);
    return ctx;
  }

  private create(key: string, f: Frame, isTcp: boolean, senderIsLow: boolean): Connection {
    const senderIsClient = isTcp ? this.senderIsClient(f) : this.senderIsClientByPort(f);
    const sender = { ip: f.src, port: f.srcPort };
    const receiver = { ip: f.dst, port: f.dstPort };
    const tunnel = [];
    for (let i = 0; i < f.tunnelCount; i++) tunnel.push({ type: f.tunnels[i].type, id: f.tunnels[i].id });
    const conn: Connection = {
      id: this.all.length,
      transport: isTcp ? 'tcp' : 'udp',
      key,
      client: senderIsClient ? sender : receiver,
      server: senderIsClient ? receiver : sender,
      tunnel,
      firstTs: f.ts,
      lastTs: f.ts,
      packets: 0,
      bytes: 0,
      packetsToServer: 0,
      packetsToClient: 0,
      bytesToServer: 0,
      bytesToClient: 0,
      payloadBytes: 0,
      clientIsLow: senderIsClient === senderIsLow,
      tcp: null,
    };
    if (isTcp && this.tcp) conn.tcp = this.tcp.create(conn);
    this.all.push(conn);
    return conn;
  }

  /** A SYN's sender is the client; a SYN-ACK's receiver is; otherwise decide by port. */
  private senderIsClient(f: Frame): boolean {
    if (f.tcpFlags & TCP_SYN) return (f.tcpFlags & TCP_ACK) === 0;
    return this.senderIsClientByPort(f);
  }

  /** The side on a service port is the server; failing that, whoever spoke first is the client. */
  private senderIsClientByPort(f: Frame): boolean {
    const srcSvc = isServicePort(f.srcPort);
    const dstSvc = isServicePort(f.dstPort);
    if (dstSvc && !srcSvc) return true;
    if (srcSvc && !dstSvc) return false;
    if (srcSvc && dstSvc && f.srcPort !== f.dstPort) return f.dstPort < f.srcPort;
    return true;
  }
}
