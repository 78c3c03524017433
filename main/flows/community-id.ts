import { L4, type Frame } from '../decode/frame.js';

/*
 * Community ID flow hashing, version 1 (corelight/community-id-spec):
 *
 *   "1:" + base64(SHA1(seed(16, BE) · saddr · daddr · proto(8) · pad 0x00 · sport(16, BE) · dport(16, BE)))
 *
 * Addresses are 4 or 16 network-order bytes. The two endpoints are ordered so the smaller
 * (address bytes, then port) is the source: both directions of a flow hash the same. ICMP
 * and ICMPv6 use type/code as "ports": a type with a reply counterpart (echo 8 <-> 0, …)
 * becomes sport = type, dport = counterpart and is ordered like a two-way flow; any other
 * type is one-way, sport = type, dport = code, and is never reordered. Protocols without
 * ports (RSVP, …) hash addresses, protocol and the pad byte only. Ports are hashed only for
 * TCP, UDP, SCTP, ICMP and ICMPv6.
 */

export const IPPROTO_ICMP = 1;
export const IPPROTO_TCP = 6;
export const IPPROTO_UDP = 17;
export const IPPROTO_ICMPV6 = 58;
export const IPPROTO_SCTP = 132;

/** What the hash needs of a flow (or of one packet): protocol number, both endpoints. */
export interface FlowTuple {
  proto: number;
  srcIp: string;
  dstIp: string;
  /** Port, or the ICMP/ICMPv6 type. */
  srcPort: number;
  /** Port, or the ICMP/ICMPv6 code. */
  dstPort: number;
}

export interface CommunityIdOptions {
  /** 0..65535; default 0 (Suricata's and Zeek's default). */
  seed?: number;
  /** false: hex digest instead of base64 (the spec's "no base64" variant). */
  base64?: boolean;
}

/** ICMP (RFC 792, 950, 1256) request/reply pairs: type -> counterpart. */
const ICMP4_PAIRS = new Map<number, number>([
  [8, 0], [0, 8], // echo request / reply
  [13, 14], [14, 13], // timestamp
  [15, 16], [16, 15], // information
  [10, 9], [9, 10], // router solicitation / advertisement
  [17, 18], [18, 17], // address mask
]);

/** ICMPv6 (RFC 4443, 2710, 4861, 4620, 6275) request/reply pairs. */
const ICMP6_PAIRS = new Map<number, number>([
  [128, 129], [129, 128], // echo
  [130, 131], [131, 130], // multicast listener query / report
  [133, 134], [134, 133], // router solicitation / advertisement
  [135, 136], [136, 135], // neighbour solicitation / advertisement
  [139, 140], [140, 139], // node information query / response
  [144, 145], [145, 144], // home agent address discovery
]);

function hasPorts(proto: number): boolean {
  return proto === IPPROTO_TCP || proto === IPPROTO_UDP || proto === IPPROTO_SCTP || proto === IPPROTO_ICMP || proto === IPPROTO_ICMPV6;
}

/** Network-order bytes of a dotted-quad or RFC 4291 §2.2 IPv6 text address; null if neither. */
export function addressBytes(text: string): Uint8Array | null {
  if (text.includes(':')) return ipv6Bytes(text);
  return ipv4Bytes(text, new Uint8Array(4), 0);
}

/** Dotted quad to 4 octets at `at`; null unless exactly four decimal parts 0..255 (1-3 digits). Scans characters: it runs per exported flow. */
function ipv4Bytes(text: string, out: Uint8Array, at: number): Uint8Array | null {
  let part = 0;
  let digits = 0;
  let n = 0;
  for (let i = 0; i <= text.length; i++) {
    const c = i < text.length ? text.charCodeAt(i) : 46; // end of text closes the last part
    if (c === 46) {
      if (digits === 0 || n > 255 || part > 3) return null;
      out[at + part++] = n;
      digits = 0;
      n = 0;
    } else if (c >= 48 && c <= 57 && digits < 3) {
      n = n * 10 + (c - 48);
      digits++;
    } else return null;
  }
  return part === 4 ? out : null;
}

