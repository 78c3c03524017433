import { L4, TCP_ACK, TCP_SYN, type Frame, type TunnelType } from '../decode/frame.js';
import { grown, pow2AtLeast } from './columns.js';
import { tcpSegmentLength } from './tcp-segment.js';
import type { Connection, Endpoint } from '../analysis/types.js';

/*
 * THE FLOW TABLE: every TCP/UDP conversation as a row of typed-array columns indexed by
 * connection number (0, 1, 2, ... in order of first packet), and an open-addressing hash
 * table from the conversation key to the current connection number. Nothing is allocated
 * per packet and nothing per connection but the column slots (about 90 bytes a row);
 * columns grow by doubling.
 *
 * The key is the network context (VXLAN/GENEVE VNIs, see networkContextKey), the transport,
 * and both endpoints ordered so that both directions find the same row. Addresses are
 * interned to integer ids (a capture has far fewer addresses than connections); the key is
 * hashed from those integers, never built as a string.
 *
 * A pure SYN that the TCP analyser says starts a new conversation on a key in use (port
 * reuse: a new initial sequence number, as tshark starts a new tcp.stream) gets a new row,
 * and the key's slot points at it from then on.
 */

/** Ports whose owner is the server when neither side sent a SYN we saw. */
const SERVICE_PORTS = new Set([
  53, 80, 88, 110, 123, 143, 389, 443, 445, 465, 587, 636, 853, 993, 995, 1433, 1521, 2049, 3128, 3306, 3389,
  5060, 5061, 5432, 5672, 6379, 6443, 8000, 8008, 8080, 8081, 8443, 8888, 9000, 9092, 9200, 11211, 27017,
]);

function isServicePort(p: number): boolean {
  return p < 1024 || SERVICE_PORTS.has(p);
}

/** An encapsulation layer of a connection's first packet (README "connections": tunnel). */
export interface TunnelRef {
  type: TunnelType;
  id: number | null;
}

/** What the table tells the analysers about the current packet (one object, overwritten). */
export interface FlowContext {
  /** Connection number, -1 when the packet belongs to no TCP/UDP conversation. */
  connId: number;
  /** True when the packet goes client -> server. */
  toServer: boolean;
  /** tcp.analysis flag bits the packet earned (see analysis/tcp-flags.ts). */
  tcpFlags: number;
  /**
   * The packet's connection through a cursor that the next packet moves: read its fields
   * now; to keep a connection, keep `connId` or a value from `flows.view(connId)`.
   */
  conn: Connection | null;
  /** The table, for analysers that need a connection's endpoints later (FlowTable.view). */
  readonly flows: FlowTable;
}

/**
 * A Connection read straight from the table's columns for one row at a time (moveTo): the
 * per-packet context hands it to analysers without building an object per packet.
 */
export class ConnectionCursor implements Connection {
  id = -1;
  readonly client: Endpoint = { ip: '', port: 0 };
  readonly server: Endpoint = { ip: '', port: 0 };
  readonly tcp = null;

  constructor(private readonly t: FlowTable) {}

  moveTo(c: number): this {
    const t = this.t;
    this.id = c;
    this.client.ip = t.addrs[t.clientAddr[c]];
    this.client.port = t.clientPort[c];
    this.server.ip = t.addrs[t.serverAddr[c]];
    this.server.port = t.serverPort[c];
    return this;
  }

  get transport(): 'tcp' | 'udp' { return this.t.isTcp[this.id] ? 'tcp' : 'udp'; }
  get tunnel(): TunnelRef[] { return this.t.tunnelOf(this.id); }
  get firstTs(): number { return this.t.firstTs[this.id]; }
  get lastTs(): number { return this.t.lastTs[this.id]; }
  get packets(): number { return this.t.packetsOf(this.id); }
  get bytes(): number { return this.t.bytesOf(this.id); }
  get packetsToServer(): number { return this.t.packets[this.id * 2 + DIR_TO_SERVER]; }
  get packetsToClient(): number { return this.t.packets[this.id * 2 + DIR_TO_CLIENT]; }
  get bytesToServer(): number { return this.t.bytes[this.id * 2 + DIR_TO_SERVER]; }
  get bytesToClient(): number { return this.t.bytes[this.id * 2 + DIR_TO_CLIENT]; }
  get payloadBytes(): number { return this.t.payloadBytes[this.id]; }
}

