import { QTYPE_NAMES, readName } from '../../parsers/dns.js';
import { ipv4Text, ipv6Text } from '../../decode/addr.js';

/*
 * The Info column of a DNS, mDNS or LLMNR message as tshark writes it (packet-dns.c):
 *   "<opcode text>[ response] 0x<id>[ <rcode text>]" then " TYPE name" per question, then per
 *   record of the answer, authority and additional sections " TYPE[, cache flush] rdata",
 *   rdata being the address, target name, SOA primary server, MX preference and exchange or
 *   SRV priority weight port target (nothing for other types). mDNS questions add
 *   ', "QM" question' or ', "QU" question' (the unicast-response bit).
 * Reads the message in place; stops at the first record it cannot read (what was read stays).
 */

const OPCODE_TEXT: Record<number, string> = { 0: 'Standard query', 1: 'Inverse query', 2: 'Server status request', 4: 'Zone change notification', 5: 'Dynamic update' };
const RCODE_TEXT: Record<number, string> = { 1: 'Format error', 2: 'Server failure', 3: 'No such name', 4: 'Not implemented', 5: 'Refused' };
const MAX_RECORDS = 256;

const T_A = 1, T_NS = 2, T_CNAME = 5, T_SOA = 6, T_PTR = 12, T_MX = 15, T_AAAA = 28, T_SRV = 33, T_NSEC = 47;

function typeName(t: number): string {
  return QTYPE_NAMES[t] ?? `Unknown (${t})`;
}

const u16 = (b: Uint8Array, o: number): number => (b[o] << 8) | b[o + 1];

/** Info text of the DNS message in b[off, off+len); null when even the header is unreadable. */
export function dnsInfo(b: Uint8Array, off: number, len: number, mdns: boolean): string | null {
  const end = Math.min(b.length, off + len);
  if (end - off < 12) return null;
  const flags = u16(b, off + 2);
  const opcode = (flags >> 11) & 0xf;
  const rcode = flags & 0xf;
  let info = `${OPCODE_TEXT[opcode] ?? `Unknown operation (${opcode})`}${flags & 0x8000 ? ' response' : ''} 0x${u16(b, off).toString(16).padStart(4, '0')}`;
  if (flags & 0x8000 && rcode !== 0) info += ` ${RCODE_TEXT[rcode] ?? `Unknown error (${rcode})`}`;
  const qd = u16(b, off + 4);
  const rr = u16(b, off + 6) + u16(b, off + 8) + u16(b, off + 10);
  let o = off + 12;
  for (let q = 0; q < qd && q < MAX_RECORDS; q++) {
    const n = readName(b, o, off, end);
    if (!n || n[1] + 4 > end) return info;
    info += ` ${typeName(u16(b, n[1]))} ${n[0]}`;
    if (mdns) info += u16(b, n[1] + 2) & 0x8000 ? ', "QU" question' : ', "QM" question';
    o = n[1] + 4;
  }
  for (let r = 0; r < rr && r < MAX_RECORDS; r++) {
    const n = readName(b, o, off, end);
    if (!n || n[1] + 10 > end) return info;
    const p = n[1];
    const type = u16(b, p);
    const rd = p + 10;
    const rdEnd = rd + u16(b, p + 8);
    if (rdEnd > end) return info;
    info += ` ${typeName(type)}`;
    if (mdns && type !== 41 && u16(b, p + 2) & 0x8000) info += ', cache flush';
    const text = rdataText(b, type, rd, rdEnd, off, end);
    if (text !== null) info += ` ${text}`;
    o = rdEnd;
  }
  return info;
}

function rdataText(b: Uint8Array, type: number, rd: number, rdEnd: number, msg: number, end: number): string | null {
  const name = (o: number): string | null => readName(b, o, msg, end)?.[0] ?? null;
  switch (type) {
    case T_A: return rdEnd - rd === 4 ? ipv4Text(b, rd) : null;
    case T_AAAA: return rdEnd - rd === 16 ? ipv6Text(b, rd) : null;
    case T_NS: case T_CNAME: case T_PTR: case T_SOA: case T_NSEC: return name(rd);
    case T_MX: {
      const x = rdEnd - rd >= 3 ? name(rd + 2) : null;
      return x === null ? null : `${u16(b, rd)} ${x}`;
    }
    case T_SRV: {
      const t = rdEnd - rd >= 7 ? name(rd + 6) : null;
      return t === null ? null : `${u16(b, rd)} ${u16(b, rd + 2)} ${u16(b, rd + 4)} ${t}`;
    }
    default: return null;
  }
}
