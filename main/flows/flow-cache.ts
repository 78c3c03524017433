import { L4, TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN, type Frame } from '../decode/frame.js';
import { IPPROTO_TCP, IPPROTO_UDP, communityId } from './community-id.js';
import { frameMs, innerVni, ipOctets, outerVlan, VNI_GENEVE, VNI_MASK } from './flow-meter.js';
import { END_ACTIVE, END_IDLE, END_OF_FLOW, END_FORCED, type FlowRecord } from './flow-records.js';
import { senderIsClientByPort, senderIsClientTcp } from './flow-table.js';
import { pow2AtLeast } from './columns.js';

/*
 * THE LIVE FLOW CACHE: the metering process of a 24/7 exporter (RFC 7011 §2; RFC 5470
 * §5.1 "flow expiration"). Every TCP/UDP conversation (5-tuple + innermost VXLAN/GENEVE
 * VNI, both directions in one entry) is a slot of fixed typed-array columns allocated once
 * for `maxFlows` entries: memory is the budget, whatever the number of flows ever seen.
 *
 * A flow ends, and its two uniflow records (client->server, then server->client; as
 * `tapscope flows`, flow-records.ts) are handed to `onRecord`, when
 *   - it saw no packet for idleSec            flowEndReason 1 (idle timeout)
 *   - it started activeSec ago                flowEndReason 2 (active timeout; the next
 *                                             packet starts a new flow, as softflowd)
 *   - a TCP flow that closed (RST, or FIN both ways) goes idle for idleSec, or a new SYN
 *     reuses its 5-tuple                       flowEndReason 3 (end of flow detected)
 *   - the cache is full and a new flow needs a slot: the least recently active flow is
 *     ended                                    flowEndReason 5 (lack of resources)
 *   - flushAll() at exit                      flowEndReason 4 (forced end)
 *
 * Two doubly-linked lists over the slots keep expiry O(1) per flow: by last activity (idle
 * head) and by start (active head). Keys hash into buckets chained through the slots.
 * Nothing is allocated per packet; per flow, its address strings (freed with the slot)
 * and, at expiry, its records.
 */

/** lackOfResources (IANA IPFIX flowEndReason 5). */
export const END_LACK_OF_RESOURCES = 5;

export interface FlowCacheOptions {
  /** Seconds without a packet after which a flow ends (default 60). */
  idleSec?: number;
  /** Seconds after its start at which a long flow is reported and restarted (default 1800). */
  activeSec?: number;
  /** Flows held at once (the memory budget, default DEFAULT_MAX_FLOWS). */
  maxFlows?: number;
  communityIdSeed?: number;
}

export const DEFAULT_IDLE_SEC = 60;
export const DEFAULT_ACTIVE_SEC = 1800;
/** 262,144 flows: about 40 MB of columns (about 150 octets a slot), plus the address strings of the flows held. */
export const DEFAULT_MAX_FLOWS = 1 << 18;

/** What the cache has done: totals only, a fixed size. */
export interface FlowCacheStats {
  /** Flows in the cache now. */
  active: number;
  /** Flows ended, by flowEndReason (1 idle, 2 active, 3 end of flow, 4 forced, 5 lack of resources). */
  ended: { idle: number; active: number; endOfFlow: number; forced: number; lackOfResources: number };
  /** Uniflow records handed on. */
  records: number;
  /** Packets and IP octets of the ended flows. */
  packets: number;
  octets: number;
  maxFlows: number;
}

const NIL = -1;
/** Flow state bits. */
const FIN_TO_SERVER = 1;
const FIN_TO_CLIENT = 2;
const RST_SEEN = 4;
const CLOSED = 8;

export class FlowCache {
  readonly idleMs: number;
  readonly activeMs: number;
  readonly maxFlows: number;
  private readonly seed: number;
  /** Flows in use. */
  private used = 0;
  private flowNo = 0;

