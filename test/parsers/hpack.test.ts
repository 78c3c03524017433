import { describe, expect, it } from 'vitest';
import { HpackDecoder, MAX_TABLE_SIZE, huffmanCode, huffmanDecode } from '../../main/parsers/hpack.js';
import { rngUint32 } from '../helpers/rng.js';

/*
 * HPACK (RFC 7541) on every example of Appendix C, then bad input: each error is a message,
 * never a throw, and the table never grows past its bound.
 */

const hex = (s: string): Uint8Array => Buffer.from(s.replace(/\s+/g, ''), 'hex');

function decode(d: HpackDecoder, block: string): { fields: [string, string][]; error: string | null } {
  const b = hex(block);
  const fields: [string, string][] = [];
  const error = d.decode(b, 0, b.length, (n, v) => fields.push([n, v]));
  return { fields, error };
}

function table(d: HpackDecoder): [string, string][] {
  const t: [string, string][] = [];
  for (let i = 0; i < d.length; i++) t.push(d.entry(i)!);
  return t;
}

const DATE1 = 'Mon, 21 Oct 2013 20:13:21 GMT';
const DATE2 = 'Mon, 21 Oct 2013 20:13:22 GMT';
const LOC = 'https://www.example.com';
const COOKIE = 'foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1';

describe('HPACK Huffman code (Appendix B)', () => {
  it('rebuilds the RFC codes from the lengths alone', () => {
    // A sample of Appendix B rows, [symbol, code as hex, bits].
    const rows: [number, number, number][] = [
      [0, 0x1ff8, 13], [1, 0x7fffd8, 23], [9, 0xffffea, 24], [10, 0x3ffffffc, 30], [32, 0x14, 6], [48, 0x0, 5],
      [58, 0x5c, 7], [97, 0x3, 5], [116, 0x9, 5], [123, 0x7ffe, 15], [127, 0xffffffc, 28], [128, 0xfffe6, 20],
      [195, 0x7fff1, 19], [220, 0xffffffd, 28], [249, 0xffffffe, 28], [255, 0x3ffffee, 26], [256, 0x3fffffff, 30],
    ];
    for (const [sym, code, bits] of rows) expect(huffmanCode(sym), `symbol ${sym}`).toEqual([code, bits]);
  });

  it('decodes every byte value and refuses EOS, long padding and padding with zeros', () => {
    // Encode all 256 symbols with the rebuilt code, then decode them back.
    const bits: number[] = [];
    for (let s = 0; s < 256; s++) {
      const [c, n] = huffmanCode(s);
      for (let k = n - 1; k >= 0; k--) bits.push((c >>> k) & 1);
    }
    while (bits.length % 8) bits.push(1);
    const b = new Uint8Array(bits.length / 8);
    for (let i = 0; i < bits.length; i++) b[i >> 3] |= bits[i] << (7 - (i & 7));
    const out = new Uint8Array(b.length * 2);
    const n = huffmanDecode(b, 0, b.length, out);
    expect(n).toBe(256);
    expect([...out.subarray(0, n)]).toEqual([...Array(256).keys()]);
    expect(huffmanDecode(hex('ffffffff'), 0, 4, out)).toBe(-1); // EOS (30 ones) inside the string
    expect(huffmanDecode(hex('1fff'), 0, 2, out)).toBe(-1); // '0' (00000) then 11 bits of padding
    expect(huffmanDecode(hex('00'), 0, 1, out)).toBe(-1); // '0' then padding 000
  });
});