/**
 * Hooks of the TCP analyser: a new TCP row (grow its columns), whether a pure SYN starts a
 * new conversation on a key in use (port reuse), and the per-packet sequence analysis,
 * which returns the packet's TcpA bits.
 */
export interface TcpHooks {
  created(conn: number, f: Frame): void;
  startsNewConnection(conn: number, f: Frame, fromClient: boolean): boolean;
  onPacket(conn: number, f: Frame, toServer: boolean): number;
}

/** Packets/bytes columns are per direction: index conn * 2 + DIR_TO_SERVER / DIR_TO_CLIENT. */
export const DIR_TO_SERVER = 0;
export const DIR_TO_CLIENT = 1;

const FIRST_ROWS = 1024;
const EMPTY = 0;

/**
 * The part of the encapsulation that names a network of its own: VXLAN and GENEVE VNIs
 * (overlay segments whose address spaces are independent), so the same 5-tuple in two
 * VNIs is two conversations. Mirror-session labels are left out on purpose: ERSPAN
 * session ids, GRE keys, TZSP and VLAN tags often differ between the two directions of
 * one conversation (one session or tag per mirrored direction, a tag on one side of a
 * trunk only), and keying on them would split every such conversation in two.
 */
function isNetworkLayer(type: TunnelType): boolean {
  return type === 'vxlan' || type === 'geneve';
}

export class FlowTable {
  /** Rows in use. */
  count = 0;
  /** Packets looked up so far (a version for caches of views). */
  lookups = 0;
  private rows = FIRST_ROWS;

  // ---- columns (index: connection number; packets/bytes: conn * 2 + direction) ----
  firstTs = new Float64Array(FIRST_ROWS);
  lastTs = new Float64Array(FIRST_ROWS);
  packets = new Uint32Array(FIRST_ROWS * 2);
  bytes = new Float64Array(FIRST_ROWS * 2);
  /** TCP/UDP payload by the IP header's lengths. */
  payloadBytes = new Float64Array(FIRST_ROWS);
  /** 1 for TCP, 0 for UDP. */
  isTcp = new Uint8Array(FIRST_ROWS);
  clientAddr = new Int32Array(FIRST_ROWS);
  serverAddr = new Int32Array(FIRST_ROWS);
  clientPort = new Uint16Array(FIRST_ROWS);
  serverPort = new Uint16Array(FIRST_ROWS);
  /** 1 when the client is the endpoint that sorts first (address text, then port). */
  clientIsLow = new Uint8Array(FIRST_ROWS);
  /** Interned network context (VNIs), 0 = none. */
  netCtx = new Int32Array(FIRST_ROWS);
  /** Interned encapsulation stack of the first packet (`stacks`), 0 = none. */
  tunnelStack = new Int32Array(FIRST_ROWS);

  // ---- interned values ----
  /** Address text by id. */
  readonly addrs: string[] = [];
  private readonly addrIds = new Map<string, number>();
  /** Encapsulation stacks by id (0: not encapsulated). */
  readonly stacks: TunnelRef[][] = [[]];
  private readonly stackIds = new Map<string, number>([['', 0]]);
  private readonly netIds = new Map<string, number>([['', 0]]);
  /** The previous packet's network-layer (type, id) pairs and their context id: a feed repeats one stack. */
  private lastNetTypes: TunnelType[] = [];
  private lastNetIds: (number | null)[] = [];
  private lastNet = 0;

  // ---- open addressing: slot -> connection number + 1 (0 empty), linear probing ----
  private slots = new Int32Array(FIRST_ROWS * 2);
  private slotHash = new Int32Array(FIRST_ROWS * 2);
  private mask = FIRST_ROWS * 2 - 1;
  /** Distinct keys in the hash (port reuse replaces a key's row, it adds no key). */
  private keys = 0;

  private readonly cursor = new ConnectionCursor(this);
  readonly ctx: FlowContext = { connId: -1, toServer: false, tcpFlags: 0, conn: null, flows: this };

  constructor(private readonly tcp: TcpHooks | null = null) {}