  // ---- key and orientation ----
  private readonly clientIp: string[];
  private readonly serverIp: string[];
  private readonly clientPort: Uint16Array;
  private readonly serverPort: Uint16Array;
  private readonly proto: Uint8Array;
  private readonly ipVersion: Uint8Array;
  /** innerVni() of the first packet: -1 none. */
  private readonly vni: Int32Array;
  private readonly hash: Int32Array;
  /** Running flow number (tapscopeConnectionId of the records). */
  private readonly number: Uint32Array;
  /** The caller's tag of the flow's latest packet (observe's `tag`: the analysis's connection), -1 none. */
  private readonly tag: Float64Array;
  private readonly state: Uint8Array;
  // ---- per direction: slot * 2 + (0 client->server, 1 server->client) ----
  private readonly packets: Float64Array;
  private readonly octets: Float64Array;
  private readonly firstMs: Float64Array;
  private readonly lastMs: Float64Array;
  private readonly flags: Uint16Array;
  private readonly vlan: Int32Array;
  // ---- lists: idle order (last activity) and start order; bucket chains; free slots ----
  /** Slots by last activity, least recent first (idle expiry, eviction). */
  private readonly idle: SlotList;
  /** Slots by first packet, oldest first (active expiry, flush). */
  private readonly started: SlotList;
  private readonly buckets: Int32Array;
  private readonly chain: Int32Array;
  private readonly mask: number;
  private readonly free: Int32Array;
  private freeCount: number;
  /** Last activity of the flow (ms), for the idle list. */
  private readonly lastAnyMs: Float64Array;

  readonly stats: FlowCacheStats;
  /** The latest packet time seen (ms), the cache's clock. */
  clockMs = 0;
  /** The flow number (records' connectionId) of the packet observe() last metered, -1 when it metered none. */
  lastNumber = -1;

  /**
   * `onRecord` gets each uniflow record; `tagOf` is the tag observe() last gave the flow
   * (the live sink uses it to add the analysis's facts of the connection, if it still has it).
   */
  constructor(opts: FlowCacheOptions, private readonly onRecord: (r: FlowRecord, tag: number) => void) {
    this.idleMs = (opts.idleSec ?? DEFAULT_IDLE_SEC) * 1000;
    this.activeMs = (opts.activeSec ?? DEFAULT_ACTIVE_SEC) * 1000;
    const n = (this.maxFlows = Math.max(1, Math.floor(opts.maxFlows ?? DEFAULT_MAX_FLOWS)));
    this.seed = opts.communityIdSeed ?? 0;
    this.clientIp = new Array<string>(n).fill('');
    this.serverIp = new Array<string>(n).fill('');
    this.clientPort = new Uint16Array(n);
    this.serverPort = new Uint16Array(n);
    this.proto = new Uint8Array(n);
    this.ipVersion = new Uint8Array(n);
    this.vni = new Int32Array(n);
    this.hash = new Int32Array(n);
    this.number = new Uint32Array(n);
    this.tag = new Float64Array(n);
    this.state = new Uint8Array(n);
    this.packets = new Float64Array(n * 2);
    this.octets = new Float64Array(n * 2);
    this.firstMs = new Float64Array(n * 2);
    this.lastMs = new Float64Array(n * 2);
    this.flags = new Uint16Array(n * 2);
    this.vlan = new Int32Array(n * 2);
    this.lastAnyMs = new Float64Array(n);
    this.idle = new SlotList(n);
    this.started = new SlotList(n);
    const b = pow2AtLeast(n * 2);
    this.buckets = new Int32Array(b).fill(NIL);
    this.mask = b - 1;
    this.chain = new Int32Array(n);
    this.free = new Int32Array(n);
    for (let i = 0; i < n; i++) this.free[i] = n - 1 - i;
    this.freeCount = n;
    this.stats = { active: 0, ended: { idle: 0, active: 0, endOfFlow: 0, forced: 0, lackOfResources: 0 }, records: 0, packets: 0, octets: 0, maxFlows: n };
  }

