import type { Operand } from './parser.js';

/*
 * Field types and how a literal is read for each, as tshark 4.0 reads them:
 * integers in decimal, 0x hex, 0 octal, 0b binary; booleans 1/0/True/False/TRUE/FALSE (any
 * other number: non-zero is true); IPv4 dotted quads and IPv6 text, both with an optional
 * /prefix; MAC addresses with ':', '-' or '.' separators; strings quoted or as a bare word.
 * IPv4 values are compared as unsigned 32-bit numbers, IPv6 as 32 lower-case hex digits,
 * MACs as "aa:bb:cc:dd:ee:ff".
 */

export type FieldType = 'uint' | 'int' | 'bool' | 'float' | 'ipv4' | 'ipv6' | 'ether' | 'string' | 'protocol' | 'none';

export type Value = number | string;

/** A literal read for a field type: a value, or an address with a prefix length. */
export interface Literal {
  value: Value;
  /** Prefix bits for an address literal (32 / 128 when none was given). */
  prefix: number;
  /** The operand it came from (for messages). */
  from: Operand;
}

export class FilterValueError extends Error {
  override name = 'FilterValueError';
  constructor(message: string, readonly operand: Operand) {
    super(message);
  }
}

const TYPE_TEXT: Record<FieldType, string> = {
  uint: 'Unsigned integer', int: 'Signed integer', bool: 'Boolean', float: 'Floating point number', ipv4: 'IPv4 address',
  ipv6: 'IPv6 address', ether: 'Ethernet or other MAC address', string: 'Character string', protocol: 'Protocol', none: 'Label',
};

export function typeText(t: FieldType): string {
  return TYPE_TEXT[t];
}

function integer(o: Operand): number | null {
  if (o.kind !== 'word') return null;
  const m = /^([+-]?)(0x[0-9a-f]+|0b[01]+|0[0-7]*|[1-9][0-9]*)$/i.exec(o.text);
  if (!m) return null;
  const body = m[2];
  let v: number;
  if (/^0x/i.test(body)) v = parseInt(body.slice(2), 16);
  else if (/^0b/i.test(body)) v = parseInt(body.slice(2), 2);
  else if (body.length > 1 && body[0] === '0') v = parseInt(body.slice(1), 8);
  else v = Number(body);
  return m[1] === '-' ? -v : v;
}

export function ipv4Number(text: string): number | null {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
  if (!m) return null;
  let v = 0;
  for (let k = 1; k <= 4; k++) {
    const b = Number(m[k]);
    if (b > 255) return null;
    v = v * 256 + b;
  }
  return v;
}

/** IPv6 text (with :: and an embedded IPv4 tail) as 32 hex digits, or null. */
export function ipv6Hex(text: string): string | null {
  if (!/^[0-9a-fA-F:.]+$/.test(text) || !text.includes(':')) return null;
  let t = text;
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(t);
  if (v4) {
    const n = ipv4Number(v4[1]);
    if (n === null) return null;
    t = t.slice(0, -v4[1].length) + `${(n >>> 16).toString(16)}:${(n & 0xffff).toString(16)}`;
  }
  const halves = t.split('::');
  if (halves.length > 2) return null;
  const part = (s: string): string[] | null => {
    if (s === '') return [];
    const g = s.split(':');
    return g.every((x) => /^[0-9a-fA-F]{1,4}$/.test(x)) ? g : null;
  };
  const a = part(halves[0]);
  const b = halves.length === 2 ? part(halves[1]) : [];
  if (!a || !b) return null;
  const fill = 8 - a.length - b.length;
  if (halves.length === 2 ? fill < 1 : fill !== 0) return null;
  return [...a, ...Array<string>(fill).fill('0'), ...b].map((g) => g.toLowerCase().padStart(4, '0')).join('');
}

function ether(text: string): string | null {
  const hex = text.replace(/[:.-]/g, '');
  if (!/^[0-9a-fA-F]{12}$/.test(hex)) return null;
  const seps = /^([0-9a-f]{2}[:-]){5}[0-9a-f]{2}$/i.test(text) || /^([0-9a-f]{4}\.){2}[0-9a-f]{4}$/i.test(text) || /^[0-9a-f]{12}$/i.test(text);
  if (!seps) return null;
  return hex.toLowerCase().match(/../g)!.join(':');
}

/** Names a field's values may be written as (value strings), e.g. dns.qry.type A. */
export type ValueNames = Record<string, number>;