  /** Finds or creates the packet's connection, updates its counters and runs the TCP hooks. */
  lookup(f: Frame): FlowContext {
    const ctx = this.nextPacket();
    if ((f.l4 !== L4.Tcp && f.l4 !== L4.Udp) || (f.isFragment && f.fragOffset > 0)) return ctx;
    const isTcp = f.l4 === L4.Tcp ? 1 : 0;
    const aFirst = f.src < f.dst || (f.src === f.dst && f.srcPort <= f.dstPort);
    const srcId = this.addrId(f.src);
    const dstId = this.addrId(f.dst);
    const lo = aFirst ? srcId : dstId;
    const hi = aFirst ? dstId : srcId;
    const loPort = aFirst ? f.srcPort : f.dstPort;
    const hiPort = aFirst ? f.dstPort : f.srcPort;
    const net = f.tunnelCount !== 0 ? this.networkContext(f) : 0;
    const h = hashKey(net, isTcp, lo, hi, loPort, hiPort);
    let slot = h & this.mask;
    let conn = -1;
    for (;;) {
      const v = this.slots[slot];
      if (v === EMPTY) break;
      if (this.slotHash[slot] === h && this.matches(v - 1, net, isTcp, lo, hi, loPort, hiPort)) {
        conn = v - 1;
        break;
      }
      slot = (slot + 1) & this.mask;
    }
    if (conn >= 0 && isTcp && this.tcp && (f.tcpFlags & (TCP_SYN | TCP_ACK)) === TCP_SYN) {
      const fromClient = this.clientPort[conn] === f.srcPort && this.clientAddr[conn] === srcId;
      if (this.tcp.startsNewConnection(conn, f, fromClient)) {
        conn = this.create(f, isTcp, aFirst, srcId, dstId, net);
        this.slots[slot] = conn + 1; // the key now names the new conversation
      }
    }
    if (conn < 0) {
      conn = this.create(f, isTcp, aFirst, srcId, dstId, net);
      this.slots[slot] = conn + 1;
      this.slotHash[slot] = h;
      if (++this.keys * 2 > this.slots.length) this.rehash();
    }
    // The client is the lower or the higher endpoint; the packet's side gives the direction.
    const toServer = aFirst === (this.clientIsLow[conn] === 1);
    this.countPacket(f, conn, isTcp, toServer);
    if (isTcp && this.tcp) ctx.tcpFlags = this.tcp.onPacket(conn, f, toServer);
    return ctx;
  }

  /**
   * The same row update as lookup() for a packet whose connection another table already
   * resolved (the split analysis, engine/split-analysis.ts: the transport thread looks up
   * and runs the TCP analyser; the application thread replays its answers in packet order).
   * `connId` is the next row number when the packet opened a connection. No hashing: this
   * table has no key index and no TCP hooks.
   */
  replay(f: Frame, connId: number, toServer: boolean, tcpFlags: number): FlowContext {
    const ctx = this.nextPacket();
    if (connId < 0) return ctx;
    const isTcp = f.l4 === L4.Tcp ? 1 : 0;
    if (connId === this.count) {
      const aFirst = f.src < f.dst || (f.src === f.dst && f.srcPort <= f.dstPort);
      const net = f.tunnelCount !== 0 ? this.networkContext(f) : 0;
      this.create(f, isTcp, aFirst, this.addrId(f.src), this.addrId(f.dst), net);
    } else if (connId > this.count) {
      throw new Error(`replayed connection ${connId} skips rows (table has ${this.count})`);
    }
    this.countPacket(f, connId, isTcp, toServer);
    ctx.tcpFlags = tcpFlags;
    return ctx;
  }

  /** A new packet: the context says "no conversation" until the packet is placed. */
  private nextPacket(): FlowContext {
    this.lookups++;
    const ctx = this.ctx;
    ctx.connId = -1;
    ctx.conn = null;
    ctx.toServer = false;
    ctx.tcpFlags = 0;
    return ctx;
  }

  /** Counts the packet on row `conn` and points the context at it. */
  private countPacket(f: Frame, conn: number, isTcp: number, toServer: boolean): void {
    const d = conn * 2 + (toServer ? DIR_TO_SERVER : DIR_TO_CLIENT);
    this.lastTs[conn] = f.ts;
    this.packets[d]++;
    this.bytes[d] += f.origLen;
    if (isTcp) {
      const n = tcpSegmentLength(f);
      if (n > 0) this.payloadBytes[conn] += n;
    } else this.payloadBytes[conn] += f.payloadLen;
    const ctx = this.ctx;
    ctx.connId = conn;
    ctx.conn = this.cursor.moveTo(conn);
    ctx.toServer = toServer;
  }

