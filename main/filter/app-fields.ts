import { L4, type Frame } from '../decode/frame.js';
import { parseDns } from '../parsers/dns.js';
import type { Http2Frames } from './tcp-app-replay.js';
import { parseQuicHeader, QuicHeader } from '../decode/quic.js';

/*
 * Application-layer fields of one packet: a DNS message in a UDP datagram (or a whole one in
 * a TCP segment) and QUIC long headers are read from the packet's own payload; HTTP/1.x
 * messages and TLS records over TCP come from the connection's reassembled stream
 * (tcp-app-replay.ts), on the packet that completes them, as tshark shows them.
 */

const DNS_PORTS = new Set([53, 5353, 5355]);
const HTTP_METHODS = /^(GET|POST|HEAD|PUT|DELETE|OPTIONS|PATCH|TRACE|CONNECT|PROPFIND|PROPPATCH|MKCOL|COPY|MOVE|LOCK|UNLOCK|SEARCH|NOTIFY|SUBSCRIBE|UNSUBSCRIBE|M-SEARCH) (.+) (HTTP\/\d\.\d)$/;
const HTTP_STATUS = /^(HTTP\/\d\.\d) (\d{3})(?: (.*))?$/;

export interface HttpMessage {
  request: boolean; method: string | null; uri: string | null; version: string; code: number | null; phrase: string | null;
  headers: Map<string, string[]>;
}

export interface TlsRecords {
  contentTypes: number[]; versions: number[]; handshakeTypes: number[]; sni: string[]; alerts: number; alertLevels: number[]; alertDescs: number[];
}

export interface AppFields {
  dns: { id: number; response: boolean; rcode: number; opcode: number; qname: string; qtype: number; a: number[]; aaaa: string[]; cname: string[]; answers: number } | null;
  /** HTTP/1.x messages completed in this packet (pipelined ones: several). */
  http: HttpMessage[] | null;
  tls: TlsRecords | null;
  /** HTTP/2 frames completed in this packet (h2c, or decrypted TLS): type and stream id of each, header fields of blocks completed. */
  http2: Http2Frames | null;
  quic: { versions: number[] } | null;
}

const NONE: AppFields = Object.freeze({ dns: null, http: null, tls: null, http2: null, quic: null }) as AppFields;

/** The fields read from the packet's own payload (UDP; DNS over TCP in one segment). */
export function appFieldsOf(f: Frame): AppFields {
  if ((f.l4 !== L4.Tcp && f.l4 !== L4.Udp) || f.payloadCapLen <= 0) return NONE;
  const b = f.data;
  const off = f.payloadOff;
  const len = Math.min(f.payloadCapLen, f.payloadLen || f.payloadCapLen);
  const out: AppFields = { dns: null, http: null, tls: null, http2: null, quic: null };
  if (DNS_PORTS.has(f.srcPort) || DNS_PORTS.has(f.dstPort)) {
    if (f.l4 === L4.Udp) out.dns = dnsOf(b, off, len);
    else if (len > 2 && ((b[off] << 8) | b[off + 1]) <= len - 2) out.dns = dnsOf(b, off + 2, (b[off] << 8) | b[off + 1]);
    if (out.dns) return out;
  }
  if (f.l4 === L4.Udp) {
    // Any long header of a known version (the fixed bit may be 0: RFC 9287 grease_quic_bit).
    if (b[off] & 0x80 && len >= 7) out.quic = quicOf(b, off, off + len);
    return out;
  }
  return out;
}

const quicHeader = new QuicHeader();

/** RFC 9000 §12.2: long-header packets coalesced in one datagram, each with its version (a short header ends the run). */
function quicOf(b: Uint8Array, off: number, end: number): AppFields['quic'] {
  const versions: number[] = [];
  const h = quicHeader;
  for (let o = off; o < end && versions.length < 16 && parseQuicHeader(b, o, end, -1, h) && h.long; o = h.end) versions.push(h.version);
  return versions.length ? { versions } : null;
}