describe('HPACK Appendix C examples', () => {
  it('C.2.1 literal with indexing', () => {
    const d = new HpackDecoder();
    expect(decode(d, '400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572')).toEqual({ fields: [['custom-key', 'custom-header']], error: null });
    expect(table(d)).toEqual([['custom-key', 'custom-header']]);
    expect(d.size).toBe(55);
  });

  it('C.2.2 literal without indexing', () => {
    const d = new HpackDecoder();
    expect(decode(d, '040c 2f73 616d 706c 652f 7061 7468').fields).toEqual([[':path', '/sample/path']]);
    expect(d.length).toBe(0);
  });

  it('C.2.3 literal never indexed', () => {
    const d = new HpackDecoder();
    const b = hex('1008 7061 7373 776f 7264 0673 6563 7265 74');
    const got: [string, string, boolean][] = [];
    expect(d.decode(b, 0, b.length, (n, v, never) => got.push([n, v, never]))).toBeNull();
    expect(got).toEqual([['password', 'secret', true]]);
    expect(d.length).toBe(0);
  });

  it('C.2.4 indexed field', () => {
    const d = new HpackDecoder();
    expect(decode(d, '82').fields).toEqual([[':method', 'GET']]);
    expect(d.length).toBe(0);
  });

  const requests = (huffman: boolean): void => {
    const d = new HpackDecoder();
    const blocks = huffman
      ? ['8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff', '8286 84be 5886 a8eb 1064 9cbf', '8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf']
      : ['8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d', '8286 84be 5808 6e6f 2d63 6163 6865', '8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65'];
    const base: [string, string][] = [[':method', 'GET'], [':scheme', 'http'], [':path', '/'], [':authority', 'www.example.com']];
    expect(decode(d, blocks[0])).toEqual({ fields: base, error: null });
    expect([table(d), d.size]).toEqual([[[':authority', 'www.example.com']], 57]);
    expect(decode(d, blocks[1]).fields).toEqual([...base, ['cache-control', 'no-cache']]);
    expect([table(d), d.size]).toEqual([[['cache-control', 'no-cache'], [':authority', 'www.example.com']], 110]);
    expect(decode(d, blocks[2]).fields).toEqual([[':method', 'GET'], [':scheme', 'https'], [':path', '/index.html'], [':authority', 'www.example.com'], ['custom-key', 'custom-value']]);
    expect([table(d), d.size]).toEqual([[['custom-key', 'custom-value'], ['cache-control', 'no-cache'], [':authority', 'www.example.com']], 164]);
  };
  it('C.3 requests without Huffman coding', () => requests(false));
  it('C.4 requests with Huffman coding', () => requests(true));

  const responses = (huffman: boolean): void => {
    const d = new HpackDecoder(256);
    const blocks = huffman
      ? [
        '4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 82a6 2d1b ff6e 919d 29ad 1718 63c7 8f0b 97c8 e9ae 82ae 43d3',
        '4883 640e ffc1 c0bf',
        '88c1 6196 d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff c05a 839b d9ab 77ad 94e7 821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f 9587 3160 65c0 03ed 4ee5 b106 3d50 07',
      ]
      : [
        '4803 3330 3258 0770 7269 7661 7465 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3120 474d 546e 1768 7474 7073 3a2f 2f77 7777 2e65 7861 6d70 6c65 2e63 6f6d',
        '4803 3330 37c1 c0bf',
        '88c1 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3220 474d 54c0 5a04 677a 6970 7738 666f 6f3d 4153 444a 4b48 514b 425a 584f 5157 454f 5049 5541 5851 5745 4f49 553b 206d 6178 2d61 6765 3d33 3630 303b 2076 6572 7369 6f6e 3d31',
      ];
    expect(decode(d, blocks[0])).toEqual({ fields: [[':status', '302'], ['cache-control', 'private'], ['date', DATE1], ['location', LOC]], error: null });
    expect([table(d), d.size]).toEqual([[['location', LOC], ['date', DATE1], ['cache-control', 'private'], [':status', '302']], 222]);
    // The 307 evicts the 302.
    expect(decode(d, blocks[1]).fields).toEqual([[':status', '307'], ['cache-control', 'private'], ['date', DATE1], ['location', LOC]]);
    expect([table(d), d.size]).toEqual([[[':status', '307'], ['location', LOC], ['date', DATE1], ['cache-control', 'private']], 222]);
    expect(decode(d, blocks[2]).fields).toEqual([[':status', '200'], ['cache-control', 'private'], ['date', DATE2], ['location', LOC], ['content-encoding', 'gzip'], ['set-cookie', COOKIE]]);
    expect([table(d), d.size]).toEqual([[['set-cookie', COOKIE], ['content-encoding', 'gzip'], ['date', DATE2]], 215]);
  };
  it('C.5 responses without Huffman coding (256-octet table, evictions)', () => responses(false));
  it('C.6 responses with Huffman coding (256-octet table, evictions)', () => responses(true));
});