  private matches(c: number, net: number, isTcp: number, lo: number, hi: number, loPort: number, hiPort: number): boolean {
    if (this.netCtx[c] !== net || this.isTcp[c] !== isTcp) return false;
    if (this.clientIsLow[c] === 1) {
      return this.clientAddr[c] === lo && this.serverAddr[c] === hi && this.clientPort[c] === loPort && this.serverPort[c] === hiPort;
    }
    return this.serverAddr[c] === lo && this.clientAddr[c] === hi && this.serverPort[c] === loPort && this.clientPort[c] === hiPort;
  }

  private addrId(a: string): number {
    let id = this.addrIds.get(a);
    if (id === undefined) {
      id = this.addrs.length;
      this.addrs.push(a);
      this.addrIds.set(a, id);
    }
    return id;
  }

  /** The packet's network context id (VNIs of its VXLAN/GENEVE layers), 0 for none. */
  private networkContext(f: Frame): number {
    const types = this.lastNetTypes;
    const ids = this.lastNetIds;
    let n = 0;
    let same = true;
    for (let i = 0; i < f.tunnelCount; i++) {
      const t = f.tunnels[i];
      if (!isNetworkLayer(t.type)) continue;
      if (n >= types.length || types[n] !== t.type || ids[n] !== t.id) same = false;
      n++;
    }
    if (same && n === types.length) return this.lastNet;
    let k = '';
    types.length = 0;
    ids.length = 0;
    for (let i = 0; i < f.tunnelCount; i++) {
      const t = f.tunnels[i];
      if (!isNetworkLayer(t.type)) continue;
      k += `${t.type}:${t.id ?? ''}/`;
      types.push(t.type);
      ids.push(t.id);
    }
    let id = this.netIds.get(k);
    if (id === undefined) this.netIds.set(k, (id = this.netIds.size));
    this.lastNet = id;
    return id;
  }

  private create(f: Frame, isTcp: number, aFirst: boolean, srcId: number, dstId: number, net: number): number {
    if (this.count === this.rows) this.grow();
    const c = this.count++;
    const senderIsClient = isTcp ? senderIsClientTcp(f) : senderIsClientByPort(f);
    this.firstTs[c] = f.ts;
    this.lastTs[c] = f.ts;
    this.isTcp[c] = isTcp;
    this.clientAddr[c] = senderIsClient ? srcId : dstId;
    this.serverAddr[c] = senderIsClient ? dstId : srcId;
    this.clientPort[c] = senderIsClient ? f.srcPort : f.dstPort;
    this.serverPort[c] = senderIsClient ? f.dstPort : f.srcPort;
    this.clientIsLow[c] = senderIsClient === aFirst ? 1 : 0;
    this.netCtx[c] = net;
    this.tunnelStack[c] = f.tunnelCount !== 0 ? this.stackId(f) : 0;
    if (isTcp && this.tcp) this.tcp.created(c, f);
    return c;
  }

  /** Interns the packet's whole encapsulation stack (built once per new connection). */
  private stackId(f: Frame): number {
    let k = '';
    for (let i = 0; i < f.tunnelCount; i++) k += `${f.tunnels[i].type}:${f.tunnels[i].id ?? ''}/`;
    let id = this.stackIds.get(k);
    if (id === undefined) {
      id = this.stacks.length;
      const stack: TunnelRef[] = [];
      for (let i = 0; i < f.tunnelCount; i++) stack.push({ type: f.tunnels[i].type, id: f.tunnels[i].id });
      this.stacks.push(stack);
      this.stackIds.set(k, id);
    }
    return id;
  }