function dnsOf(b: Uint8Array, off: number, len: number): AppFields['dns'] {
  const m = parseDns(b, off, len) ?? dnsHeader(b, off, len);
  if (!m) return null;
  const a: number[] = [];
  const aaaa: string[] = [];
  const cname: string[] = [];
  for (const x of m.answers) {
    const v4 = /^(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(x);
    if (v4) a.push(((+v4[1] << 24) | (+v4[2] << 16) | (+v4[3] << 8) | +v4[4]) >>> 0);
    else if (x.includes(':')) aaaa.push(x);
    else cname.push(x);
  }
  return { id: m.id, response: m.isResponse, rcode: m.rcode, opcode: m.opcode, qname: m.qname, qtype: m.qtype, a, aaaa, cname, answers: m.answers.length };
}

/** RFC 1035 §4.1.1 header only (a message without a readable question: mDNS announcements). */
function dnsHeader(b: Uint8Array, off: number, len: number): ReturnType<typeof parseDns> {
  if (len < 12 || off + 12 > b.length) return null;
  const flags = (b[off + 2] << 8) | b[off + 3];
  return { id: (b[off] << 8) | b[off + 1], isResponse: (flags & 0x8000) !== 0, opcode: (flags >> 11) & 0xf, rcode: flags & 0xf, truncated: (flags & 0x200) !== 0, qname: '', qtype: 0, answers: [] };
}

/** An HTTP/1.x request or status line and its header fields (RFC 9112 §2-5) in b[off, off+len); null when it is not one. */
export function httpHead(b: Uint8Array, off: number, len: number): HttpMessage | null {
  // A request or status line starts with a capital letter; cheap reject for everything else.
  const c = b[off];
  if (c < 0x41 || c > 0x5a) return null;
  const end = off + len;
  let eol = -1;
  for (let k = off; k < end - 1; k++) if (b[k] === 0x0d && b[k + 1] === 0x0a) { eol = k; break; }
  if (eol < 0) return null;
  const first = latin1(b, off, eol);
  const req = HTTP_METHODS.exec(first);
  const st = req ? null : HTTP_STATUS.exec(first);
  if (!req && !st) return null;
  const headers = new Map<string, string[]>();
  let k = eol + 2;
  while (k < end - 1) {
    let e = -1;
    for (let j = k; j < end - 1; j++) if (b[j] === 0x0d && b[j + 1] === 0x0a) { e = j; break; }
    if (e < 0 || e === k) break;
    const line = latin1(b, k, e);
    const colon = line.indexOf(':');
    if (colon > 0) {
      const name = line.slice(0, colon).trim().toLowerCase();
      headers.set(name, [...(headers.get(name) ?? []), line.slice(colon + 1).trim()]);
    }
    k = e + 2;
  }
  if (req) return { request: true, method: req[1], uri: req[2], version: req[3], code: null, phrase: null, headers };
  return { request: false, method: null, uri: null, version: st![1], code: Number(st![2]), phrase: st![3] ?? '', headers };
}

function latin1(b: Uint8Array, from: number, to: number): string {
  let s = '';
  for (let k = from; k < to; k++) s += String.fromCharCode(b[k]);
  return s;
}

/** RFC 8446 §4.1.2 ClientHello, extension server_name (RFC 6066 §3). */
export function clientHelloSni(b: Uint8Array, from: number, to: number): string | null {
  let o = from + 2 + 32;
  if (o >= to) return null;
  o += 1 + b[o];
  if (o + 2 > to) return null;
  o += 2 + ((b[o] << 8) | b[o + 1]);
  if (o >= to) return null;
  o += 1 + b[o];
  if (o + 2 > to) return null;
  const extEnd = Math.min(to, o + 2 + ((b[o] << 8) | b[o + 1]));
  o += 2;
  while (o + 4 <= extEnd) {
    const type = (b[o] << 8) | b[o + 1];
    const elen = (b[o + 2] << 8) | b[o + 3];
    const body = o + 4;
    if (type === 0 && body + 5 <= extEnd && b[body + 2] === 0) {
      const nlen = (b[body + 3] << 8) | b[body + 4];
      if (body + 5 + nlen <= extEnd) return latin1(b, body + 5, body + 5 + nlen);
    }
    o = body + elen;
  }
  return null;
}
