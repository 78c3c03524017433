/*
 * DNS message (RFC 1035 §4.1):
 *   id(16) | QR(1) opcode(4) AA TC RD RA Z AD CD rcode(4) | qdcount(16) ancount(16) nscount(16) arcount(16)
 *   question: qname qtype(16) qclass(16)
 *   answer RR: name type(16) class(16) ttl(32) rdlength(16) rdata
 * Names are labels or 2-byte pointers (§4.1.4); pointers are followed at most
 * MAX_POINTERS times, so a loop of pointers ends as a malformed name, not a hang.
 */

export const DNS_PORT = 53;
export const QTYPE_A = 1;
export const QTYPE_CNAME = 5;
export const QTYPE_AAAA = 28;

const MAX_POINTERS = 32;
const MAX_NAME = 255;
const MAX_ANSWERS = 64;

export interface DnsMessage {
  id: number;
  isResponse: boolean;
  opcode: number;
  rcode: number;
  truncated: boolean;
  qname: string;
  qtype: number;
  /** A/AAAA addresses and CNAME targets, in answer order. */
  answers: string[];
}

export const QTYPE_NAMES: Record<number, string> = {
  1: 'A', 2: 'NS', 5: 'CNAME', 6: 'SOA', 12: 'PTR', 15: 'MX', 16: 'TXT', 28: 'AAAA', 33: 'SRV', 35: 'NAPTR',
  41: 'OPT', 43: 'DS', 46: 'RRSIG', 47: 'NSEC', 48: 'DNSKEY', 64: 'SVCB', 65: 'HTTPS', 99: 'SPF', 255: 'ANY', 257: 'CAA',
};

export const RCODE_NAMES: Record<number, string> = {
  0: 'NOERROR', 1: 'FORMERR', 2: 'SERVFAIL', 3: 'NXDOMAIN', 4: 'NOTIMP', 5: 'REFUSED',
};

/** Reads a (possibly compressed) name at o; returns [name, offset after the name in place] or null. */
export function readName(b: Uint8Array, start: number, msgStart: number, end: number): [string, number] | null {
  let o = start;
  let after = -1;
  let jumps = 0;
  let name = '';
  for (;;) {
    if (o >= end) return null;
    const len = b[o];
    if (len === 0) {
      if (after < 0) after = o + 1;
      break;
    }
    const kind = len & 0xc0;
    if (kind === 0xc0) {
      if (o + 1 >= end || ++jumps > MAX_POINTERS) return null;
      const ptr = msgStart + (((len & 0x3f) << 8) | b[o + 1]);
      if (after < 0) after = o + 2;
      o = ptr;
      continue;
    }
    if (kind !== 0) return null; // 0x40/0x80 label types (RFC 6891 §5) are obsolete
    if (o + 1 + len > end) return null;
    let label = '';
    for (let i = o + 1; i <= o + len; i++) {
      const c = b[i];
      label += c === 0x2e ? '\\.' : c > 0x20 && c < 0x7f ? String.fromCharCode(c) : `\\${c.toString().padStart(3, '0')}`;
    }
    name += name ? '.' + label : label;
    if (name.length > MAX_NAME * 4) return null;
    o += 1 + len;
  }
  return [name || '<Root>', after];
}

function ipv4(b: Uint8Array, o: number): string {
  return `${b[o]}.${b[o + 1]}.${b[o + 2]}.${b[o + 3]}`;
}

function ipv6(b: Uint8Array, o: number): string {
  const g: string[] = [];
  for (let i = 0; i < 16; i += 2) g.push(((b[o + i] << 8) | b[o + i + 1]).toString(16));
  // RFC 5952 §4.2.3: the longest run (≥ 2) of zero groups becomes "::".
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8;) {
    if (g[i] !== '0') { i++; continue; }
    let j = i;
    while (j < 8 && g[j] === '0') j++;
    if (j - i > bestLen) { best = i; bestLen = j - i; }
    i = j;
  }
  if (best < 0) return g.join(':');
  return `${g.slice(0, best).join(':')}::${g.slice(best + bestLen).join(':')}`;
}

/**
 * Parses the DNS message in b[off .. off+len). Returns null when the header or the
 * question is unreadable; answers that cannot be read are left out.
 */
export function parseDns(b: Uint8Array, off: number, len: number): DnsMessage | null {
  const end = off + len;
  if (len < 12 || end > b.length) return null;
  const flags = (b[off + 2] << 8) | b[off + 3];
  const qd = (b[off + 4] << 8) | b[off + 5];
  const an = (b[off + 6] << 8) | b[off + 7];
  const m: DnsMessage = {
    id: (b[off] << 8) | b[off + 1],
    isResponse: (flags & 0x8000) !== 0,
    opcode: (flags >> 11) & 0xf,
    rcode: flags & 0xf,
    truncated: (flags & 0x0200) !== 0,
    qname: '',
    qtype: 0,
    answers: [],
  };
  let o = off + 12;
  for (let q = 0; q < qd; q++) {
    const n = readName(b, o, off, end);
    if (!n || n[1] + 4 > end) return q === 0 ? null : m;
    if (q === 0) {
      m.qname = n[0];
      m.qtype = (b[n[1]] << 8) | b[n[1] + 1];
    }
    o = n[1] + 4;
  }
  if (qd === 0) return null;
  for (let a = 0; a < an && m.answers.length < MAX_ANSWERS; a++) {
    const n = readName(b, o, off, end);
    if (!n || n[1] + 10 > end) break;
    const p = n[1];
    const type = (b[p] << 8) | b[p + 1];
    const rdlen = (b[p + 8] << 8) | b[p + 9];
    const rd = p + 10;
    if (rd + rdlen > end) break;
    if (type === QTYPE_A && rdlen === 4) m.answers.push(ipv4(b, rd));
    else if (type === QTYPE_AAAA && rdlen === 16) m.answers.push(ipv6(b, rd));
    else if (type === QTYPE_CNAME) {
      const t = readName(b, rd, off, end);
      if (t) m.answers.push(t[0]);
    }
    o = rd + rdlen;
  }
  return m;
}