function ipv6Bytes(text: string): Uint8Array | null {
  const pct = text.indexOf('%'); // zone id (fe80::1%eth0) is not part of the address
  if (pct >= 0) text = text.slice(0, pct);
  const out = new Uint8Array(16);
  const halves = text.split('::');
  if (halves.length > 2) return null;
  const groups = (s: string): string[] => (s === '' ? [] : s.split(':'));
  const head = groups(halves[0]);
  const tail = halves.length === 2 ? groups(halves[1]) : [];
  // An embedded dotted quad (::ffff:1.2.3.4) fills the last two groups.
  const last = tail.length ? tail : head;
  let v4: string | null = null;
  if (last.length && last[last.length - 1].includes('.')) v4 = last.pop()!;
  const words = head.length + tail.length + (v4 ? 2 : 0);
  if (halves.length === 1 ? words !== 8 : words > 7) return null;
  const put = (list: string[], start: number): boolean => {
    for (let i = 0; i < list.length; i++) {
      if (!/^[0-9a-fA-F]{1,4}$/.test(list[i])) return false;
      const w = parseInt(list[i], 16);
      out[(start + i) * 2] = w >> 8;
      out[(start + i) * 2 + 1] = w & 0xff;
    }
    return true;
  };
  if (!put(head, 0)) return null;
  const tailStart = 8 - tail.length - (v4 ? 2 : 0);
  if (!put(tail, tailStart)) return null;
  if (v4 && !ipv4Bytes(v4, out, 12)) return null;
  return out;
}

function lessThan(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return 0;
}

/**
 * The Community ID v1 of a flow, or null when an address is not an IP address or the two
 * are of different families.
 */
export function communityId(t: FlowTuple, opts: CommunityIdOptions = {}): string | null {
  const seed = opts.seed ?? 0;
  let src = addressBytes(t.srcIp);
  let dst = addressBytes(t.dstIp);
  if (!src || !dst || src.length !== dst.length) return null;
  let sport = t.srcPort & 0xffff;
  let dport = t.dstPort & 0xffff;
  let oneWay = false;
  if (t.proto === IPPROTO_ICMP || t.proto === IPPROTO_ICMPV6) {
    const peer = (t.proto === IPPROTO_ICMP ? ICMP4_PAIRS : ICMP6_PAIRS).get(sport);
    if (peer === undefined) oneWay = true; // sport = type, dport = code as given
    else dport = peer;
  }
  const ports = hasPorts(t.proto);
  if (!oneWay) {
    const c = lessThan(src, dst);
    if (c > 0 || (c === 0 && ports && sport > dport)) {
      [src, dst] = [dst, src];
      [sport, dport] = [dport, sport];
    }
  }
  const n = hashInput(seed, src, dst, t.proto, ports, sport, dport);
  return '1:' + (opts.base64 === false ? sha1Hex(MSG, n) : sha1Base64(MSG, n));
}

/** The hash input of one flow (at most 2 + 32 + 2 + 4 octets), rewritten for each flow. */
const MSG = new Uint8Array(64);

/** Writes seed · src · dst · proto · 0 · [sport · dport] into MSG; returns its length. */
function hashInput(seed: number, src: Uint8Array, dst: Uint8Array, proto: number, ports: boolean, sport: number, dport: number): number {
  const buf = MSG;
  buf[0] = (seed >> 8) & 0xff;
  buf[1] = seed & 0xff;
  const n = src.length;
  for (let i = 0; i < n; i++) {
    buf[2 + i] = src[i];
    buf[2 + n + i] = dst[i];
  }
  let o = 2 + n * 2;
  buf[o++] = proto & 0xff;
  buf[o++] = 0;
  if (ports) {
    buf[o++] = sport >> 8;
    buf[o++] = sport & 0xff;
    buf[o++] = dport >> 8;
    buf[o++] = dport & 0xff;
  }
  return o;
}

// ---- SHA-1 (FIPS 180-4 §6.1) of a few octets ----
// Community ID hashes at most 40 octets per flow: one 64-octet block. node:crypto's
// createHash costs an object, a native call per step and a Buffer per digest, several
// times the hash itself at hundreds of thousands of connections; this is the plain
// algorithm over reused arrays (tested against createHash in test/engine/json-out.test.ts).

const W = new Int32Array(80);
const H = new Int32Array(5);
const BLOCK = new Uint8Array(64);
/** The last digest's 20 octets (sha1Into), as a Buffer for its base64/hex encoders. */
const DIGEST = Buffer.alloc(20);

