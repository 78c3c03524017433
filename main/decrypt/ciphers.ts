import { cbc, gcm } from '@noble/ciphers/aes.js';
import { chacha20poly1305 } from '@noble/ciphers/chacha.js';
import { hmac } from '@noble/hashes/hmac.js';
import { sha256, sha384 } from '@noble/hashes/sha2.js';
import { sha1 } from '@noble/hashes/legacy.js';
import { createDecipheriv, createHmac } from 'node:crypto';

/*
 * TLS RECORD CIPHERS. The reference implementation is pure JavaScript (@noble/ciphers,
 * @noble/hashes), so every cipher works under Node's OpenSSL and Electron's BoringSSL alike,
 * which lacks some of OpenSSL's ciphers (docs/tls-decryption.md). The runtime's own cipher is
 * used instead where it passes a known-answer check against @noble at start-up (NATIVE below):
 * the same results, 10-30x faster (AES-GCM in OpenSSL uses AES-NI). Supported:
 * - AEAD: AES-128/256-GCM (RFC 5288, RFC 8446 §5.3) and ChaCha20-Poly1305 (RFC 7905,
 *   RFC 8446), in TLS 1.2 and 1.3;
 * - TLS 1.1/1.2 AES-CBC with HMAC-SHA1/256/384, MAC-then-encrypt (RFC 5246 §6.2.3.2) or
 *   encrypt-then-MAC (RFC 7366, which OpenSSL negotiates by default).
 * Nothing here throws on bad input: a failed tag, MAC or padding returns null.
 */

export type RecordCipher = 'aes-gcm' | 'chacha20-poly1305' | 'aes-cbc';
export type HashName = 'sha256' | 'sha384' | 'sha1';

export interface CipherSuite {
  id: number;
  tls13: boolean;
  cipher: RecordCipher;
  keyLen: number;
  /** TLS 1.2: fixed IV bytes from the key block (GCM 4, ChaCha20 12, CBC 16); TLS 1.3: 12. */
  ivLen: number;
  /** CBC suites: the HMAC hash (its output is the MAC length); AEADs: null. */
  mac: HashName | null;
  /** The PRF hash (TLS 1.2) or the HKDF hash (TLS 1.3). */
  hash: 'sha256' | 'sha384';
}

const suites = new Map<number, CipherSuite>();
function add(ids: number[], tls13: boolean, cipher: RecordCipher, keyLen: number, mac: HashName | null, hash: 'sha256' | 'sha384'): void {
  const ivLen = tls13 || cipher === 'chacha20-poly1305' ? 12 : cipher === 'aes-gcm' ? 4 : 16;
  for (const id of ids) suites.set(id, { id, tls13, cipher, keyLen, ivLen, mac, hash });
}
// RFC 8446 §B.4
add([0x1301], true, 'aes-gcm', 16, null, 'sha256');
add([0x1302], true, 'aes-gcm', 32, null, 'sha384');
add([0x1303], true, 'chacha20-poly1305', 32, null, 'sha256');
// RFC 5288, RFC 5289: (EC)DHE/RSA with AES-GCM
add([0x009c, 0x009e, 0x00a2, 0xc02b, 0xc02d, 0xc02f, 0xc031], false, 'aes-gcm', 16, null, 'sha256');
add([0x009d, 0x009f, 0x00a3, 0xc02c, 0xc02e, 0xc030, 0xc032], false, 'aes-gcm', 32, null, 'sha384');
// RFC 7905: ChaCha20-Poly1305
add([0xcca8, 0xcca9, 0xccaa], false, 'chacha20-poly1305', 32, null, 'sha256');
// RFC 5246, RFC 4492, RFC 5289: AES-CBC with HMAC
add([0x002f, 0x0033, 0x0032, 0xc004, 0xc009, 0xc00e, 0xc013], false, 'aes-cbc', 16, 'sha1', 'sha256');
add([0x0035, 0x0039, 0x0038, 0xc005, 0xc00a, 0xc00f, 0xc014], false, 'aes-cbc', 32, 'sha1', 'sha256');
add([0x003c, 0x0067, 0x0040, 0xc023, 0xc027, 0xc025, 0xc029], false, 'aes-cbc', 16, 'sha256', 'sha256');
add([0x003d, 0x006b, 0x006a], false, 'aes-cbc', 32, 'sha256', 'sha256');
add([0xc024, 0xc028, 0xc026, 0xc02a], false, 'aes-cbc', 32, 'sha384', 'sha384');

