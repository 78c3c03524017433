/*
 * Address text the way tshark prints it (dotted quad, RFC 5952 IPv6).
 * Every packet needs its addresses as strings (connection keys, JSON), but a capture has
 * few distinct addresses: direct-mapped caches return the same string object for the same
 * address, so the hot path builds no string (and V8 hashes each address string once).
 * A slot collision just rebuilds and replaces the entry.
 */
const V4_SLOTS = 1 << 14;
const v4Key = new Int32Array(V4_SLOTS);
const v4Text: string[] = new Array<string>(V4_SLOTS).fill('');
const V6_SLOTS = 1 << 12;
const v6Key = new Int32Array(V6_SLOTS * 4);
const v6Text: string[] = new Array<string>(V6_SLOTS).fill('');

export function ipv4Text(b: Uint8Array, o: number): string {
  const ip = (b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3];
  const h = Math.imul(ip, 0x9e3779b1) >>> 18;
  const cached = v4Text[h];
  if (cached !== '' && v4Key[h] === ip) return cached;
  const text = `${b[o]}.${b[o + 1]}.${b[o + 2]}.${b[o + 3]}`;
  v4Key[h] = ip;
  v4Text[h] = text;
  return text;
}

export function ipv6Text(b: Uint8Array, o: number): string {
  const w0 = (b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3];
  const w1 = (b[o + 4] << 24) | (b[o + 5] << 16) | (b[o + 6] << 8) | b[o + 7];
  const w2 = (b[o + 8] << 24) | (b[o + 9] << 16) | (b[o + 10] << 8) | b[o + 11];
  const w3 = (b[o + 12] << 24) | (b[o + 13] << 16) | (b[o + 14] << 8) | b[o + 15];
  const h = Math.imul(w0 ^ Math.imul(w1, 0x85ebca6b) ^ Math.imul(w2, 0xc2b2ae35) ^ Math.imul(w3, 0x27d4eb2f), 0x9e3779b1) >>> 20;
  const k = h * 4;
  const cached = v6Text[h];
  if (cached !== '' && v6Key[k] === w0 && v6Key[k + 1] === w1 && v6Key[k + 2] === w2 && v6Key[k + 3] === w3) return cached;
  const text = ipv6Format(b, o);
  v6Key[k] = w0;
  v6Key[k + 1] = w1;
  v6Key[k + 2] = w2;
  v6Key[k + 3] = w3;
  v6Text[h] = text;
  return text;
}

function ipv6Format(b: Uint8Array, o: number): string {
  const w: number[] = [];
  for (let i = 0; i < 8; i++) w.push((b[o + 2 * i] << 8) | b[o + 2 * i + 1]);
  // IPv4-mapped ::ffff:a.b.c.d
  if (w[0] === 0 && w[1] === 0 && w[2] === 0 && w[3] === 0 && w[4] === 0 && w[5] === 0xffff) {
    return `::ffff:${ipv4Text(b, o + 12)}`;
  }
  // Longest run of two or more zero words becomes "::" (first one on ties).
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8;) {
    if (w[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && w[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) { bestStart = i; bestLen = j - i; }
    i = j;
  }
  if (bestStart < 0) return w.map((x) => x.toString(16)).join(':');
  const head = w.slice(0, bestStart).map((x) => x.toString(16)).join(':');
  const tail = w.slice(bestStart + bestLen).map((x) => x.toString(16)).join(':');
  return `${head}::${tail}`;
}

export function macText(b: Uint8Array, o: number): string {
  let s = '';
  for (let i = 0; i < 6; i++) s += (i ? ':' : '') + b[o + i].toString(16).padStart(2, '0');
  return s;
}