/** SHA-1 of msg[0, len) into DIGEST. */
export function sha1Into(msg: Uint8Array, len: number): Buffer {
  H[0] = 0x67452301;
  H[1] = 0xefcdab89 | 0;
  H[2] = 0x98badcfe | 0;
  H[3] = 0x10325476;
  H[4] = 0xc3d2e1f0 | 0;
  const blocks = ((len + 8) >>> 6) + 1; // message, 0x80, zero padding, 64-bit bit length
  for (let b = 0; b < blocks; b++) {
    const start = b * 64;
    const full = start + 64 <= len ? 64 : len > start ? len - start : 0;
    for (let i = 0; i < full; i++) BLOCK[i] = msg[start + i];
    for (let i = full; i < 64; i++) BLOCK[i] = start + i === len ? 0x80 : 0;
    if (b === blocks - 1) {
      const bits = len * 8; // below 2^32 for any input this module hashes
      BLOCK[56] = 0;
      BLOCK[57] = 0;
      BLOCK[58] = 0;
      BLOCK[59] = Math.floor(bits / 0x100000000) & 0xff;
      BLOCK[60] = (bits >>> 24) & 0xff;
      BLOCK[61] = (bits >>> 16) & 0xff;
      BLOCK[62] = (bits >>> 8) & 0xff;
      BLOCK[63] = bits & 0xff;
    }
    sha1Block();
  }
  const out = DIGEST;
  for (let i = 0; i < 5; i++) {
    const h = H[i];
    out[i * 4] = h >>> 24;
    out[i * 4 + 1] = (h >>> 16) & 0xff;
    out[i * 4 + 2] = (h >>> 8) & 0xff;
    out[i * 4 + 3] = h & 0xff;
  }
  return out;
}

function sha1Block(): void {
  const w = W;
  const m = BLOCK;
  for (let i = 0; i < 16; i++) w[i] = (m[i * 4] << 24) | (m[i * 4 + 1] << 16) | (m[i * 4 + 2] << 8) | m[i * 4 + 3];
  for (let i = 16; i < 80; i++) {
    const x = w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16];
    w[i] = (x << 1) | (x >>> 31);
  }
  let a = H[0];
  let b = H[1];
  let c = H[2];
  let d = H[3];
  let e = H[4];
  let i = 0;
  for (; i < 20; i++) {
    const t = (((a << 5) | (a >>> 27)) + ((b & c) | (~b & d)) + e + 0x5a827999 + w[i]) | 0;
    e = d;
    d = c;
    c = (b << 30) | (b >>> 2);
    b = a;
    a = t;
  }
  for (; i < 40; i++) {
    const t = (((a << 5) | (a >>> 27)) + (b ^ c ^ d) + e + 0x6ed9eba1 + w[i]) | 0;
    e = d;
    d = c;
    c = (b << 30) | (b >>> 2);
    b = a;
    a = t;
  }
  for (; i < 60; i++) {
    const t = (((a << 5) | (a >>> 27)) + ((b & c) | (b & d) | (c & d)) + e + (0x8f1bbcdc | 0) + w[i]) | 0;
    e = d;
    d = c;
    c = (b << 30) | (b >>> 2);
    b = a;
    a = t;
  }
  for (; i < 80; i++) {
    const t = (((a << 5) | (a >>> 27)) + (b ^ c ^ d) + e + (0xca62c1d6 | 0) + w[i]) | 0;
    e = d;
    d = c;
    c = (b << 30) | (b >>> 2);
    b = a;
    a = t;
  }
  H[0] = (H[0] + a) | 0;
  H[1] = (H[1] + b) | 0;
  H[2] = (H[2] + c) | 0;
  H[3] = (H[3] + d) | 0;
  H[4] = (H[4] + e) | 0;
}

/** Base64 of SHA-1(msg[0, len)). */
export function sha1Base64(msg: Uint8Array, len: number): string {
  return sha1Into(msg, len).toString('base64');
}

function sha1Hex(msg: Uint8Array, len: number): string {
  return sha1Into(msg, len).toString('hex');
}

/**
 * Community ID v1 of a TCP (proto 6) or UDP (17) flow from its endpoints' address octets
 * (addressBytes), as communityId gives for the same flow; null when an address is not an IP
 * address or the families differ. For writers that parse each distinct address once.
 */
export function portFlowCommunityId(proto: number, src: Uint8Array | null, dst: Uint8Array | null, sport: number, dport: number, seed = 0): string | null {
  const d = portFlowDigest(proto, src, dst, sport, dport, seed);
  return d === null ? null : '1:' + d.toString('base64');
}