/** The record protection of a cipher suite, or null when Tapscope cannot decrypt it. */
export function cipherSuite(id: number): CipherSuite | null {
  return suites.get(id) ?? null;
}

export const HASHES = { sha1, sha256, sha384 } as const;

type NativeName = 'aes-128-gcm' | 'aes-256-gcm' | 'chacha20-poly1305' | 'aes-128-cbc' | 'aes-256-cbc';

/**
 * Runtime ciphers that decrypt what @noble encrypts (a known answer per cipher, checked once).
 * Any that is missing or differs (BoringSSL's chacha20-poly1305) falls back to @noble.
 */
const NATIVE = new Set<NativeName>();
let nativeHmac = false;
function checkNative(): void {
  const key16 = new Uint8Array(16).fill(7);
  const key32 = new Uint8Array(32).fill(9);
  const nonce = Uint8Array.from({ length: 12 }, (_, i) => i);
  const aad = Uint8Array.of(1, 2, 3);
  const text = Uint8Array.from({ length: 48 }, (_, i) => i * 3);
  const cases: [NativeName, Uint8Array, Uint8Array][] = [
    ['aes-128-gcm', key16, gcm(key16, nonce, aad).encrypt(text)],
    ['aes-256-gcm', key32, gcm(key32, nonce, aad).encrypt(text)],
    ['chacha20-poly1305', key32, chacha20poly1305(key32, nonce, aad).encrypt(text)],
  ];
  for (const [name, key, sealed] of cases) {
    const out = nativeAeadOpen(name, key, nonce, aad, sealed);
    if (out && Buffer.from(out).equals(Buffer.from(text))) NATIVE.add(name);
  }
  try {
    nativeHmac = (['sha1', 'sha256', 'sha384'] as const).every((h) => createHmac(h, key16).update(text).digest().equals(Buffer.from(hmac(HASHES[h], key16, text))));
  } catch {
    nativeHmac = false;
  }
  const iv = new Uint8Array(16).fill(5);
  for (const [name, key] of [['aes-128-cbc', key16], ['aes-256-cbc', key32]] as const) {
    try {
      const d = createDecipheriv(name, key, iv).setAutoPadding(false);
      const sealed = cbc(key, iv, { disablePadding: true }).encrypt(text);
      if (Buffer.concat([d.update(sealed), d.final()]).equals(Buffer.from(text))) NATIVE.add(name);
    } catch {
      // not in this runtime: @noble
    }
  }
}

function nativeAeadOpen(name: NativeName, key: Uint8Array, nonce: Uint8Array, aad: Uint8Array, sealed: Uint8Array): Uint8Array | null {
  try {
    const d = createDecipheriv(name as 'aes-128-gcm', key, nonce, { authTagLength: 16 });
    d.setAAD(aad);
    d.setAuthTag(sealed.subarray(sealed.length - 16));
    const a = d.update(sealed.subarray(0, sealed.length - 16));
    const b = d.final();
    return b.length === 0 ? a : Buffer.concat([a, b]);
  } catch {
    return null;
  }
}

/** The runtime ciphers in use (the rest run in @noble), e.g. for a diagnostics line. */
export function nativeCiphers(): string[] {
  return [...NATIVE, ...(nativeHmac ? ['hmac'] : [])];
}

/** Use the runtime's ciphers where they pass the check (default), or @noble only (tests compare both). */
export function useNativeCiphers(on: boolean): void {
  NATIVE.clear();
  nativeHmac = false;
  if (on) checkNative();
}
checkNative();
export const macLength = (h: HashName): number => (h === 'sha1' ? 20 : h === 'sha256' ? 32 : 48);

