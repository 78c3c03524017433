import type { Frame } from './frame.js';
import { Proto, UDP_PORT_QUIC } from './protocols.js';
import { registerDecoder, registerUdpPort } from './registry.js';

/*
 * QUIC packet headers (RFC 8999 invariants, RFC 9000 §17; v2 RFC 9369 §3.2).
 * Long header (first bit 1):
 *   1 | fixed(1) | type(2) | type-specific(4) | version(32) | DCID len(8) DCID | SCID len(8) SCID | ...
 *   Initial: token length(i) token, then Length(i) | packet number(8..32) | payload
 *   0-RTT, Handshake: Length(i) | packet number | payload       Retry: token | integrity tag(128)
 *   Version Negotiation: version 0, then supported versions(32)...
 * Short header (1-RTT, first bit 0): 0 | fixed(1) | spin(1) | reserved(2) | key phase(1) | pn len(2) | DCID | pn | payload
 * A datagram may hold several long-header packets, then at most one short-header packet
 * (coalescing, RFC 9000 §12.2). The short header does not carry the DCID length: it is the
 * length the endpoint chose, known from the handshake.
 *
 * The decoder only recognises QUIC on its port (f.top = Quic) and never marks a packet
 * malformed: UDP 443 also carries DTLS and other protocols. Headers are read on demand by
 * parseQuicHeader into a caller-owned QuicHeader (no allocation per packet).
 */

export const enum QuicType {
  Initial = 0,
  ZeroRtt = 1,
  Handshake = 2,
  Retry = 3,
  VersionNegotiation = 4,
  OneRtt = 5,
}

export const QUIC_TYPE_NAMES = ['Initial', '0-RTT', 'Handshake', 'Retry', 'Version Negotiation', '1-RTT'] as const;

const V1 = 0x00000001;
const V2 = 0x6b3343cf;

/** Versions whose header layout Tapscope knows: v1, v2, IETF drafts (0xff0000NN). */
export function isKnownQuicVersion(v: number): boolean {
  return v === V1 || v === V2 || (v >>> 8) === 0xff0000;
}

/** "1", "2", "draft-29", else "0x" + 8 hex digits (Wireshark prints the same number). */
export function quicVersionName(v: number): string {
  if (v === V1) return '1';
  if (v === V2) return '2';
  if ((v >>> 8) === 0xff0000) return `draft-${v & 0xff}`;
  return `0x${(v >>> 0).toString(16).padStart(8, '0')}`;
}

/** Long-header type bits to the packet type: v2 rotates them (RFC 9369 §3.2). */
export function longPacketType(version: number, bits: number): QuicType {
  if (version === V2) return ((bits + 3) & 3) as QuicType; // 1 Initial, 2 0-RTT, 3 Handshake, 0 Retry
  return bits as QuicType;
}

/** Variable-length integer (RFC 9000 §16): its size from the two high bits of the first byte. */
export function varintSize(first: number): number {
  return 1 << (first >> 6);
}

/** The varint at b[o] (the caller checked that varintSize bytes are there). Exact up to 2^53. */
export function readVarint(b: Uint8Array, o: number): number {
  const n = varintSize(b[o]);
  let v = b[o] & 0x3f;
  for (let i = 1; i < n; i++) v = v * 256 + b[o + i];
  return v;
}

/** One packet's header, overwritten by each parseQuicHeader call. Offsets index the buffer. */
export class QuicHeader {
  long = false;
  type: QuicType = QuicType.Initial;
  version = 0;
  dcidOff = 0;
  dcidLen = 0;
  scidOff = 0;
  scidLen = 0;
  tokenOff = 0;
  tokenLen = 0;
  /** Where the (protected) packet number starts; 0 for Retry and Version Negotiation. */
  pnOff = 0;
  /** Packet start and end (exclusive) in the buffer. */
  start = 0;
  end = 0;
  /** Short header spin bit (RFC 9000 §17.4), not header-protected. */
  spin = 0;
}