  /** Meters one decoded packet (TCP/UDP only; later fragments carry no ports and are left out). */
  observe(f: Frame, tag = -1): void {
    this.lastNumber = -1;
    if ((f.l4 !== L4.Tcp && f.l4 !== L4.Udp) || (f.isFragment && f.fragOffset > 0)) return;
    const ms = frameMs(f);
    if (ms > this.clockMs) this.clockMs = ms;
    this.expire(this.clockMs);
    const proto = f.l4 === L4.Tcp ? IPPROTO_TCP : IPPROTO_UDP;
    const vni = innerVni(f);
    const h = keyHash(proto, vni, f.src, f.srcPort, f.dst, f.dstPort);
    let s = this.find(h, proto, vni, f);
    if (s >= 0 && proto === IPPROTO_TCP && (this.state[s] & CLOSED) && (f.tcpFlags & (TCP_SYN | TCP_ACK)) === TCP_SYN) {
      this.end(s, END_OF_FLOW); // a new connection on the 5-tuple of a closed one
      s = NIL;
    }
    if (s < 0) s = this.create(h, proto, vni, f, ms);
    else if (s !== this.idle.tail) {
      this.idle.unlink(s);
      this.idle.append(s);
    }
    const toServer = this.clientIp[s] === f.src && this.clientPort[s] === f.srcPort;
    const d = s * 2 + (toServer ? 0 : 1);
    if (this.packets[d] === 0) {
      this.firstMs[d] = ms;
      this.vlan[d] = outerVlan(f);
    }
    this.packets[d]++;
    this.octets[d] += ipOctets(f);
    this.lastMs[d] = ms;
    this.lastAnyMs[s] = ms;
    this.tag[s] = tag;
    this.lastNumber = this.number[s];
    if (proto === IPPROTO_TCP) {
      const fl = f.tcpFlags;
      this.flags[d] |= fl;
      if (fl & TCP_RST) this.state[s] |= RST_SEEN | CLOSED;
      if (fl & TCP_FIN) {
        this.state[s] |= toServer ? FIN_TO_SERVER : FIN_TO_CLIENT;
        if ((this.state[s] & (FIN_TO_SERVER | FIN_TO_CLIENT)) === (FIN_TO_SERVER | FIN_TO_CLIENT)) this.state[s] |= CLOSED;
      }
    }
  }

  /**
   * Ends the flows whose timeouts passed at `nowMs` (the packet clock; a live source also
   * calls it from a timer, so idle flows end when the traffic stops).
   */
  expire(nowMs: number): void {
    while (this.idle.head !== NIL && nowMs - this.lastAnyMs[this.idle.head] >= this.idleMs) {
      const s = this.idle.head;
      this.end(s, this.state[s] & CLOSED ? END_OF_FLOW : END_IDLE);
    }
    while (this.started.head !== NIL && nowMs - this.startMs(this.started.head) >= this.activeMs) this.end(this.started.head, END_ACTIVE);
  }

  /** Ends every flow (exit): flowEndReason 4, or 3 for a TCP flow that had closed. */
  flushAll(): void {
    this.flushSome(Infinity);
  }

  /** Ends up to `max` flows, oldest first, as flushAll does; returns how many are left. */
  flushSome(max: number): number {
    for (let n = 0; n < max && this.started.head !== NIL; n++) {
      const s = this.started.head;
      this.end(s, this.state[s] & CLOSED ? END_OF_FLOW : END_FORCED);
    }
    return this.used;
  }

  get activeFlows(): number {
    return this.used;
  }

  private startMs(s: number): number {
    const a = this.packets[s * 2] ? this.firstMs[s * 2] : Infinity;
    const b = this.packets[s * 2 + 1] ? this.firstMs[s * 2 + 1] : Infinity;
    return Math.min(a, b);
  }

  private find(h: number, proto: number, vni: number, f: Frame): number {
    for (let s = this.buckets[h & this.mask]; s !== NIL; s = this.chain[s]) {
      if (this.hash[s] !== h || this.proto[s] !== proto || this.vni[s] !== vni) continue;
      const c = this.clientIp[s];
      const sv = this.serverIp[s];
      if ((c === f.src && this.clientPort[s] === f.srcPort && sv === f.dst && this.serverPort[s] === f.dstPort)
        || (sv === f.src && this.serverPort[s] === f.srcPort && c === f.dst && this.clientPort[s] === f.dstPort)) return s;
    }
    return NIL;
  }

  private create(h: number, proto: number, vni: number, f: Frame, ms: number): number {
    if (this.freeCount === 0) this.end(this.idle.head, END_LACK_OF_RESOURCES);
    const s = this.free[--this.freeCount];
    const senderIsClient = proto === IPPROTO_TCP ? senderIsClientTcp(f) : senderIsClientByPort(f);
    // Client as for connections (README): the SYN's sender, else the side off a service port.
    this.clientIp[s] = senderIsClient ? f.src : f.dst;
    this.serverIp[s] = senderIsClient ? f.dst : f.src;
    this.clientPort[s] = senderIsClient ? f.srcPort : f.dstPort;
    this.serverPort[s] = senderIsClient ? f.dstPort : f.srcPort;
    this.proto[s] = proto;
    this.ipVersion[s] = f.ipVersion === 6 ? 6 : 4;
    this.vni[s] = vni;
    this.hash[s] = h;
    this.number[s] = this.flowNo++ >>> 0;
    this.state[s] = 0;
    for (const d of [s * 2, s * 2 + 1]) {
      this.packets[d] = 0;
      this.octets[d] = 0;
      this.flags[d] = 0;
      this.vlan[d] = NIL;
    }
    this.lastAnyMs[s] = ms;
    const b = h & this.mask;
    this.chain[s] = this.buckets[b];
    this.buckets[b] = s;
    this.idle.append(s);
    this.started.append(s);
    this.used++;
    this.stats.active = this.used;
    return s;
  }