  private grow(): void {
    const n = this.rows * 2;
    this.firstTs = grown(this.firstTs, n);
    this.lastTs = grown(this.lastTs, n);
    this.packets = grown(this.packets, n * 2);
    this.bytes = grown(this.bytes, n * 2);
    this.payloadBytes = grown(this.payloadBytes, n);
    this.isTcp = grown(this.isTcp, n);
    this.clientAddr = grown(this.clientAddr, n);
    this.serverAddr = grown(this.serverAddr, n);
    this.clientPort = grown(this.clientPort, n);
    this.serverPort = grown(this.serverPort, n);
    this.clientIsLow = grown(this.clientIsLow, n);
    this.netCtx = grown(this.netCtx, n);
    this.tunnelStack = grown(this.tunnelStack, n);
    this.rows = n;
  }

  /** Doubles the hash table; every slot keeps its stored hash, so nothing is re-hashed from the key. */
  private rehash(): void {
    const oldSlots = this.slots;
    const oldHash = this.slotHash;
    const size = pow2AtLeast(oldSlots.length * 2);
    this.slots = new Int32Array(size);
    this.slotHash = new Int32Array(size);
    this.mask = size - 1;
    for (let i = 0; i < oldSlots.length; i++) {
      const v = oldSlots[i];
      if (v === EMPTY) continue;
      let s = oldHash[i] & this.mask;
      while (this.slots[s] !== EMPTY) s = (s + 1) & this.mask;
      this.slots[s] = v;
      this.slotHash[s] = oldHash[i];
    }
  }

  // ---- reading rows ----

  packetsOf(c: number): number {
    return this.packets[c * 2] + this.packets[c * 2 + 1];
  }

  bytesOf(c: number): number {
    return this.bytes[c * 2] + this.bytes[c * 2 + 1];
  }

  clientIp(c: number): string {
    return this.addrs[this.clientAddr[c]];
  }

  serverIp(c: number): string {
    return this.addrs[this.serverAddr[c]];
  }

  /** The encapsulation of the connection's first packet, outermost first (shared; do not modify). */
  tunnelOf(c: number): TunnelRef[] {
    return this.stacks[this.tunnelStack[c]];
  }

  /** Connection `c` as a value (built on each call; `tcp` left null: see ConnectionTable.connection). */
  view(c: number): Connection {
    return {
      id: c,
      transport: this.isTcp[c] ? 'tcp' : 'udp',
      client: { ip: this.addrs[this.clientAddr[c]], port: this.clientPort[c] },
      server: { ip: this.addrs[this.serverAddr[c]], port: this.serverPort[c] },
      tunnel: this.tunnelOf(c),
      firstTs: this.firstTs[c],
      lastTs: this.lastTs[c],
      packets: this.packetsOf(c),
      bytes: this.bytesOf(c),
      packetsToServer: this.packets[c * 2 + DIR_TO_SERVER],
      packetsToClient: this.packets[c * 2 + DIR_TO_CLIENT],
      bytesToServer: this.bytes[c * 2 + DIR_TO_SERVER],
      bytesToClient: this.bytes[c * 2 + DIR_TO_CLIENT],
      payloadBytes: this.payloadBytes[c],
      tcp: null,
    };
  }
}

/** FNV-style mix of the key's integers (32-bit). */
function hashKey(net: number, isTcp: number, lo: number, hi: number, loPort: number, hiPort: number): number {
  let h = 0x811c9dc5 ^ isTcp;
  h = Math.imul(h ^ net, 0x01000193);
  h = Math.imul(h ^ lo, 0x01000193);
  h = Math.imul(h ^ hi, 0x01000193);
  h = Math.imul(h ^ ((loPort << 16) | hiPort), 0x01000193);
  h ^= h >>> 15;
  h = Math.imul(h, 0x2c1b3c6d);
  h ^= h >>> 12;
  return h;
}

/** A SYN's sender is the client; a SYN-ACK's receiver is; otherwise decide by port. */
export function senderIsClientTcp(f: Frame): boolean {
  if (f.tcpFlags & TCP_SYN) return (f.tcpFlags & TCP_ACK) === 0;
  return senderIsClientByPort(f);
}

/** The side on a service port is the server; failing that, whoever spoke first is the client. */
export function senderIsClientByPort(f: Frame): boolean {
  const srcSvc = isServicePort(f.srcPort);
  const dstSvc = isServicePort(f.dstPort);
  if (dstSvc && !srcSvc) return true;
  if (srcSvc && !dstSvc) return false;
  if (srcSvc && dstSvc && f.srcPort !== f.dstPort) return f.dstPort < f.srcPort;
  return true;
}
