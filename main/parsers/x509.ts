/*
 * Just enough DER (X.690) to read an X.509 certificate's names and validity (RFC 5280 §4.1):
 *   Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signature }
 *   TBSCertificate ::= SEQUENCE { [0] version OPTIONAL, serialNumber, signature,
 *                                 issuer Name, validity { notBefore, notAfter }, subject Name, ... }
 * Every read is bounds-checked; anything unexpected gives null.
 */

export interface CertificateInfo {
  subject: string;
  issuer: string;
  /** ISO 8601 (UTC). */
  notBefore: string;
  notAfter: string;
}

interface Tlv {
  tag: number;
  start: number; // first content byte
  end: number; // one past the last content byte
}

function tlv(b: Uint8Array, o: number, limit: number): Tlv | null {
  if (o + 2 > limit) return null;
  const tag = b[o];
  if ((tag & 0x1f) === 0x1f) return null; // high tag numbers do not occur in these fields
  let len = b[o + 1];
  let p = o + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4 || p + n > limit) return null;
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + b[p + i];
    p += n;
  }
  if (p + len > limit) return null;
  return { tag, start: p, end: p + len };
}

const SEQUENCE = 0x30;
const SET = 0x31;
const OID = 0x06;
const UTC_TIME = 0x17;
const GENERALIZED_TIME = 0x18;

/** RFC 4514 §3 short names for the usual attribute types. */
const ATTR_NAMES: Record<string, string> = {
  '2.5.4.3': 'CN', '2.5.4.6': 'C', '2.5.4.7': 'L', '2.5.4.8': 'ST', '2.5.4.10': 'O', '2.5.4.11': 'OU',
  '2.5.4.5': 'serialNumber', '2.5.4.9': 'street', '2.5.4.15': 'businessCategory', '2.5.4.17': 'postalCode',
  '0.9.2342.19200300.100.1.25': 'DC', '1.2.840.113549.1.9.1': 'emailAddress',
  '1.3.6.1.4.1.311.60.2.1.3': 'jurisdictionC', '1.3.6.1.4.1.311.60.2.1.2': 'jurisdictionST',
};

function oidText(b: Uint8Array, s: number, e: number): string {
  if (s >= e) return '';
  const parts: number[] = [Math.floor(b[s] / 40), b[s] % 40];
  let v = 0;
  for (let i = s + 1; i < e; i++) {
    v = v * 128 + (b[i] & 0x7f);
    if ((b[i] & 0x80) === 0) {
      parts.push(v);
      v = 0;
    }
  }
  return parts.join('.');
}

function stringValue(b: Uint8Array, t: Tlv): string {
  const bytes = Buffer.from(b.buffer, b.byteOffset + t.start, t.end - t.start);
  if (t.tag === 0x1e) return bytes.length % 2 === 0 ? Buffer.from(bytes).swap16().toString('utf16le') : ''; // BMPString (UTF-16BE)
  return bytes.toString(t.tag === 0x0c ? 'utf8' : 'latin1');
}

/** Name ::= SEQUENCE OF SET OF { type OID, value } as "CN=a, O=b" in certificate order. */
function nameText(b: Uint8Array, t: Tlv): string | null {
  const parts: string[] = [];
  for (let o = t.start; o < t.end;) {
    const set = tlv(b, o, t.end);
    if (!set || set.tag !== SET) return null;
    for (let p = set.start; p < set.end;) {
      const atv = tlv(b, p, set.end);
      if (!atv || atv.tag !== SEQUENCE) return null;
      const oid = tlv(b, atv.start, atv.end);
      if (!oid || oid.tag !== OID) return null;
      const val = tlv(b, oid.end, atv.end);
      if (!val) return null;
      const id = oidText(b, oid.start, oid.end);
      parts.push(`${ATTR_NAMES[id] ?? id}=${stringValue(b, val)}`);
      p = atv.end;
    }
    o = set.end;
  }
  return parts.join(', ');
}

/** UTCTime YYMMDDHHMM[SS]Z (years 50-99 are 19xx, RFC 5280 §4.1.2.5.1) or GeneralizedTime. */
function timeText(b: Uint8Array, t: Tlv): string | null {
  const s = Buffer.from(b.buffer, b.byteOffset + t.start, t.end - t.start).toString('latin1');
  let m: RegExpExecArray | null;
  let year: number;
  if (t.tag === UTC_TIME && (m = /^(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)?Z$/.exec(s))) {
    const yy = Number(m[1]);
    year = yy < 50 ? 2000 + yy : 1900 + yy;
  } else if (t.tag === GENERALIZED_TIME && (m = /^(\d{4})(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)?(?:\.\d+)?Z$/.exec(s))) {
    year = Number(m[1]);
  } else return null;
  return `${String(year).padStart(4, '0')}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6] ?? '00'}Z`;
}

/** Reads subject, issuer and validity from a DER certificate at b[off .. off+len). */
export function parseCertificate(b: Uint8Array, off: number, len: number): CertificateInfo | null {
  const end = Math.min(off + len, b.length);
  const cert = tlv(b, off, end);
  if (!cert || cert.tag !== SEQUENCE) return null;
  const tbs = tlv(b, cert.start, cert.end);
  if (!tbs || tbs.tag !== SEQUENCE) return null;
  let o = tbs.start;
  let f = tlv(b, o, tbs.end);
  if (f && f.tag === 0xa0) {
    o = f.end; // [0] EXPLICIT version
    f = tlv(b, o, tbs.end);
  }
  if (!f) return null; // serialNumber
  const alg = tlv(b, f.end, tbs.end);
  if (!alg) return null;
  const issuer = tlv(b, alg.end, tbs.end);
  if (!issuer || issuer.tag !== SEQUENCE) return null;
  const validity = tlv(b, issuer.end, tbs.end);
  if (!validity || validity.tag !== SEQUENCE) return null;
  const nb = tlv(b, validity.start, validity.end);
  const na = nb && tlv(b, nb.end, validity.end);
  const subject = tlv(b, validity.end, tbs.end);
  if (!nb || !na || !subject || subject.tag !== SEQUENCE) return null;
  const notBefore = timeText(b, nb);
  const notAfter = timeText(b, na);
  const issuerText = nameText(b, issuer);
  const subjectText = nameText(b, subject);
  if (notBefore === null || notAfter === null || issuerText === null || subjectText === null) return null;
  return { subject: subjectText, issuer: issuerText, notBefore, notAfter };
}
