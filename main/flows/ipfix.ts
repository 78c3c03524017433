import type { FlowRecord } from './flow-records.js';
import { addressBytes } from './community-id.js';
import { ipv4Text, ipv6Text } from '../decode/addr.js';

/*
 * IPFIX (RFC 7011) encoder and reader for Tapscope's flow records.
 *
 * Message header (§3.1):
 *   version = 10 (16) | length (16)
 *   export time, epoch seconds (32)
 *   sequence number (32): data records sent in this observation domain before this message, mod 2^32
 *   observation domain id (32)
 * Set header (§3.3.2): set id (16: 2 template, 256+ data) | set length (16, header included)
 * Template record (§3.4.1): template id (16) | field count (16), then field specifiers (§3.2):
 *   E(1) information element id (15) | field length (16) [| enterprise number (32) when E = 1]
 * Variable-length fields (§7): length 65535 in the template; in the record one length
 * octet, or 255 followed by a 16-bit length.
 *
 * Over UDP (§10.3) a collector may restart and forget templates: they are resent at
 * the start and every `templateRefresh` messages (§8.4 "templateRefreshTimeout" by count).
 */

export const IPFIX_VERSION = 10;
export const SET_TEMPLATE = 2;
export const TEMPLATE_V4 = 256;
export const TEMPLATE_V6 = 257;
/** Variable length (RFC 7011 §7). */
export const VARLEN = 65535;
/**
 * Enterprise number of Tapscope's own elements: 32473, the number IANA reserves for
 * documentation and examples (RFC 5612), as Tapscope has none assigned. docs/flows.md.
 */
export const TAPSCOPE_PEN = 32473;
/** layer2SegmentId (IE 351) segment type in the top octet: VXLAN (IANA). GENEVE has none assigned: 0. */
export const L2SEG_VXLAN = 0x01;

type Kind = 'uint' | 'ipv4' | 'ipv6' | 'string';

export interface FieldSpec {
  name: string;
  ie: number;
  /** 0 for IANA elements. */
  pen: number;
  /** Octets, or VARLEN. */
  len: number;
  kind: Kind;
  value(r: FlowRecord): number | string | null;
}

const UNKNOWN_U32 = 0xffffffff;
const u = (name: string, ie: number, len: number, value: (r: FlowRecord) => number, pen = 0): FieldSpec => ({ name, ie, pen, len, kind: 'uint', value });
const str = (name: string, ie: number, value: (r: FlowRecord) => string | null): FieldSpec => ({ name, ie, pen: TAPSCOPE_PEN, len: VARLEN, kind: 'string', value });

/** layer2SegmentId: segment type in the top octet, the 24-bit VNI in the low octets. */
export function layer2SegmentId(r: FlowRecord): number {
  if (r.vni === null) return 0;
  return (r.vniType === 'vxlan' ? L2SEG_VXLAN : 0) * 2 ** 56 + r.vni;
}

/** IANA elements (RFC 7012 and the IANA registry) after the addresses, then Tapscope's. */
const COMMON: FieldSpec[] = [
  u('sourceTransportPort', 7, 2, (r) => r.srcPort),
  u('destinationTransportPort', 11, 2, (r) => r.dstPort),
  u('protocolIdentifier', 4, 1, (r) => r.proto),
  u('packetDeltaCount', 2, 8, (r) => r.packets),
  u('octetDeltaCount', 1, 8, (r) => r.octets),
  u('flowStartMilliseconds', 152, 8, (r) => r.startMs),
  u('flowEndMilliseconds', 153, 8, (r) => r.endMs),
  u('tcpControlBits', 6, 2, (r) => r.tcpFlags),
  u('flowEndReason', 136, 1, (r) => r.endReason),
  u('vlanId', 58, 2, (r) => r.vlanId ?? 0),
  u('layer2SegmentId', 351, 8, layer2SegmentId),
  u('tapscopeConnectionId', 1, 4, (r) => r.connectionId, TAPSCOPE_PEN),
  str('communityId', 2, (r) => r.communityId),
  u('handshakeRttMicroseconds', 3, 4, (r) => r.handshakeRttUs ?? UNKNOWN_U32, TAPSCOPE_PEN),
  u('retransmittedPackets', 4, 4, (r) => r.retransmissions, TAPSCOPE_PEN),
  u('captureLostSegments', 5, 4, (r) => r.lostSegments, TAPSCOPE_PEN),
  u('captureAckedUnseen', 6, 4, (r) => r.ackedUnseen, TAPSCOPE_PEN),
  str('httpHost', 7, (r) => r.httpHost),
  u('httpStatusCode', 8, 2, (r) => r.httpStatus ?? 0, TAPSCOPE_PEN),
  str('dnsQueryName', 9, (r) => r.dnsName),
  u('dnsResponseCode', 10, 1, (r) => r.dnsRcode ?? 255, TAPSCOPE_PEN),
  str('tlsServerName', 11, (r) => r.tlsSni),
];

