import { L4, TCP_ACK, TCP_SYN, type Frame } from '../decode/frame.js';
import type { PacketIndex } from '../engine/packet-index.js';
import { appFieldsOf, type AppFields } from './app-fields.js';
import { TcpAppFields } from './tcp-app-replay.js';
import { QuicAppFields, type QuicStreamFields } from './quic-app-replay.js';
import { ipv4Number, ipv6Hex } from './values.js';
import type { KeyLog } from '../decrypt/key-log.js';
import { learnSeqBases, type SeqBases } from '../analysis/relative-seq.js';

/*
 * What a compiled filter reads a packet through. Index facts (number, time, length, TCP
 * analysis flags, connection and direction) cost nothing; the connection's addresses and
 * ports come from its first packet, decoded once per connection, so a filter on ip.addr,
 * tcp.port or tcp.stream never decodes the other packets. Anything else decodes the packet
 * from its file offset (once per packet, however many fields the filter reads).
 */

/** Facts of one connection, read from its first packets. */
export interface ConnectionFacts {
  /** False when the packets carry tunnel layers with outer IP headers (their outer addresses differ per packet). */
  plain: boolean;
  l4: L4;
  ipVersion: 0 | 4 | 6;
  /** Client and server addresses: IPv4 as numbers, IPv6 as 32 hex digits. */
  client: number | string;
  server: number | string;
  clientPort: number;
  serverPort: number;
  /** tshark's tcp.stream / udp.stream number. */
  stream: number;
  /** Relative sequence bases per direction (0 client->server, 1 server->client), null unseen. */
  seqBase: SeqBases;
  /** Window scale shift per direction, -1 unknown or not negotiated (tshark then shows the raw window). */
  wscale: [number, number];
}

export interface PacketSource {
  readonly index: PacketIndex;
  /** Decodes packet i (0-based); the Frame is reused by the next call. */
  decode(i: number): Frame;
  /** The pcapng interface id of packet i; -1 in a pcap file. */
  interfaceId(i: number): number;
  /** The session's TLS keys (key logs, the capture's DSBs), asked for when a TLS connection is replayed; none: not decrypted. */
  keys?(): KeyLog | null;
}

const IPV4_CACHE_MAX = 65536;

export class FilterContext {
  /** 0-based packet being evaluated. */
  i = 0;
  private decodedAt = -1;
  private appAt = -1;
  private appFields: AppFields | null = null;
  private frameRef: Frame | null = null;
  private facts: (ConnectionFacts | null)[] | null = null;
  private tcpApp: TcpAppFields | null = null;
  private quicApp: QuicAppFields | null = null;
  private quicAt = -1;
  private quicFields: QuicStreamFields | null = null;
  private readonly v4 = new Map<string, number>();
  private readonly v6 = new Map<string, string>();
  readonly firstTs: number;

  constructor(readonly src: PacketSource) {
    this.firstTs = src.index.length ? src.index.ts[0] : 0;
  }

  get index(): PacketIndex {
    return this.src.index;
  }

  at(i: number): this {
    this.i = i;
    return this;
  }

  frame(): Frame {
    if (this.decodedAt !== this.i) {
      this.frameRef = this.src.decode(this.i);
      this.decodedAt = this.i;
    }
    return this.frameRef!;
  }

  /**
   * The packet's application-layer fields. For TCP the connection is replayed up to this
   * packet first (tcp-app-replay.ts), which decodes other packets: call this before frame()
   * in a field reader.
   */
  app(): AppFields {
    if (this.appAt !== this.i) {
      const f = this.frame();
      let fields = appFieldsOf(f);
      if (f.l4 === L4.Tcp && !fields.dns) {
        this.tcpApp ??= new TcpAppFields(this.index, (i) => this.src.decode(i), () => this.src.keys?.() ?? null);
        const r = this.tcpApp.at(this.i);
        this.decodedAt = -1;
        if (r && (r.http.length || r.tls || r.http2)) fields = { dns: null, http: r.http.length ? r.http : null, tls: r.tls, http2: r.http2, quic: null };
      }
      this.appFields = fields;
      this.appAt = this.i;
    }
    return this.appFields!;
  }

  /**
   * The packet's decrypted QUIC STREAM frames and HTTP/3 (quic-app-replay.ts: its UDP connection
   * is replayed with the session's keys once); null without any. Decodes other packets: call it
   * before frame() in a field reader.
   */
  quicStreams(): QuicStreamFields | null {
    if (this.quicAt !== this.i) {
      this.quicFields = null;
      if (this.index.connId[this.i] >= 0 && this.frame().l4 === L4.Udp) {
        this.quicApp ??= new QuicAppFields(this.index, (i) => this.src.decode(i), () => this.src.keys?.() ?? null);
        this.quicFields = this.quicApp.at(this.i);
        this.decodedAt = -1;
      }
      this.quicAt = this.i;
    }
    return this.quicFields;
  }