  private end(s: number, reason: number): void {
    this.emit(s, reason);
    // unlink from the bucket chain
    const b = this.hash[s] & this.mask;
    if (this.buckets[b] === s) this.buckets[b] = this.chain[s];
    else for (let p = this.buckets[b]; p !== NIL; p = this.chain[p]) if (this.chain[p] === s) { this.chain[p] = this.chain[s]; break; }
    this.idle.unlink(s);
    this.started.unlink(s);
    this.clientIp[s] = '';
    this.serverIp[s] = '';
    this.free[this.freeCount++] = s;
    this.used--;
    this.stats.active = this.used;
  }

  private emit(s: number, reason: number): void {
    const st = this.stats;
    if (reason === END_IDLE) st.ended.idle++;
    else if (reason === END_ACTIVE) st.ended.active++;
    else if (reason === END_OF_FLOW) st.ended.endOfFlow++;
    else if (reason === END_FORCED) st.ended.forced++;
    else st.ended.lackOfResources++;
    const proto = this.proto[s];
    const client = { ip: this.clientIp[s], port: this.clientPort[s] };
    const server = { ip: this.serverIp[s], port: this.serverPort[s] };
    const cid = communityId({ proto, srcIp: client.ip, dstIp: server.ip, srcPort: client.port, dstPort: server.port }, { seed: this.seed });
    const vni = this.vni[s];
    for (const dir of [0, 1] as const) {
      const d = s * 2 + dir;
      if (this.packets[d] === 0) continue;
      const [src, dst] = dir === 0 ? [client, server] : [server, client];
      st.records++;
      st.packets += this.packets[d];
      st.octets += this.octets[d];
      this.onRecord({
        connectionId: this.number[s], ipVersion: this.ipVersion[s] as 4 | 6,
        srcIp: src.ip, dstIp: dst.ip, srcPort: src.port, dstPort: dst.port, proto,
        packets: this.packets[d], octets: this.octets[d], startMs: this.firstMs[d], endMs: this.lastMs[d],
        tcpFlags: this.flags[d], endReason: reason,
        vlanId: this.vlan[d] < 0 ? null : this.vlan[d],
        vni: vni < 0 ? null : vni & VNI_MASK, vniType: vni < 0 ? null : vni >= VNI_GENEVE ? 'geneve' : 'vxlan',
        communityId: cid, handshakeRttUs: null, retransmissions: 0, lostSegments: 0, ackedUnseen: 0,
        httpHost: null, httpStatus: null, dnsName: null, dnsRcode: null, tlsSni: null,
      }, this.tag[s]);
    }
  }
}

/** A doubly-linked list threaded through slot numbers (typed arrays: nothing allocated per flow). */
class SlotList {
  head = NIL;
  tail = NIL;
  private readonly prev: Int32Array;
  private readonly next: Int32Array;

  constructor(slots: number) {
    this.prev = new Int32Array(slots);
    this.next = new Int32Array(slots);
  }

  append(s: number): void {
    this.prev[s] = this.tail;
    this.next[s] = NIL;
    if (this.tail !== NIL) this.next[this.tail] = s;
    else this.head = s;
    this.tail = s;
  }

  unlink(s: number): void {
    const p = this.prev[s];
    const n = this.next[s];
    if (p !== NIL) this.next[p] = n;
    else this.head = n;
    if (n !== NIL) this.prev[n] = p;
    else this.tail = p;
  }
}

/** Order-independent hash of the key (both directions hash alike). */
function keyHash(proto: number, vni: number, a: string, ap: number, b: string, bp: number): number {
  const ha = Math.imul(strHash(a) ^ ap, 0x9e3779b1);
  const hb = Math.imul(strHash(b) ^ bp, 0x9e3779b1);
  let h = (ha + hb) ^ Math.imul(proto + 1, 0x85ebca6b) ^ Math.imul(vni + 2, 0xc2b2ae35);
  h ^= h >>> 16;
  h = Math.imul(h, 0x7feb352d);
  h ^= h >>> 15;
  return h | 0;
}

function strHash(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h;
}