export const FIELDS_V4: FieldSpec[] = [
  { name: 'sourceIPv4Address', ie: 8, pen: 0, len: 4, kind: 'ipv4', value: (r) => r.srcIp },
  { name: 'destinationIPv4Address', ie: 12, pen: 0, len: 4, kind: 'ipv4', value: (r) => r.dstIp },
  ...COMMON,
];
export const FIELDS_V6: FieldSpec[] = [
  { name: 'sourceIPv6Address', ie: 27, pen: 0, len: 16, kind: 'ipv6', value: (r) => r.srcIp },
  { name: 'destinationIPv6Address', ie: 28, pen: 0, len: 16, kind: 'ipv6', value: (r) => r.dstIp },
  ...COMMON,
];

/** Every element Tapscope sends, by (pen, ie): names for the reader. */
const KNOWN = new Map<string, FieldSpec>([...FIELDS_V4, ...FIELDS_V6].map((f) => [`${f.pen}:${f.ie}`, f]));

// ---------------------------------------------------------------- value writing (shared with NetFlow v9)

/** Writes an unsigned integer of 1, 2, 4 or 8 octets in network order (values up to 2^53). */
export function putUint(b: Buffer, o: number, len: number, v: number): void {
  if (len === 1) b[o] = v & 0xff;
  else if (len === 2) b.writeUInt16BE(v & 0xffff, o);
  else if (len === 4) b.writeUInt32BE(v >>> 0, o);
  else if (len === 8) {
    b.writeUInt32BE(Math.floor(v / 2 ** 32) >>> 0, o);
    b.writeUInt32BE(v >>> 0, o + 4);
  } else throw new Error(`unsupported integer length ${len}`);
}

export function getUint(b: Buffer, o: number, len: number): number {
  if (len === 1) return b[o];
  if (len === 2) return b.readUInt16BE(o);
  if (len === 4) return b.readUInt32BE(o);
  if (len === 8) return b.readUInt32BE(o) * 2 ** 32 + b.readUInt32BE(o + 4);
  let v = 0; // reduced-size encoding (RFC 7011 §6.2)
  for (let i = 0; i < len; i++) v = v * 256 + b[o + i];
  return v;
}

/** Network-order bytes of an address (zeros when the text is not an address of that family). */
export function putAddress(b: Buffer, o: number, len: 4 | 16, text: string): void {
  const bytes = addressBytes(text);
  if (bytes && bytes.length === len) b.set(bytes, o);
  else b.fill(0, o, o + len);
}

function addressText(b: Buffer, o: number, len: number): string {
  return len === 4 ? ipv4Text(b, o) : ipv6Text(b, o);
}

// ---------------------------------------------------------------- encoder

/**
 * Longest string element, octets: a DNS name's limit (RFC 1035 §2.3.4), and small enough
 * that a record with every string at the limit still fits one 1400-octet message.
 */
export const MAX_STRING = 255;

const NO_OCTETS = Buffer.alloc(0);

/** The UTF-8 bytes of `s`, cut to at most `max` octets at a character boundary. */
export function utf8Prefix(s: string, max: number): Buffer {
  if (s === '') return NO_OCTETS;
  const b = Buffer.from(s, 'utf8');
  if (b.length <= max) return b;
  let n = max;
  while (n > 0 && (b[n] & 0xc0) === 0x80) n--; // b[n] continues a character: cut before it
  return b.subarray(0, n);
}

export interface IpfixEncoderOptions {
  observationDomainId?: number;
  /** Largest message, octets (keep one UDP datagram under the path MTU). */
  maxMessage?: number;
  /** Resend the templates every this many messages (UDP); 0: only in the first message. */
  templateRefresh?: number;
}

/** Turns flow records into IPFIX messages. Keeps the sequence number across calls. */
export class IpfixEncoder {
  readonly domainId: number;
  readonly maxMessage: number;
  readonly templateRefresh: number;
  /** Data records sent so far (the next message's sequence number, mod 2^32). */
  dataRecords = 0;
  messages = 0;
  private sinceTemplates = Infinity;

  constructor(opts: IpfixEncoderOptions = {}) {
    this.domainId = opts.observationDomainId ?? 0;
    this.maxMessage = opts.maxMessage ?? 1400;
    this.templateRefresh = opts.templateRefresh ?? 16;
  }