  /** The connection facts of the current packet, or null (no connection). Call prepare() first. */
  conn(): ConnectionFacts | null {
    const c = this.index.connId[this.i];
    if (c < 0 || !this.facts) return null;
    return this.facts[c] ?? null;
  }

  /**
   * Builds the connection facts (before any packet is evaluated: building them decodes other
   * packets into the decoder's one Frame, which a field reader may be holding).
   */
  prepare(): this {
    if (!this.facts) this.buildFacts();
    return this;
  }

  /** Direction of the current packet: 0 client->server, 1 server->client. */
  dir(): 0 | 1 {
    return this.index.dir[this.i] === 2 ? 1 : 0;
  }

  ipv4(text: string): number {
    let v = this.v4.get(text);
    if (v === undefined) {
      v = ipv4Number(text) ?? -1;
      if (this.v4.size > IPV4_CACHE_MAX) this.v4.clear();
      this.v4.set(text, v);
    }
    return v;
  }

  ipv6(text: string): string {
    let v = this.v6.get(text);
    if (v === undefined) {
      v = ipv6Hex(text) ?? '';
      if (this.v6.size > IPV4_CACHE_MAX) this.v6.clear();
      this.v6.set(text, v);
    }
    return v;
  }

  /**
   * One pass over the index for each connection's first packet per direction, then one
   * decode of each: addresses, ports, sequence bases, window scales, stream numbers (tshark
   * numbers TCP and UDP conversations separately, in order of their first packet).
   */
  private buildFacts(): void {
    const ix = this.index;
    const first: number[][] = [];
    let maxConn = -1;
    for (let i = 0; i < ix.length; i++) {
      const c = ix.connId[i];
      if (c < 0) continue;
      const d = ix.dir[i] === 2 ? 1 : 0;
      let e = first[c];
      if (!e) {
        e = first[c] = [-1, -1, i];
        if (c > maxConn) maxConn = c;
      }
      if (e[d] < 0) e[d] = i;
    }
    const saved = this.i;
    const facts: (ConnectionFacts | null)[] = new Array(maxConn + 1).fill(null);
    const order: number[] = [];
    for (let c = 0; c <= maxConn; c++) if (first[c]) order.push(c);
    order.sort((a, b) => first[a][2] - first[b][2]);
    let tcpStreams = 0;
    let udpStreams = 0;
    for (const c of order) {
      const [d0, d1, p] = first[c];
      const f = this.src.decode(p);
      const fromClient = ix.dir[p] !== 2;
      let plain = true;
      for (let t = 0; t < f.tunnelCount; t++) if (f.tunnels[t].type !== 'vlan') plain = false;
      const addr = (s: string): number | string => (f.ipVersion === 4 ? this.ipv4(s) : this.ipv6(s));
      const src = addr(f.src);
      const dst = addr(f.dst);
      const fc: ConnectionFacts = {
        plain: plain && (f.l4 === L4.Tcp || f.l4 === L4.Udp) && !f.isFragment,
        l4: f.l4, ipVersion: f.ipVersion,
        client: fromClient ? src : dst, server: fromClient ? dst : src,
        clientPort: fromClient ? f.srcPort : f.dstPort, serverPort: fromClient ? f.dstPort : f.srcPort,
        stream: f.l4 === L4.Tcp ? tcpStreams++ : f.l4 === L4.Udp ? udpStreams++ : -1,
        seqBase: [null, null], wscale: [-1, -1],
      };
      if (f.l4 === L4.Tcp) {
        const syn: [number, number] = [-1, -1];
        const firsts = d0 >= 0 && d1 >= 0 && d1 < d0 ? ([[1, d1], [0, d0]] as const) : ([[0, d0], [1, d1]] as const);
        for (const [d, i] of firsts) {
          if (i < 0) continue;
          const g = this.src.decode(i);
          if (g.l4 !== L4.Tcp) continue;
          learnSeqBases(fc.seqBase, d, g.tcpFlags, g.tcpSeq, g.tcpAck);
          if (g.tcpFlags & TCP_SYN) syn[d] = g.tcpWscale;
        }
        // RFC 7323 §2.2: scaling applies only when both SYNs carried the option.
        if (syn[0] >= 0 && syn[1] >= 0) fc.wscale = [Math.min(syn[0], 14), Math.min(syn[1], 14)];
      }
      facts[c] = fc;
    }
    this.facts = facts;
    this.decodedAt = -1;
    this.appAt = -1;
    this.i = saved;
  }
}
