import { expand } from '@noble/hashes/hkdf.js';
import { hmac } from '@noble/hashes/hmac.js';
import { HASHES, macLength, type CipherSuite } from './ciphers.js';

/*
 * TLS KEY SCHEDULES: from the secrets of a key log to record keys.
 * - TLS 1.3 (RFC 8446 §7.1, §7.3): key = HKDF-Expand-Label(secret, "key", "", key_length),
 *   iv = HKDF-Expand-Label(secret, "iv", "", 12); a KeyUpdate (§7.2) moves a direction to
 *   HKDF-Expand-Label(secret, "traffic upd", "", Hash.length).
 * - TLS 1.2 (RFC 5246 §5, §6.3): key_block = PRF(master_secret, "key expansion",
 *   server_random + client_random), cut into client/server MAC keys, write keys and IVs.
 */

const enc = new TextEncoder();

/** RFC 8446 §7.1 HKDF-Expand-Label: HkdfLabel = length(2) || "tls13 " + label <1> || context <1>. */
export function hkdfExpandLabel(hash: 'sha256' | 'sha384', secret: Uint8Array, label: string, context: Uint8Array, length: number): Uint8Array {
  const l = enc.encode('tls13 ' + label);
  const info = new Uint8Array(2 + 1 + l.length + 1 + context.length);
  info[0] = length >> 8;
  info[1] = length & 0xff;
  info[2] = l.length;
  info.set(l, 3);
  info[3 + l.length] = context.length;
  info.set(context, 4 + l.length);
  return expand(HASHES[hash], secret, info, length);
}

export interface TrafficKeys {
  key: Uint8Array;
  iv: Uint8Array;
}

/** TLS 1.3 record key and IV of one traffic secret (RFC 8446 §7.3). */
export function tls13TrafficKeys(suite: CipherSuite, secret: Uint8Array): TrafficKeys {
  const none = new Uint8Array(0);
  return { key: hkdfExpandLabel(suite.hash, secret, 'key', none, suite.keyLen), iv: hkdfExpandLabel(suite.hash, secret, 'iv', none, 12) };
}

/** The traffic secret after a KeyUpdate (RFC 8446 §7.2). */
export function tls13NextSecret(suite: CipherSuite, secret: Uint8Array): Uint8Array {
  return hkdfExpandLabel(suite.hash, secret, 'traffic upd', new Uint8Array(0), suite.hash === 'sha384' ? 48 : 32);
}

/** RFC 5246 §5 PRF: P_hash(secret, label + seed) to `length` bytes. */
export function tls12Prf(hash: 'sha256' | 'sha384', secret: Uint8Array, label: string, seed: Uint8Array, length: number): Uint8Array {
  const h = HASHES[hash];
  const l = enc.encode(label);
  const ls = new Uint8Array(l.length + seed.length);
  ls.set(l);
  ls.set(seed, l.length);
  const out = new Uint8Array(length);
  let a = hmac(h, secret, ls); // A(1)
  for (let o = 0; o < length;) {
    const m = hmac.create(h, secret);
    m.update(a);
    m.update(ls);
    const block = m.digest();
    out.set(block.subarray(0, Math.min(block.length, length - o)), o);
    o += block.length;
    a = hmac(h, secret, a);
  }
  return out;
}

export interface Tls12Keys {
  clientMacKey: Uint8Array;
  serverMacKey: Uint8Array;
  clientKey: Uint8Array;
  serverKey: Uint8Array;
  clientIv: Uint8Array;
  serverIv: Uint8Array;
}

/** RFC 5246 §6.3 key block. */
export function tls12KeyBlock(suite: CipherSuite, masterSecret: Uint8Array, clientRandom: Uint8Array, serverRandom: Uint8Array): Tls12Keys {
  const macLen = suite.mac ? macLength(suite.mac) : 0;
  const seed = new Uint8Array(64);
  seed.set(serverRandom);
  seed.set(clientRandom, 32);
  const kb = tls12Prf(suite.hash, masterSecret, 'key expansion', seed, 2 * (macLen + suite.keyLen + suite.ivLen));
  let o = 0;
  const take = (n: number) => kb.slice(o, (o += n));
  return {
    clientMacKey: take(macLen), serverMacKey: take(macLen),
    clientKey: take(suite.keyLen), serverKey: take(suite.keyLen),
    clientIv: take(suite.ivLen), serverIv: take(suite.ivLen),
  };
}