  /** The next message carries the templates again (a live exporter's time-based refresh, §8.4). */
  resendTemplates(): void {
    this.sinceTemplates = Infinity;
  }

  /** The template set for both address families (§3.4.1). */
  templateSet(): Buffer {
    const parts: Buffer[] = [];
    for (const [id, fields] of [[TEMPLATE_V4, FIELDS_V4], [TEMPLATE_V6, FIELDS_V6]] as const) {
      const b = Buffer.alloc(4 + fields.reduce((n, f) => n + (f.pen ? 8 : 4), 0));
      b.writeUInt16BE(id, 0);
      b.writeUInt16BE(fields.length, 2);
      let o = 4;
      for (const f of fields) {
        b.writeUInt16BE(f.ie | (f.pen ? 0x8000 : 0), o);
        b.writeUInt16BE(f.len, o + 2);
        o += 4;
        if (f.pen) {
          b.writeUInt32BE(f.pen, o);
          o += 4;
        }
      }
      parts.push(b);
    }
    return withSetHeader(SET_TEMPLATE, Buffer.concat(parts));
  }

  /** One data record (no set header). */
  static record(r: FlowRecord): Buffer {
    const fields = r.ipVersion === 6 ? FIELDS_V6 : FIELDS_V4;
    const values = fields.map((f) => f.value(r));
    let n = 0;
    const strings: (Buffer | null)[] = fields.map((f, i) => {
      if (f.len !== VARLEN) {
        n += f.len;
        return null;
      }
      const s = utf8Prefix((values[i] as string | null) ?? '', MAX_STRING);
      n += (s.length < 255 ? 1 : 3) + s.length;
      return s;
    });
    const b = Buffer.allocUnsafe(n); // every octet is written below
    let o = 0;
    fields.forEach((f, i) => {
      const v = values[i];
      if (f.kind === 'ipv4' || f.kind === 'ipv6') putAddress(b, o, f.len as 4 | 16, v as string);
      else if (f.kind === 'uint') putUint(b, o, f.len, v as number);
      else {
        const s = strings[i]!;
        if (s.length < 255) b[o++] = s.length;
        else {
          b[o++] = 255;
          b.writeUInt16BE(s.length, o);
          o += 2;
        }
        s.copy(b, o);
        o += s.length;
        return;
      }
      o += f.len;
    });
    return b;
  }

  /**
   * Encodes records into messages no larger than maxMessage. Templates go in the first
   * message and every templateRefresh messages after; records of the two address
   * families go in separate data sets.
   */
  encode(records: FlowRecord[], exportTimeSec: number): Buffer[] {
    const out: Buffer[] = [];
    let i = 0;
    do {
      const sets: Buffer[] = [];
      let size = 16;
      if (this.sinceTemplates >= this.templateRefresh || this.messages === 0) {
        const t = this.templateSet();
        sets.push(t);
        size += t.length;
        this.sinceTemplates = 0;
      }
      const seq = this.dataRecords;
      let inMessage = 0;
      let setId = -1;
      let setRecords: Buffer[] = [];
      const closeSet = () => {
        if (setRecords.length) sets.push(withSetHeader(setId, Buffer.concat(setRecords)));
        setRecords = [];
      };
      while (i < records.length) {
        const rec = IpfixEncoder.record(records[i]);
        const id = records[i].ipVersion === 6 ? TEMPLATE_V6 : TEMPLATE_V4;
        const cost = rec.length + (id !== setId ? 4 : 0);
        if (size + cost > this.maxMessage && inMessage > 0) break; // an oversized record still goes, alone
        if (id !== setId) {
          closeSet();
          setId = id;
        }
        setRecords.push(rec);
        size += cost;
        this.dataRecords++;
        inMessage++;
        i++;
      }
      closeSet();
      const body = Buffer.concat(sets);
      const h = Buffer.alloc(16);
      h.writeUInt16BE(IPFIX_VERSION, 0);
      h.writeUInt16BE(16 + body.length, 2);
      h.writeUInt32BE(exportTimeSec >>> 0, 4);
      h.writeUInt32BE(seq >>> 0, 8);
      h.writeUInt32BE(this.domainId >>> 0, 12);
      out.push(Buffer.concat([h, body]));
      this.messages++;
      this.sinceTemplates++;
    } while (i < records.length);
    return out;
  }
}

function withSetHeader(id: number, body: Buffer): Buffer {
  const h = Buffer.alloc(4);
  h.writeUInt16BE(id, 0);
  h.writeUInt16BE(4 + body.length, 2);
  return Buffer.concat([h, body]);
}

// ---------------------------------------------------------------- reader