/** Reads operand `o` as a value of `type` for the field `field`; throws FilterValueError with tshark's wording. */
export function readLiteral(o: Operand, type: FieldType, field: string, names?: ValueNames): Literal {
  const bad = (why: string): never => {
    throw new FilterValueError(why, o);
  };
  switch (type) {
    case 'uint':
    case 'int': {
      if (o.kind === 'string') bad(`${typeText(type)} cannot be converted from a string ("${o.text}").`);
      const v = integer(o) ?? (names ? names[o.text] : undefined) ?? null;
      if (v === null) bad(names ? `"${o.text}" cannot be found among the possible values for ${field}.` : `"${o.text}" is not a valid number.`);
      if (type === 'uint' && v! < 0) bad(`"${o.text}" is out of range for an unsigned integer.`);
      return { value: v!, prefix: 0, from: o };
    }
    case 'bool': {
      if (o.kind === 'word' && /^(True|TRUE)$/.test(o.text)) return { value: 1, prefix: 0, from: o };
      if (o.kind === 'word' && /^(False|FALSE)$/.test(o.text)) return { value: 0, prefix: 0, from: o };
      const v = o.kind === 'word' ? integer(o) : null;
      if (v === null) bad(`"${o.text}" cannot be found among the possible values for ${field}.`);
      return { value: v !== 0 ? 1 : 0, prefix: 0, from: o };
    }
    case 'float': {
      if (o.kind === 'string') bad(`${typeText(type)} cannot be converted from a string ("${o.text}").`);
      const iv = integer(o);
      if (iv !== null) return { value: iv, prefix: 0, from: o };
      if (!/^[+-]?\d+(\.\d*)?$/.test(o.text)) bad(`"${o.text}" is not a valid number.`);
      return { value: Number(o.text), prefix: 0, from: o };
    }
    case 'ipv4': {
      if (o.kind === 'string') bad(`IPv4 address cannot be converted from a string ("${o.text}").`);
      const [addr, bits, more] = o.text.split('/');
      if (more !== undefined) bad(`"${o.text}" is not a valid IPv4 address.`);
      const v = ipv4Number(addr);
      if (v === null) bad(`"${addr}" is not a valid IPv4 address (host names are not resolved).`);
      let prefix = 32;
      if (bits !== undefined) {
        if (!/^\d{1,3}$/.test(bits)) bad(`"${bits}" is not a valid prefix length.`);
        prefix = Number(bits);
        if (prefix > 32) bad(`Netmask bits in a CIDR IPv4 address should be <= 32, not ${prefix}`);
      }
      return { value: v!, prefix, from: o };
    }
    case 'ipv6': {
      if (o.kind === 'string') bad(`IPv6 address cannot be converted from a string ("${o.text}").`);
      const slash = o.text.lastIndexOf('/');
      const addr = slash >= 0 ? o.text.slice(0, slash) : o.text;
      const v = ipv6Hex(addr);
      if (v === null) bad(`"${addr}" is not a valid IPv6 address (host names are not resolved).`);
      let prefix = 128;
      if (slash >= 0) {
        const bits = o.text.slice(slash + 1);
        if (!/^\d{1,3}$/.test(bits)) bad(`"${bits}" is not a valid prefix length.`);
        prefix = Number(bits);
        if (prefix > 128) bad(`Prefix in a CIDR IPv6 address should be <= 128, not ${prefix}`);
      }
      return { value: v!, prefix, from: o };
    }
    case 'ether': {
      const v = ether(o.text);
      if (v === null) bad(`"${o.text}" is not a valid hardware address.`);
      return { value: v!, prefix: 0, from: o };
    }
    case 'string':
      return { value: o.text, prefix: 0, from: o };
    default:
      return bad(`${field} cannot be compared with a value: it can only be tested for presence.`);
  }
}

/** Does address value v (IPv4 number or IPv6 hex) fall in lit's prefix? */
export function inPrefix(v: Value, lit: Literal, type: 'ipv4' | 'ipv6'): boolean {
  if (type === 'ipv4') {
    if (lit.prefix >= 32) return v === lit.value;
    if (lit.prefix === 0) return true;
    const shift = 32 - lit.prefix;
    return Math.floor((v as number) / 2 ** shift) === Math.floor((lit.value as number) / 2 ** shift);
  }
  if (lit.prefix >= 128) return v === lit.value;
  const full = lit.prefix >> 2;
  const a = v as string;
  const b = lit.value as string;
  if (a.slice(0, full) !== b.slice(0, full)) return false;
  const rest = lit.prefix & 3;
  if (!rest) return true;
  const mask = (0xf << (4 - rest)) & 0xf;
  return (parseInt(a[full], 16) & mask) === (parseInt(b[full], 16) & mask);
}
