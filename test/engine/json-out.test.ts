/*
 * The report writer's number formatting (engine/json-out.ts putNum/putUint) is
 * JSON.stringify's: String(x), null when not finite. Checked on the edges of every fast
 * path and on a million values of the shapes a report holds (microsecond capture times,
 * nanosecond durations, RTTs made as ns * 1e-9, byte counts), plus random doubles.
 * And the JS SHA-1 behind Community IDs (flows/community-id.ts) is node:crypto's.
 */
import { describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { MAX_NUMBER, JsonOut, putNum, putUint } from '../../main/engine/json-out.js';
import { addressBytes, communityId, portFlowCommunityId, sha1Into } from '../../main/flows/community-id.js';
import { rngUnit } from '../helpers/rng.js';

const buf = new Uint8Array(64);
const fmt = (x: number): string => Buffer.from(buf.buffer, 0, putNum(buf, 0, x)).toString('latin1');
const json = (x: number): string => JSON.stringify(x);

describe('putNum', () => {
  it('formats edge values as JSON.stringify does', () => {
    const edges = [
      0, -0, 1, -1, 9, 10, 99, 100, 2 ** 31 - 1, 2 ** 31, 2 ** 32 - 1, 2 ** 32, 2 ** 53 - 1, 2 ** 53, 2 ** 53 + 2, 1e21, 1e21 - 65536, 123456789012345680000,
      NaN, Infinity, -Infinity, Number.MAX_VALUE, Number.MIN_VALUE, -Number.MIN_VALUE, Number.EPSILON,
      1e-6, 1e-7, 5e-7, 9.99999e-7, 0.000001, 0.0000015, 0.1, 0.2, 0.3, 0.1 + 0.2, 1 / 3, 2 / 3, 0.5, 0.999999, 0.9999999, 0.999999999,
      1768471200.058154, 1768471200.000001, 1768471200.1, 1768471200.999999, 4294967295.999999, 4294967295.5, 4294967296.5,
      8388607.999999999, 8388608.000000001, 8388607.5, 8388608.5, 0.000027000000000000002, 0.019072000000000002, 0.005743027, 1.000000001,
      -1768471200.058154, -0.005743027, -1e-6, -5e-7, 1e300, -1e-300,
    ];
    for (const x of edges) expect(fmt(x), String(x)).toBe(json(x));
  });

  it('formats a million report-shaped and random values as JSON.stringify does', () => {
    const rnd = rngUnit(10);
    const shapes: ((r: number) => number)[] = [
      (r) => 1.6e9 + Math.floor(r * 2e8 * 1e6) / 1e6, // capture times, microseconds
      (r) => 1.6e9 + Math.floor(r * 2e8 * 1e9) / 1e9, // nanosecond capture times
      (r) => Math.round(r * 5e9) / 1e9, // durations rounded to ns (http-exchanges roundNs)
      (r) => Math.round(r * 1e6 * 1e9) / 1e9, // long durations
      (r) => Math.floor(r * 3e8) * 1e-9, // RTTs: ns * 1e-9
      (r) => (Math.floor(r * 3e8) * 1e-9 + Math.floor(r * 7e7) * 1e-9) / 2, // medians of two
      (r) => Math.floor(r * 2 ** 53), // byte counts
      (r) => Math.floor(r * 2 ** 40) / 2 ** 20, // binary fractions
      (r) => (r - 0.5) * 10 ** Math.floor(r * 40 - 20), // any magnitude, both signs
      (r) => Math.floor(r * 2 ** 32) / 1e6 + 4.29e9 * (r > 0.5 ? 1 : 0), // near 2^32
      (r) => Math.floor(r * 2 ** 23 * 1e9) / 1e9, // near 2^23
    ];
    let n = 0;
    for (let i = 0; i < 1_000_000; i++) {
      const x = shapes[i % shapes.length](rnd());
      const got = fmt(x);
      if (got !== json(x)) expect(got, `${x}`).toBe(json(x));
      n++;
    }
    expect(n).toBe(1_000_000);
    // Random bit patterns (any double, including NaNs and subnormals).
    const f = new Float64Array(1);
    const u = new Uint32Array(f.buffer);
    for (let i = 0; i < 200_000; i++) {
      u[0] = (rnd() * 2 ** 32) >>> 0;
      u[1] = (rnd() * 2 ** 32) >>> 0;
      const got = fmt(f[0]);
      if (got !== json(f[0])) expect(got, `${f[0]}`).toBe(json(f[0]));
    }
  });

  it('writes integers below 2^53 as their digits', () => {
    const rnd = rngUnit(3);
    for (let i = 0; i < 100_000; i++) {
      const v = Math.floor(rnd() * 2 ** (1 + (i % 53)));
      const end = putUint(buf, 0, v);
      expect(Buffer.from(buf.buffer, 0, end).toString('latin1')).toBe(String(v));
    }
    expect(MAX_NUMBER).toBeGreaterThanOrEqual(String(-Number.MIN_VALUE).length);
  });
});

describe('JsonOut', () => {
  it('hands out chunks whose concatenation is the text, long texts whole', () => {
    const parts: (Uint8Array | string)[] = [];
    const flags: boolean[] = [];
    const o = new JsonOut((c, ascii) => {
      parts.push(typeof c === 'string' ? c : Buffer.from(c));
      flags.push(ascii);
    }, 64);
    const long = 'x'.repeat(100);
    const texts = ['{"a":', 'é€😀', long, ',', '"b"'];
    for (const t of texts) o.text(t);
    o.num(1768471200.058154);
    o.uint(42);
    o.end();
    expect(parts.some((p) => typeof p === 'string')).toBe(true);
    // A chunk said to be ASCII is (so it may be decoded as Latin-1); the one with 'é€😀' is not.
    parts.forEach((p, i) => expect(Buffer.from(p).every((b) => b < 0x80)).toBe(flags[i]));
    expect(flags).toContain(false);
    expect(Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p) : p))).toString('utf8')).toBe(texts.join('') + '1768471200.05815442');
    expect(o.written).toBe(Buffer.byteLength(texts.join('') + '1768471200.05815442'));
  });
});