export interface IpfixMessage {
  exportTime: number;
  sequence: number;
  domainId: number;
  templates: number;
  /** Data records as element name (or "pen:ie") -> value. */
  records: Record<string, number | string>[];
}

export interface IpfixReadResult {
  messages: IpfixMessage[];
  /** Problems found (a damaged message ends reading; a set without template is skipped). */
  errors: string[];
  /** Data records whose message sequence number did not follow on (RFC 7011 §3.1). */
  sequenceGaps: number;
}

/**
 * Reads a stream of IPFIX messages (an RFC 5655 file, or datagrams concatenated). Never
 * throws: a malformed message is reported in `errors` and reading stops there.
 */
export function readIpfix(buf: Buffer): IpfixReadResult {
  const templates = new Map<string, { ie: number; pen: number; len: number }[]>();
  const res: IpfixReadResult = { messages: [], errors: [], sequenceGaps: 0 };
  const expected = new Map<number, number>();
  let off = 0;
  while (off < buf.length) {
    if (buf.length - off < 16) {
      res.errors.push(`offset ${off}: ${buf.length - off} trailing octets, not a message header`);
      break;
    }
    const version = buf.readUInt16BE(off);
    const len = buf.readUInt16BE(off + 2);
    if (version !== IPFIX_VERSION || len < 16 || off + len > buf.length) {
      res.errors.push(`offset ${off}: bad message header (version ${version}, length ${len})`);
      break;
    }
    const m: IpfixMessage = { exportTime: buf.readUInt32BE(off + 4), sequence: buf.readUInt32BE(off + 8), domainId: buf.readUInt32BE(off + 12), templates: 0, records: [] };
    const want = expected.get(m.domainId);
    if (want !== undefined && want !== m.sequence) res.sequenceGaps++;
    const end = off + len;
    let s = off + 16;
    while (s + 4 <= end) {
      const setId = buf.readUInt16BE(s);
      const setLen = buf.readUInt16BE(s + 2);
      if (setLen < 4 || s + setLen > end) {
        res.errors.push(`offset ${s}: bad set length ${setLen}`);
        break;
      }
      const setEnd = s + setLen;
      let p = s + 4;
      if (setId === SET_TEMPLATE) {
        while (p + 4 <= setEnd) {
          const id = buf.readUInt16BE(p);
          const count = buf.readUInt16BE(p + 2);
          p += 4;
          const fields: { ie: number; pen: number; len: number }[] = [];
          for (let k = 0; k < count && p + 4 <= setEnd; k++) {
            const raw = buf.readUInt16BE(p);
            const flen = buf.readUInt16BE(p + 2);
            p += 4;
            let pen = 0;
            if (raw & 0x8000) {
              pen = buf.readUInt32BE(p);
              p += 4;
            }
            fields.push({ ie: raw & 0x7fff, pen, len: flen });
          }
          templates.set(`${m.domainId}/${id}`, fields);
          m.templates++;
        }
      } else if (setId >= 256) {
        const t = templates.get(`${m.domainId}/${setId}`);
        if (!t) res.errors.push(`offset ${s}: data set ${setId} before its template (skipped)`);
        else {
          for (;;) {
            const r = readRecord(buf, p, setEnd, t);
            if (!r || r.next === p) break; // end of set, or a template of zero-length fields
            m.records.push(r.values);
            p = r.next;
          }
        }
      }
      s = setEnd;
    }
    expected.set(m.domainId, (m.sequence + m.records.length) >>> 0);
    res.messages.push(m);
    off = end;
  }
  return res;
}

function readRecord(buf: Buffer, p: number, end: number, t: { ie: number; pen: number; len: number }[]): { values: Record<string, number | string>; next: number } | null {
  const values: Record<string, number | string> = {};
  for (const f of t) {
    let len = f.len;
    if (len === VARLEN) {
      if (p >= end) return null;
      len = buf[p++];
      if (len === 255) {
        if (p + 2 > end) return null;
        len = buf.readUInt16BE(p);
        p += 2;
      }
    }
    if (p + len > end) return null; // padding or a cut record
    const spec = KNOWN.get(`${f.pen}:${f.ie}`);
    const name = spec?.name ?? `${f.pen}:${f.ie}`;
    if (spec?.kind === 'ipv4' || spec?.kind === 'ipv6') values[name] = addressText(buf, p, len);
    else if (spec?.kind === 'string') values[name] = buf.toString('utf8', p, p + len);
    else values[name] = len <= 8 ? getUint(buf, p, len) : buf.toString('hex', p, p + len);
    p += len;
  }
  if (t.length === 0) return null;
  return { values, next: p };
}