/**
 * Parses the packet at b[off, end) into h. shortDcidLen is the connection's DCID length for a
 * short header (-1 when unknown: the DCID is then taken as empty). Returns false when the bytes
 * are not a QUIC packet this parser can frame (unknown version, lengths past the end). The fixed
 * bit is not checked: peers that negotiated grease_quic_bit (RFC 9287) send it as 0; callers
 * that guess whether a datagram is QUIC at all check it (looksLikeQuicLong, decodeQuic).
 */
export function parseQuicHeader(b: Uint8Array, off: number, end: number, shortDcidLen: number, h: QuicHeader): boolean {
  if (off >= end) return false;
  const first = b[off];
  h.start = off;
  if ((first & 0x80) === 0) {
    const dl = shortDcidLen > 0 ? shortDcidLen : 0;
    if (off + 1 + dl > end) return false;
    h.long = false;
    h.type = QuicType.OneRtt;
    h.version = 0;
    h.dcidOff = off + 1;
    h.dcidLen = dl;
    h.scidOff = h.scidLen = h.tokenOff = h.tokenLen = 0;
    h.pnOff = off + 1 + dl;
    h.end = end;
    h.spin = (first >> 5) & 1;
    return true;
  }
  if (end - off < 7) return false;
  const version = ((b[off + 1] << 24) | (b[off + 2] << 16) | (b[off + 3] << 8) | b[off + 4]) >>> 0;
  let o = off + 5;
  const dcidLen = b[o++];
  if (o + dcidLen + 1 > end) return false;
  h.dcidOff = o;
  h.dcidLen = dcidLen;
  o += dcidLen;
  const scidLen = b[o++];
  if (o + scidLen > end) return false;
  h.scidOff = o;
  h.scidLen = scidLen;
  o += scidLen;
  h.long = true;
  h.version = version;
  h.spin = 0;
  h.tokenOff = h.tokenLen = 0;
  h.pnOff = 0;
  if (version === 0) {
    h.type = QuicType.VersionNegotiation;
    h.end = end;
    return true;
  }
  // v1 allows at most 20-byte connection ids (RFC 9000 §17.2); other versions may differ.
  if (!isKnownQuicVersion(version) || dcidLen > 20 || scidLen > 20) return false;
  h.type = longPacketType(version, (first >> 4) & 3);
  if (h.type === QuicType.Retry) {
    h.tokenOff = o;
    h.tokenLen = end - o - 16;
    h.end = end;
    return h.tokenLen >= 0;
  }
  if (h.type === QuicType.Initial) {
    if (o >= end || o + varintSize(b[o]) > end) return false;
    const tl = readVarint(b, o);
    o += varintSize(b[o]);
    if (o + tl > end) return false;
    h.tokenOff = o;
    h.tokenLen = tl;
    o += tl;
  }
  if (o >= end || o + varintSize(b[o]) > end) return false;
  const length = readVarint(b, o);
  o += varintSize(b[o]);
  if (o + length > end || length < 1) return false;
  h.pnOff = o;
  h.end = o + length;
  return true;
}

/**
 * Cheap test for QUIC on any port: a long header with the fixed bit and a known version, or a
 * Version Negotiation packet (version 0). Reads 5 bytes; allocates nothing.
 */
export function looksLikeQuicLong(b: Uint8Array, off: number, len: number): boolean {
  if (len < 7 || (b[off] & 0x80) === 0) return false;
  const version = ((b[off + 1] << 24) | (b[off + 2] << 16) | (b[off + 3] << 8) | b[off + 4]) >>> 0;
  if (version === 0) return true;
  return (b[off] & 0x40) !== 0 && isKnownQuicVersion(version);
}

/** udp.port 443: QUIC when the first byte has the fixed bit (RFC 9000 §17.2/§17.3). */
export function decodeQuic(f: Frame): Proto {
  if (f.end - f.off >= 1 && f.payloadCapLen > 0 && (f.data[f.off] & 0x40) !== 0) f.top = Proto.Quic;
  return Proto.None;
}

registerDecoder(Proto.Quic, decodeQuic);
registerUdpPort(UDP_PORT_QUIC, Proto.Quic);