/** AEAD open: plaintext, or null when the tag does not verify (wrong key, damaged record). */
export function aeadOpen(c: RecordCipher, key: Uint8Array, nonce: Uint8Array, aad: Uint8Array, sealed: Uint8Array): Uint8Array | null {
  if (sealed.length < 16) return null;
  const native: NativeName = c === 'aes-gcm' ? (key.length === 16 ? 'aes-128-gcm' : 'aes-256-gcm') : 'chacha20-poly1305';
  if (NATIVE.has(native)) return nativeAeadOpen(native, key, nonce, aad, sealed);
  try {
    return c === 'aes-gcm' ? gcm(key, nonce, aad).decrypt(sealed) : chacha20poly1305(key, nonce, aad).decrypt(sealed);
  } catch {
    return null;
  }
}

/** HMAC(mac_key, seq(8) || type(1) || version(2) || length(2) || data) (RFC 5246 §6.2.3.1). */
function recordMac(mac: HashName, macKey: Uint8Array, seq: bigint, type: number, version: number, data: Uint8Array): Uint8Array {
  const hdr = new Uint8Array(13);
  new DataView(hdr.buffer).setBigUint64(0, seq);
  hdr[8] = type;
  hdr[9] = version >> 8;
  hdr[10] = version & 0xff;
  hdr[11] = data.length >> 8;
  hdr[12] = data.length & 0xff;
  if (nativeHmac) return createHmac(mac, macKey).update(hdr).update(data).digest();
  const h = hmac.create(HASHES[mac], macKey);
  h.update(hdr);
  h.update(data);
  return h.digest();
}

function sameBytes(a: Uint8Array, b: Uint8Array, n: number): boolean {
  let diff = 0;
  for (let i = 0; i < n; i++) diff |= a[i] ^ b[i];
  return diff === 0 && a.length >= n && b.length >= n;
}

/**
 * TLS 1.1/1.2 CBC record. MAC-then-encrypt (RFC 5246 §6.2.3.2): IV(16) || AES-CBC(content ||
 * MAC || padding || padding_length), the MAC over the content. Encrypt-then-MAC (RFC 7366
 * §3): IV(16) || AES-CBC(content || padding || padding_length) || MAC, the MAC over IV and
 * ciphertext. Returns the content, or null on bad length, padding or MAC.
 */
export function cbcOpen(
  key: Uint8Array, macKey: Uint8Array, mac: HashName, seq: bigint, type: number, version: number, fragment: Uint8Array, etm = false,
): Uint8Array | null {
  const macLen = macLength(mac);
  let sealed = fragment;
  if (etm) {
    if (fragment.length < macLen + 32) return null;
    sealed = fragment.subarray(0, fragment.length - macLen);
    if (!sameBytes(recordMac(mac, macKey, seq, type, version, sealed), fragment.subarray(sealed.length), macLen)) return null;
  }
  if (sealed.length < 32 || sealed.length % 16 !== 0) return null;
  let p: Uint8Array;
  const native = key.length === 16 ? 'aes-128-cbc' : 'aes-256-cbc';
  try {
    if (NATIVE.has(native)) {
      const d = createDecipheriv(native, key, sealed.subarray(0, 16)).setAutoPadding(false);
      p = Buffer.concat([d.update(sealed.subarray(16)), d.final()]);
    } else p = cbc(key, sealed.subarray(0, 16), { disablePadding: true }).decrypt(sealed.subarray(16));
  } catch {
    return null;
  }
  const pad = p[p.length - 1];
  const contentLen = p.length - 1 - pad - (etm ? 0 : macLen);
  if (contentLen < 0) return null;
  for (let i = p.length - 1 - pad; i < p.length - 1; i++) if (p[i] !== pad) return null;
  if (etm) return p.subarray(0, contentLen);
  const content = p.subarray(0, contentLen);
  return sameBytes(recordMac(mac, macKey, seq, type, version, content), p.subarray(contentLen), macLen) ? content : null;
}