describe('HPACK bad input', () => {
  it('size updates: applied at the block start, refused above the allowed size or after a field', () => {
    const d = new HpackDecoder();
    decode(d, '400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572');
    expect(decode(d, '20').error).toBeNull(); // size 0 empties the table
    expect([d.length, d.maxSize]).toEqual([0, 0]);
    expect(decode(d, '3fe1 1f').error).toBeNull(); // back to 4096
    expect(d.maxSize).toBe(4096);
    expect(decode(new HpackDecoder(), '3fe2 1f').error).toMatch(/above the allowed 4096/);
    expect(decode(new HpackDecoder(), '8220').error).toMatch(/after a header field/);
    const big = new HpackDecoder(1 << 30);
    expect(decode(big, '3fe1 ff0f').error).toMatch(/above the allowed 65536/); // 2^18 + ... > MAX_TABLE_SIZE
    expect(MAX_TABLE_SIZE).toBe(65536);
  });

  it('refuses bad indexes, cut integers and strings, bad Huffman; then stays failed', () => {
    expect(decode(new HpackDecoder(), '80').error).toMatch(/index 0/);
    expect(decode(new HpackDecoder(), 'be').error).toMatch(/index 62 beyond the table/);
    expect(decode(new HpackDecoder(), 'ff').error).toMatch(/integer cut/);
    expect(decode(new HpackDecoder(), 'ffffffffffff0f').error).toMatch(/integer too large/);
    expect(decode(new HpackDecoder(), '4005 6162').error).toMatch(/longer than the rest/);
    expect(decode(new HpackDecoder(), '40').error).toMatch(/cut by the end/);
    const d = new HpackDecoder();
    const r = decode(d, '82 0481 00');
    expect(r.fields).toEqual([[':method', 'GET']]); // fields before the error are delivered
    expect(r.error).toMatch(/invalid Huffman/);
    expect(decode(d, '82').error).toBe(r.error);
  });

  it('a lower SETTINGS_HEADER_TABLE_SIZE from the decoding side evicts at once', () => {
    const d = new HpackDecoder();
    decode(d, '4003 6162 6303 6465 66'); // abc: def, 38 octets
    decode(d, '4003 6768 6903 6a6b 6c'); // ghi: jkl, 38 octets
    d.setAllowedMax(40);
    expect([table(d), d.size, d.maxSize]).toEqual([[['ghi', 'jkl']], 38, 40]);
    expect(decode(d, '3f0a').error).toMatch(/above the allowed 40/); // 41
  });

  it('an entry larger than the table empties it (§4.4)', () => {
    const d = new HpackDecoder(64);
    decode(d, '4003 6162 6303 6465 66'); // abc: def, 38 octets
    expect(d.length).toBe(1);
    const long = 'x'.repeat(40);
    decode(d, '40' + '03616263' + '28' + Buffer.from(long).toString('hex'));
    expect([d.length, d.size]).toEqual([0, 0]);
  });

  it('seeded fuzz: truncated and mutated blocks never throw, the table stays within its bound', () => {
    const seeds = [
      '8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff',
      '4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 82a6 2d1b ff6e 919d 29ad 1718 63c7 8f0b 97c8 e9ae 82ae 43d3',
      '88c1 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3220 474d 54c0 5a04 677a 6970',
    ].map(hex);
    const rnd = rngUint32(7541);
    let errors = 0;
    for (let round = 0; round < 3000; round++) {
      const d = new HpackDecoder(1 << 20);
      for (let k = 0; k < 4; k++) {
        const src = seeds[rnd() % seeds.length];
        const b = Uint8Array.from(src.subarray(0, 1 + (rnd() % src.length)));
        for (let m = rnd() % 4; m > 0; m--) b[rnd() % b.length] = rnd() & 0xff;
        let fields = 0;
        const err = d.decode(b, 0, b.length, () => fields++);
        if (err) errors++;
        expect(d.size).toBeLessThanOrEqual(MAX_TABLE_SIZE);
        expect(fields).toBeLessThanOrEqual(b.length);
      }
    }
    expect(errors).toBeGreaterThan(100); // the mutations did reach the error paths
  });
});
