import { describe, expect, it } from 'vitest';
import { ipv4Text, ipv6Text } from '../../main/decode/addr.js';
import { rngUint32 } from '../helpers/rng';

/*
 * The address-text caches must never return another address's text: many random addresses
 * (far more than the cache slots, so slots collide and are replaced) checked against an
 * independent formatter, twice (miss, then hit or replacement).
 */
const rng = rngUint32;

describe('address text', () => {
  it('IPv4: dotted quad, right for every address even when cache slots collide', () => {
    const r = rng(1);
    const b = new Uint8Array(4 * 50000);
    for (let i = 0; i < b.length; i++) b[i] = r() & 0xff;
    for (let pass = 0; pass < 2; pass++) {
      for (let o = 0; o < b.length; o += 4) expect(ipv4Text(b, o)).toBe(`${b[o]}.${b[o + 1]}.${b[o + 2]}.${b[o + 3]}`);
    }
  });

  it('IPv6: RFC 5952 text (as the WHATWG URL parser writes it), right under collisions', () => {
    const r = rng(2);
    const n = 20000;
    const b = new Uint8Array(16 * n);
    for (let i = 0; i < n; i++) {
      // Words are often zero so "::" compression is exercised.
      for (let w = 0; w < 8; w++) {
        const v = r() % 3 === 0 ? 0 : r() & 0xffff;
        b[i * 16 + 2 * w] = v >> 8;
        b[i * 16 + 2 * w + 1] = v & 0xff;
      }
      if (b[i * 16 + 10] === 0xff && b[i * 16 + 11] === 0xff) b[i * 16 + 11] = 0xfe; // not IPv4-mapped (tshark prints those dotted)
    }
    const ref = (o: number) => {
      const words = [];
      for (let w = 0; w < 8; w++) words.push(((b[o + 2 * w] << 8) | b[o + 2 * w + 1]).toString(16));
      return new URL(`http://[${words.join(':')}]/`).hostname.slice(1, -1);
    };
    for (let pass = 0; pass < 2; pass++) {
      for (let i = 0; i < n; i++) expect(ipv6Text(b, i * 16)).toBe(ref(i * 16));
    }
    expect(ipv6Text(Uint8Array.of(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 1), 0)).toBe('::ffff:192.0.2.1');
  });
});
