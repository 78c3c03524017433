/** Address text the way tshark prints it (dotted quad, RFC 5952 IPv6). */
export function ipv4Text(b: Uint8Array, o: number): string {
  return `${b[o]}.${b[o + 1]}.${b[o + 2]}.${b[o + 3]}`;
}

export function ipv6Text(b: Uint8Array, o: number): string {
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
