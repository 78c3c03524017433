import { describe, expect, it } from 'vitest';
import { cipherSuite, nativeCiphers, useNativeCiphers } from '../../main/decrypt/ciphers.js';
import { hkdfExpandLabel, tls13NextSecret, tls13TrafficKeys } from '../../main/decrypt/tls-keys.js';
import { RecordProtection } from '../../main/decrypt/tls-records.js';
import { rngUint32 } from '../helpers/rng.js';

const hex = (s: string) => Uint8Array.from(s.replace(/\s+/g, '').match(/../g)!.map((h) => parseInt(h, 16)));
const toHex = (b: Uint8Array) => Buffer.from(b).toString('hex');

describe('TLS 1.3 key schedule (RFC 8448 §3, simple 1-RTT handshake, TLS_AES_128_GCM_SHA256)', () => {
  const suite = cipherSuite(0x1301)!;
  it('derives the handshake traffic keys from the handshake traffic secrets', () => {
    const s = tls13TrafficKeys(suite, hex('b67b7d690cc16c4e75e54213cb2d37b4e9c912bcded9105d42befd59d391ad38'));
    expect(toHex(s.key)).toBe('3fce516009c21727d0f2e4e86ee403bc');
    expect(toHex(s.iv)).toBe('5d313eb2671276ee13000b30');
    const c = tls13TrafficKeys(suite, hex('b3eddb126e067f35a780b3abf45e2d8f3b1a950738f52e9600746a0e27a55a21'));
    expect(toHex(c.key)).toBe('dbfaa693d1762c5b666af5d950258d01');
    expect(toHex(c.iv)).toBe('5bd3c71b836e0b76bb73265f');
  });

  it('derives the application traffic keys', () => {
    const s = tls13TrafficKeys(suite, hex('a11af9f05531f856ad47116b45a950328204b4f44bfb6b3a4b4f1f3fcb631643'));
    expect(toHex(s.key)).toBe('9f02283b6c9c07efc26bb9f2ac92e356');
    expect(toHex(s.iv)).toBe('cf782b88dd83549aadf1e984');
    const c = tls13TrafficKeys(suite, hex('9e40646ce79a7f9dc05af8889bce6552875afa0b06df0087f792ebb7c17504a5'));
    expect(toHex(c.key)).toBe('17422dda596ed5d9acd890e3c63f5051');
  });

  it('derives the handshake traffic secret itself (Derive-Secret is HKDF-Expand-Label over the transcript hash)', () => {
    // RFC 8448 §3: handshake secret, "c hs traffic", hash of ClientHello..ServerHello.
    const hs = hex('1dc826e93606aa6fdc0aadc12f741b01046aa6b99f691ed221a9f0ca043fbeac');
    const th = hex('860c06edc07858ee8e78f0e7428c58edd6b43f2ca3e6e95f02ed063cf0e1cad8');
    expect(toHex(hkdfExpandLabel('sha256', hs, 'c hs traffic', th, 32))).toBe('b3eddb126e067f35a780b3abf45e2d8f3b1a950738f52e9600746a0e27a55a21');
    expect(toHex(hkdfExpandLabel('sha256', hs, 's hs traffic', th, 32))).toBe('b67b7d690cc16c4e75e54213cb2d37b4e9c912bcded9105d42befd59d391ad38');
  });

  it('a KeyUpdate secret is "traffic upd" of the previous one, hash-length for SHA-384 suites', () => {
    const secret = hex('a11af9f05531f856ad47116b45a950328204b4f44bfb6b3a4b4f1f3fcb631643');
    expect(toHex(tls13NextSecret(suite, secret))).toBe(toHex(hkdfExpandLabel('sha256', secret, 'traffic upd', new Uint8Array(0), 32)));
    expect(tls13NextSecret(cipherSuite(0x1302)!, new Uint8Array(48))).toHaveLength(48);
  });
});

describe('record ciphers', () => {
  it('use Node\'s OpenSSL for every cipher it has (each checked against @noble first)', () => {
    expect(nativeCiphers().sort()).toEqual(['aes-128-cbc', 'aes-128-gcm', 'aes-256-cbc', 'aes-256-gcm', 'chacha20-poly1305', 'hmac']);
    useNativeCiphers(false);
    expect(nativeCiphers()).toEqual([]);
    useNativeCiphers(true);
  });
});

describe('record protection on hostile input', () => {
  it.each([['native where it passes the check', true], ['@noble only', false]])('random fragments under every cipher never throw and never open (%s)', (_name, native) => {
    useNativeCiphers(native);
    const next = rngUint32(7);
    const bytes = (n: number) => Uint8Array.from({ length: n }, () => next() & 0xff);
    for (const id of [0x1301, 0x1302, 0x1303, 0xc02f, 0xc030, 0xcca8, 0xc013, 0xc028]) {
      const s = cipherSuite(id)!;
      const prots = s.tls13 ? [RecordProtection.tls13(s, bytes(s.hash === 'sha384' ? 48 : 32))]
        : [RecordProtection.tls12(s, bytes(48), bytes(32), bytes(32)).client, RecordProtection.tls12(s, bytes(48), bytes(32), bytes(32), true).server];
      for (const p of prots) {
        for (let i = 0; i < 200; i++) {
          const len = next() % 300;
          expect(p.open(23, 0x0303, bytes(len))).toBeNull();
        }
        expect(p.seq).toBe(0);
      }
    }
    useNativeCiphers(true);
  });
});
