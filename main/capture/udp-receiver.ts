/*
 * Cloud-TAP collector: receives mirrored traffic as UDP datagrams, as Azure virtual network
 * TAP and AWS traffic mirroring (VXLAN, 4789), GCP packet mirroring and AWS GWLB (GENEVE,
 * 6081) and MikroTik's sniffer (TZSP, 37008) send it. Plain UDP sockets: no privileges.
 *
 * Each datagram becomes a packet with synthesised outer headers
 *   Ethernet(14, zero MACs) | IPv4 (or IPv6) sender -> listening address | UDP sender port -> our port | datagram
 * so the ordinary decoders unwrap it and the inner conversation carries the tunnel metadata
 * (VNI, outer source = the sender). The spool keeps either these packets ("received", what
 * Wireshark shows for a capture on the collector) or the inner frames alone ("inner": clean
 * traffic for Snort/Suricata/Wireshark users).
 *
 * Two receive paths (docs/flows.md "Receiver"):
 *   tapscope-receive  the native program (receive-program.ts, native/tapscope-receive.c): its
 *                     own process reads the sockets with recvmmsg, synthesises the headers,
 *                     stamps kernel receive times and queues batches for this process in a
 *                     bounded queue; kernel drops (SO_MEMINFO), app drops (queue full) and
 *                     datagrams cut at the snap length are counted there.
 *   dgram             Node's sockets, one callback per datagram, on this thread (when the
 *                     program is not built, or TAPSCOPE_RECEIVER_BACKEND=dgram); kernel drops
 *                     from /proc/net/udp.
 */