/**
 * The SHA-1 digest behind portFlowCommunityId (20 octets, in a buffer the next hash
 * overwrites), or null where that gives null.
 */
export function portFlowDigest(proto: number, src: Uint8Array | null, dst: Uint8Array | null, sport: number, dport: number, seed = 0): Buffer | null {
  if (!src || !dst || src.length !== dst.length) return null;
  return portFlowDigestAt(proto, src, 0, dst, 0, src.length, sport, dport, seed);
}

/**
 * portFlowDigest of addresses stored at offsets of octet arrays (`len` octets each, 4 or
 * 16): for writers that keep every address's octets in one array.
 */
export function portFlowDigestAt(
  proto: number, sa: Uint8Array, srcAt: number, da: Uint8Array, dstAt: number, len: number, sport: number, dport: number, seed = 0,
): Buffer {
  sport &= 0xffff;
  dport &= 0xffff;
  let c = 0;
  for (let i = 0; i < len && c === 0; i++) c = sa[srcAt + i] - da[dstAt + i];
  const swap = c > 0 || (c === 0 && sport > dport);
  const m = MSG;
  m[0] = (seed >> 8) & 0xff;
  m[1] = seed & 0xff;
  for (let i = 0; i < len; i++) {
    const s = sa[srcAt + i];
    const d = da[dstAt + i];
    m[2 + i] = swap ? d : s;
    m[2 + len + i] = swap ? s : d;
  }
  let o = 2 + len * 2;
  const lo = swap ? dport : sport;
  const hi = swap ? sport : dport;
  m[o++] = proto & 0xff;
  m[o++] = 0;
  m[o++] = lo >> 8;
  m[o++] = lo & 0xff;
  m[o++] = hi >> 8;
  m[o++] = hi & 0xff;
  return sha1Into(m, o);
}

/** Checks a --community-id-seed value: an integer 0..65535. */
export function parseCommunityIdSeed(text: string): number {
  if (!/^\d+$/.test(text) || Number(text) > 65535) throw new Error(`bad --community-id-seed ${JSON.stringify(text)}: an integer 0..65535`);
  return Number(text);
}

/** The Community ID of a `connections[]` entry (README): TCP or UDP, client to server. */
export function connectionCommunityId(c: { transport: string; client: { ip: string; port: number }; server: { ip: string; port: number } }, seed = 0): string | null {
  const proto = c.transport === 'tcp' ? IPPROTO_TCP : c.transport === 'udp' ? IPPROTO_UDP : -1;
  if (proto < 0) return null;
  return communityId({ proto, srcIp: c.client.ip, dstIp: c.server.ip, srcPort: c.client.port, dstPort: c.server.port }, { seed });
}

type ConnectionJsonLike = Parameters<typeof connectionCommunityId>[0] & { communityId?: string | null };

/** Re-hashes `connections[].communityId` (JSON objects) with another seed. */
export function reseedCommunityIds(connections: unknown[], seed: number): void {
  for (const c of connections as ConnectionJsonLike[]) c.communityId = connectionCommunityId(c, seed);
}

/**
 * The flow tuple of one decoded packet (innermost IP layer), or null for a non-IP packet or
 * a later fragment. SCTP ports are read from the common header (RFC 9260 §3.1), which the
 * decoder leaves undecoded. Allocates: for tests and the detail pane, not the hot path.
 */
export function frameFlowTuple(f: Frame): FlowTuple | null {
  if (f.ipVersion === 0 || (f.isFragment && f.fragOffset > 0)) return null;
  const t: FlowTuple = { proto: f.ipProto, srcIp: f.src, dstIp: f.dst, srcPort: 0, dstPort: 0 };
  if (f.l4 === L4.Tcp || f.l4 === L4.Udp) {
    t.srcPort = f.srcPort;
    t.dstPort = f.dstPort;
  } else if (f.l4 === L4.Icmp || f.l4 === L4.Icmpv6) {
    t.srcPort = f.icmpType;
    t.dstPort = f.icmpCode;
  } else if (f.ipProto === IPPROTO_SCTP) {
    if (f.end - f.off < 4) return null;
    t.srcPort = f.view.getUint16(f.off);
    t.dstPort = f.view.getUint16(f.off + 2);
  }
  return t;
}