describe('SHA-1 and Community ID without node:crypto', () => {
  it('sha1Into equals createHash("sha1") for inputs of 0..300 octets', () => {
    const rnd = rngUnit(5);
    for (let len = 0; len <= 300; len++) {
      const m = new Uint8Array(len);
      for (let i = 0; i < len; i++) m[i] = (rnd() * 256) | 0;
      expect(sha1Into(m, len).toString('hex'), `length ${len}`).toBe(createHash('sha1').update(m).digest('hex'));
    }
  });

  it('portFlowCommunityId equals communityId for TCP and UDP flows over IPv4 and IPv6, any seed', () => {
    const rnd = rngUnit(9);
    const v4 = (): string => Array.from({ length: 4 }, () => (rnd() * 4) | 0).join('.'); // few values: equal addresses happen
    const v6 = (): string => `2001:db8::${((rnd() * 3) | 0).toString(16)}:${((rnd() * 65536) | 0).toString(16)}`;
    for (let i = 0; i < 20_000; i++) {
      const six = i % 3 === 0;
      const srcIp = six ? v6() : v4();
      const dstIp = i % 50 === 0 ? (six ? v4() : v6()) : six ? v6() : v4(); // mixed families give null
      const proto = i % 2 ? 6 : 17;
      const srcPort = i % 7 === 0 ? 80 : (rnd() * 65536) | 0;
      const dstPort = i % 5 === 0 ? 80 : (rnd() * 65536) | 0;
      const seed = i % 4 === 0 ? (rnd() * 65536) | 0 : 0;
      const want = communityId({ proto, srcIp, dstIp, srcPort, dstPort }, { seed });
      const got = portFlowCommunityId(proto, addressBytes(srcIp), addressBytes(dstIp), srcPort, dstPort, seed);
      expect(got, `${proto} ${srcIp}:${srcPort} ${dstIp}:${dstPort} seed ${seed}`).toBe(want);
    }
  });

  it('communityId matches a hash made with node:crypto', () => {
    // The spec's input for TCP 128.232.110.120:34855 -> 66.35.250.204:80 (community-id-spec baseline), hashed here by node:crypto.
    const input = Uint8Array.from([0, 0, 66, 35, 250, 204, 128, 232, 110, 120, 6, 0, 0, 80, 0x88, 0x27]);
    const want = '1:' + createHash('sha1').update(input).digest('base64');
    expect(communityId({ proto: 6, srcIp: '128.232.110.120', dstIp: '66.35.250.204', srcPort: 34855, dstPort: 80 })).toBe(want);
    expect(want).toBe('1:LQU9qZlK+B5F3KDmev6m5PMibrg=');
  });
});