import { createSocket, type Socket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { isIPv4, isIPv6 } from 'node:net';
import type { DecodeAs } from '../decode/decoder.js';
import { LINKTYPE_ETHERNET, LINKTYPE_RAW } from '../pcap/link-types.js';
import type { PacketRecord } from '../pcap/record.js';
import type { WriteRecord } from '../pcap/writer.js';
import { CaptureError } from './errors.js';
import type { CaptureEnd, SinkOptions } from './live-sink.js';
import { LiveSourceBase } from './live-source.js';
import { ReceiveProgram, receiveProgram } from './receive-program.js';

export type TapEncap = 'vxlan' | 'geneve' | 'tzsp';

export const DEFAULT_TAP_PORTS: Record<TapEncap, number> = { vxlan: 4789, geneve: 6081, tzsp: 37008 };

export interface ListenOptions extends SinkOptions {
  vxlan?: number[];
  geneve?: number[];
  tzsp?: number[];
  /** Address to bind (default 0.0.0.0; an IPv6 address listens on IPv6). */
  address?: string;
  /** What the spool keeps: the datagrams as received (default) or the inner frames. */
  save?: 'received' | 'inner';
  /** Socket receive buffer asked for, bytes (default 64 MiB; without root the kernel caps it at net.core.rmem_max). */
  receiveBufferSize?: number;
  /** Bytes the receive program may hold for the analysis before it drops datagrams (default 256 MiB). */
  queueBytes?: number;
  /** Bytes kept of each datagram (64 to 65535, default 65535); longer ones are cut and counted as truncated. */
  snaplen?: number;
}

export type ReceiverBackend = 'tapscope-receive' | 'dgram';

export const DEFAULT_RECEIVE_BUFFER = 64 << 20;

const ETH_HDR = 14;
const IP4_HDR = 20;
const IP6_HDR = 40;
const UDP_HDR = 8;
const MAX_DGRAM = 65535;
const ETHERTYPE_IPV4 = 0x0800;
const ETHERTYPE_IPV6 = 0x86dd;
const ETHERTYPE_TEB = 0x6558;

function parseIPv4(s: string, out: Uint8Array, at: number): void {
  const p = s.split('.');
  for (let i = 0; i < 4; i++) out[at + i] = Number(p[i]) & 0xff;
}

function parseIPv6(s: string, out: Uint8Array, at: number): void {
  let addr = s.replace(/%.*$/, '');
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(addr);
  if (v4) {
    const b = v4[1].split('.').map(Number);
    addr = addr.slice(0, v4.index) + `${((b[0] << 8) | b[1]).toString(16)}:${((b[2] << 8) | b[3]).toString(16)}`;
  }
  const [head, tail] = addr.includes('::') ? addr.split('::') : [addr, null];
  const h = head ? head.split(':') : [];
  const t = tail !== null && tail ? tail.split(':') : [];
  const groups = tail === null ? h : [...h, ...new Array(8 - h.length - t.length).fill('0'), ...t];
  for (let i = 0; i < 8; i++) {
    const g = parseInt(groups[i] ?? '0', 16) || 0;
    out[at + 2 * i] = g >> 8;
    out[at + 2 * i + 1] = g & 0xff;
  }
}

/** Where the inner frame starts in a tunnel payload, and its link type; null when there is none. */
export function innerFrame(encap: TapEncap, b: Uint8Array): { offset: number; linkType: number } | null {
  const off = innerOffset(encap, b, 0, b.length);
  return off < 0 ? null : { offset: off, linkType: innerLinkType };
}

/** The link type of the inner frame innerOffset() found last. */
let innerLinkType = LINKTYPE_ETHERNET;

/**
 * innerFrame() on b[start, end) without allocating (the receive path calls it per datagram):
 * the inner frame's offset from `start`, or -1; its link type in innerLinkType.
 */
function innerOffset(encap: TapEncap, b: Uint8Array, start: number, end: number): number {
  if (encap === 'vxlan') {
    // RFC 7348 §5: flags(8, I=0x08) reserved(24) VNI(24) reserved(8), then Ethernet.
    innerLinkType = LINKTYPE_ETHERNET;
    return end - start >= 8 + ETH_HDR && (b[start] & 0x08) ? 8 : -1;
  }
  const inner = innerFrameSlow(encap, b.subarray(start, end));
  if (!inner) return -1;
  innerLinkType = inner.linkType;
  return inner.offset;
}

function innerFrameSlow(encap: TapEncap, b: Uint8Array): { offset: number; linkType: number } | null {
  if (encap === 'vxlan') {
    // RFC 7348 §5: flags(8, I=0x08) reserved(24) VNI(24) reserved(8), then Ethernet.
    return b.length >= 8 + ETH_HDR && (b[0] & 0x08) ? { offset: 8, linkType: LINKTYPE_ETHERNET } : null;
  }
  if (encap === 'geneve') {
    // RFC 8926 §3.4: ver(2) optlen(6) | flags | protocol(16) | VNI(24) rsvd(8) | options.
    if (b.length < 8 || b[0] >> 6 !== 0) return null;
    const off = 8 + (b[0] & 0x3f) * 4;
    const proto = (b[2] << 8) | b[3];
    if (off > b.length) return null;
    if (proto === ETHERTYPE_TEB) return { offset: off, linkType: LINKTYPE_ETHERNET };
    if (proto === ETHERTYPE_IPV4 || proto === ETHERTYPE_IPV6) return { offset: off, linkType: LINKTYPE_RAW };
    return null;
  }
  // TZSP: version(8)=1 type(8) encapsulation(16) tagged fields ... END(1); encapsulation 1 = Ethernet.
  if (b.length < 5 || b[0] !== 1 || b[1] > 1 || ((b[2] << 8) | b[3]) !== 1) return null;
  let p = 4;
  while (p < b.length) {
    const tag = b[p];
    if (tag === 1) return p + 1 <= b.length ? { offset: p + 1, linkType: LINKTYPE_ETHERNET } : null;
    if (tag === 0) p++;
    else {
      if (p + 2 > b.length) return null;
      p += 2 + b[p + 1];
    }
  }
  return null;
}

/** /proc/net/udp{,6} "drops" for sockets bound to these ports (Linux), else null. */
function socketDrops(ports: Set<number>): number | null {
  let total = 0;
  let found = false;
  for (const f of ['/proc/net/udp', '/proc/net/udp6']) {
    let text: string;
    try {
      text = readFileSync(f, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols.length < 13) continue;
      const port = parseInt(cols[1].split(':')[1] ?? '', 16);
      if (!ports.has(port)) continue;
      found = true;
      total += Number(cols[cols.length - 1]) || 0;
    }
  }
  return found ? total : null;
}

interface Listener {
  encap: TapEncap;
  port: number;
  socket: Socket | null;
  /** Spool interface for "received" mode. */
  ifaceId: number;
  localAddr: string;
}

export class UdpTapReceiver extends LiveSourceBase {
  private listeners: Listener[] = [];
  private readonly buf = Buffer.alloc(ETH_HDR + IP6_HDR + UDP_HDR + MAX_DGRAM);
  private readonly rec: PacketRecord;
  private readonly save: WriteRecord;
  private innerIface: Record<number, number> = {};
  private byPort = new Map<number, Listener>();
  /** Datagrams whose inner frame could not be found (not the tunnel, damaged; "inner" mode saves nothing for them). */
  notTunnel = 0;
  /** Datagrams longer than the snap length (ListenOptions.snaplen), saved cut. */
  truncated = 0;
  backend: ReceiverBackend = 'dgram';
  /** The socket buffer the kernel granted (SO_RCVBUF as read back), null when unknown. */
  receiveBuffer: number | null = null;
  /** The buffer was forced past net.core.rmem_max (SO_RCVBUFFORCE: root or CAP_NET_ADMIN). */
  receiveBufferForced = false;
  /** Why the slower dgram path is used, when it was not asked for. */
  backendNote: string | null = null;
  private program: ReceiveProgram | null = null;
  private statsTimer: NodeJS.Timeout | null = null;
  private readonly t0ns = Date.now() * 1e6;
  private readonly h0 = process.hrtime.bigint();

  constructor(readonly options: ListenOptions) {
    const ports: { encap: TapEncap; port: number }[] = [];
    for (const encap of ['vxlan', 'geneve', 'tzsp'] as TapEncap[]) for (const port of options[encap] ?? []) ports.push({ encap, port });
    if (ports.length === 0) throw new CaptureError('EINVAL', 'nothing to listen for: give at least one of --vxlan, --geneve, --tzsp');
    for (const p of ports) if (!(p.port >= 0 && p.port <= 65535)) throw new CaptureError('EINVAL', `bad ${p.encap} port ${p.port}`);
    super({ ...options, label: options.label ?? `listen-${ports.map((p) => `${p.encap}${p.port}`).join('-')}` });
    this.rec = {
      index: 0, fileOffset: 0, data: this.buf, view: new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength), offset: 0,
      caplen: 0, origLen: 0, tsSec: 0, tsNsec: 0, ts: 0, linkType: LINKTYPE_ETHERNET, interfaceId: 0, comment: null,
    };
    this.save = { tsSec: 0, tsNsec: 0, caplen: 0, origLen: 0, data: this.buf, offset: 0, interfaceId: 0 };
    this.pending = ports;
  }

  private pending: { encap: TapEncap; port: number }[];

  /** The receive program's process id (null on the dgram path). */
  get receiverPid(): number | null {
    return this.program?.pid ?? null;
  }

  /** Bound ports (useful with port 0 in tests). */
  get ports(): { encap: TapEncap; port: number }[] {
    return this.listeners.map((l) => ({ encap: l.encap, port: l.port }));
  }

  /** Binds every port; rejects (and binds none) if one cannot be bound. */
  async start(): Promise<void> {
    const address = this.options.address ?? '0.0.0.0';
    if (!isIPv6(address) && !isIPv4(address)) {
      const err = new CaptureError('EINVAL', `bad listening address "${address}"`);
      this.finish('error', err);
      throw err;
    }
    const program = receiveProgram();
    if (!program && process.platform === 'linux' && process.env.TAPSCOPE_RECEIVER_BACKEND !== 'dgram') {
      this.backendNote = 'the receive program out/native/tapscope-receive was not built (npm run build needs a C compiler): receiving with Node dgram sockets, one datagram at a time, which drops above some tens of thousands of datagrams/s';
    }
    if (program) await this.startProgram(program, address);
    else await this.startDgram(address);
  }

  /** Sets up the spool interfaces and Decode As for the bound ports; runs before any packet. */
  private bound(ports: { encap: TapEncap; port: number }[], address: string, sockets: Socket[] | null): void {
    ports.forEach((p, i) => {
      const l: Listener = { encap: p.encap, port: p.port, socket: sockets?.[i] ?? null, ifaceId: -1, localAddr: address };
      if (this.options.save !== 'inner') {
        l.ifaceId = this.sink.addInterface({ linkType: LINKTYPE_ETHERNET, snaplen: 65535, name: `udp:${p.port}`, description: `${p.encap} feed received on ${address}:${p.port} (outer headers synthesised by Tapscope)`, tsUnitsPerSec: 1e9 });
      }
      this.listeners.push(l);
      this.byPort.set(p.port, l);
    });
    // Ports not registered for their tunnel (or picked by the system): tell the decoder, as
    // Wireshark's Decode As would.
    const decodeAs: DecodeAs[] = [...(this.options.decodeAs ?? [])];
    for (const l of this.listeners) if (DEFAULT_TAP_PORTS[l.encap] !== l.port) decodeAs.push({ table: 'udp', port: l.port, proto: l.encap });
    this.sink.setDecodeAs(decodeAs);
  }

  private async startProgram(exec: string, address: string): Promise<void> {
    const pending = this.pending;
    const rp = new ReceiveProgram(exec, {
      ports: pending.map((p) => p.port), address, receiveBufferSize: this.options.receiveBufferSize ?? DEFAULT_RECEIVE_BUFFER,
      queueBytes: this.options.queueBytes, snaplen: this.options.snaplen,
    }, {
      onReady: (ready) => {
        this.backend = 'tapscope-receive';
        this.receiveBuffer = ready.receiveBuffer;
        this.receiveBufferForced = ready.receiveBufferForced;
        this.bound(pending.map((p, i) => ({ encap: p.encap, port: ready.ports[i] })), address, null);
      },
      packet: (r) => {
        const d = r.data;
        const hdr = ETH_HDR + (d[r.offset + 12] === 0x86 ? IP6_HDR : IP4_HDR) + UDP_HDR;
        const l = this.byPort.get((d[r.offset + hdr - 6] << 8) | d[r.offset + hdr - 5]);
        if (l) this.deliver(l, r, hdr);
      },
      stats: (s) => {
        this.truncated = s.truncated ?? 0;
        this.sink.setKernelStats(s.received + s.droppedByKernel, s.droppedByKernel, null, s.droppedByApp);
      },
    });
    this.program = rp;
    try {
      await rp.start();
    } catch (e) {
      const err = e instanceof CaptureError ? e : new CaptureError('EHELPER', (e as Error).message);
      this.finish('error', err);
      throw err;
    }
    void rp.exited.then((err) => this.finish(err ? 'error' : 'stopped', err));
  }

  private async startDgram(address: string): Promise<void> {
    const v6 = isIPv6(address);
    const sockets: Socket[] = [];
    const ports: { encap: TapEncap; port: number }[] = [];
    try {
      for (const p of this.pending) {
        const socket = createSocket({ type: v6 ? 'udp6' : 'udp4', recvBufferSize: this.options.receiveBufferSize ?? DEFAULT_RECEIVE_BUFFER });
        await new Promise<void>((resolve, reject) => {
          socket.once('error', reject);
          socket.bind(p.port, address, () => {
            socket.off('error', reject);
            resolve();
          });
        });
        sockets.push(socket);
        ports.push({ encap: p.encap, port: socket.address().port });
        this.receiveBuffer = socket.getRecvBufferSize();
      }
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      for (const s of sockets) s.close();
      const ce = err.code === 'EADDRINUSE'
        ? new CaptureError('EADDRINUSE', `UDP port ${err.message.match(/:(\d+)$/)?.[1] ?? ''} is already in use on ${address} (another collector running?)`)
        : err.code === 'EACCES'
          ? new CaptureError('EPERM', `no permission to listen on that UDP port (${err.message}); ports below 1024 need privileges`)
          : new CaptureError(err.code ?? 'EIO', `cannot listen: ${err.message}`);
      this.finish('error', ce);
      throw ce;
    }
    this.bound(ports, address, sockets);
    for (const l of this.listeners) {
      l.socket!.on('message', (msg, rinfo) => this.onDatagram(l, msg, rinfo.address, rinfo.port));
      l.socket!.on('error', () => {}); // a receive error must not kill the collector
    }
    const bound = new Set(ports.map((p) => p.port));
    this.statsTimer = setInterval(() => {
      const drops = socketDrops(bound);
      this.sink.setKernelStats(this.sink.counters.packets + (drops ?? 0), drops, null, 0);
    }, 500);
  }

  private onDatagram(l: Listener, msg: Buffer, from: string, fromPort: number): void {
    const b = this.buf;
    const v6 = from.includes(':') && !/^::ffff:\d/.test(from);
    const ipHdr = v6 ? IP6_HDR : IP4_HDR;
    const hdr = ETH_HDR + ipHdr + UDP_HDR;
    const len = msg.length;
    const caplen = Math.min(len, this.options.snaplen ?? MAX_DGRAM);
    if (caplen < len) this.truncated++;
    // Ethernet: zero MACs, EtherType.
    b.fill(0, 0, 12);
    b.writeUInt16BE(v6 ? ETHERTYPE_IPV6 : ETHERTYPE_IPV4, 12);
    const ip = ETH_HDR;
    if (v6) {
      b.writeUInt32BE(0x60000000, ip);
      b.writeUInt16BE((UDP_HDR + len) & 0xffff, ip + 4);
      b[ip + 6] = 17;
      b[ip + 7] = 64;
      parseIPv6(from, b, ip + 8);
      parseIPv6(isIPv6(l.localAddr) ? l.localAddr : '::', b, ip + 24);
    } else {
      b[ip] = 0x45;
      b[ip + 1] = 0;
      b.writeUInt16BE(Math.min(0xffff, IP4_HDR + UDP_HDR + len), ip + 2);
      b.writeUInt32BE(0x00004000, ip + 4); // id 0, DF
      b[ip + 8] = 64;
      b[ip + 9] = 17;
      b.writeUInt16BE(0, ip + 10);
      parseIPv4(from.replace(/^::ffff:/, ''), b, ip + 12);
      parseIPv4(isIPv4(l.localAddr) ? l.localAddr : '0.0.0.0', b, ip + 16);
      let sum = 0;
      for (let i = 0; i < IP4_HDR; i += 2) sum += (b[ip + i] << 8) | b[ip + i + 1];
      while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
      b.writeUInt16BE(~sum & 0xffff, ip + 10);
    }
    const u = ip + ipHdr;
    b.writeUInt16BE(fromPort, u);
    b.writeUInt16BE(l.port, u + 2);
    b.writeUInt16BE(Math.min(0xffff, UDP_HDR + len), u + 4);
    b.writeUInt16BE(0, u + 6);
    msg.copy(b, hdr, 0, caplen);

    const ns = this.t0ns + Number(process.hrtime.bigint() - this.h0);
    const r = this.rec;
    r.tsSec = Math.floor(ns / 1e9);
    r.tsNsec = ns - r.tsSec * 1e9;
    r.ts = r.tsSec + r.tsNsec / 1e9;
    r.caplen = hdr + caplen;
    r.origLen = hdr + len;
    r.offset = 0;
    this.deliver(l, r, hdr);
  }

  /** One received datagram, outer headers (hdr bytes) synthesised, to the spool and the analysis. */
  private deliver(l: Listener, r: PacketRecord, hdr: number): void {
    r.interfaceId = l.ifaceId;
    r.index = this.sink.counters.packets;
    const innerOff = innerOffset(l.encap, r.data, r.offset + hdr, r.offset + r.caplen);
    if (innerOff < 0) this.notTunnel++;
    let save: WriteRecord | null = r;
    if (this.options.save === 'inner') {
      if (innerOff < 0) {
        save = null;
      } else {
        const lt = innerLinkType;
        const s = this.save;
        s.tsSec = r.tsSec;
        s.tsNsec = r.tsNsec;
        s.data = r.data;
        s.offset = r.offset + hdr + innerOff;
        s.caplen = r.caplen - hdr - innerOff;
        s.origLen = r.origLen - hdr - innerOff;
        s.interfaceId = this.innerIface[lt] ??= this.sink.addInterface({
          linkType: lt, snaplen: 65535, name: `inner-${lt === LINKTYPE_RAW ? 'ip' : 'ethernet'}`,
          description: 'inner frames of a cloud-TAP feed (tunnel headers removed by Tapscope)', tsUnitsPerSec: 1e9,
        });
        save = s;
      }
    }
    this.sink.packet(r, save);
  }

  private finish(reason: CaptureEnd['reason'], err: CaptureError | null): CaptureEnd {
    if (this.result) return this.result;
    if (this.statsTimer) clearInterval(this.statsTimer);
    if (this.backend === 'dgram') {
      const ports = new Set(this.listeners.map((l) => l.port));
      const drops = ports.size ? socketDrops(ports) : null;
      if (ports.size) this.sink.setKernelStats(this.sink.counters.packets + (drops ?? 0), drops, null, 0);
      for (const l of this.listeners) try { l.socket?.close(); } catch { /* closed */ }
    }
    const e = this.sink.finish(reason, err ? { code: err.code, message: err.summary } : null);
    return this.settle(e);
  }

  stop(): Promise<CaptureEnd> {
    // The program reads what its sockets hold before it exits (then finish() runs); the dgram
    // sockets deliver the datagrams already queued first.
    if (this.program) void this.program.stop();
    else setImmediate(() => this.finish('stopped', null));
    return this.ended;
  }
}
