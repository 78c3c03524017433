import { ecb, gcm } from '@noble/ciphers/aes.js';
import { chacha20 } from '@noble/ciphers/chacha.js';
import { extract } from '@noble/hashes/hkdf.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { aeadOpen, type CipherSuite, type RecordCipher } from './ciphers.js';
import { hkdfExpandLabel } from './tls-keys.js';

/*
 * QUIC packet protection (RFC 9001 §5). Initial packets anyone on the path can open (§5.2):
 *   initial_secret = HKDF-Extract(initial_salt, client's first Destination Connection ID)
 *   client_initial_secret = HKDF-Expand-Label(initial_secret, "client in", "", 32)
 *   server_initial_secret = HKDF-Expand-Label(initial_secret, "server in", "", 32)
 * then key (16), iv (12), hp (16) from "quic key" / "quic iv" / "quic hp" (RFC 9001 §5.1;
 * QUIC v2, RFC 9369 §3.3.2: "quicv2 key" / "quicv2 iv" / "quicv2 hp"). Initial packets use
 * AEAD_AES_128_GCM (§5.3) and AES-ECB header protection (§5.4.3). The Retry integrity tag
 * (§5.8) is AES-128-GCM with a fixed key and nonce over the pseudo-Retry packet.
 *
 * Handshake, 0-RTT and 1-RTT packets use the same scheme with keys from the TLS traffic secrets
 * of a key log (§5.1), with the negotiated suite's AEAD and header protection (AES-ECB, or
 * ChaCha20 for TLS_CHACHA20_POLY1305_SHA256, §5.4.3-4); a key update (§6) moves a direction
 * to HKDF-Expand-Label(secret, "quic ku"). The cipher objects and the plaintext are allocated
 * per decrypted packet: without keys that is a few Initials per connection.
 */

export const QUIC_V1 = 0x00000001;
export const QUIC_V2 = 0x6b3343cf;

const hex = (s: string) => Uint8Array.from(s.match(/../g)!.map((h) => parseInt(h, 16)));

/** RFC 9001 §5.2 (v1); RFC 9369 §3.3.1 (v2); draft-ietf-quic-tls-29 §5.2 (drafts 29-32); -23 §5.2 (drafts 23-28). */
const SALT_V1 = hex('38762cf7f55934b34d179ae6a4c80cadccbb7f0a');
const SALT_V2 = hex('0dede3def700a6db819381be6e269dcbf9bd2ed9');
const SALT_DRAFT29 = hex('afbfec289993d24c9e9786f19c6111e04390a899');
const SALT_DRAFT23 = hex('c3eef712c72ebb5a11a7d2432bb46365bef9f502');

/** RFC 9001 §5.8 (v1), RFC 9369 §3.3.3 (v2), draft-ietf-quic-tls-29 §5.8 (drafts 29-32). */
const RETRY_V1 = { key: hex('be0c690b9f66575a1d766b54e368c84e'), nonce: hex('461599d35d632bf2239825bb') };
const RETRY_V2 = { key: hex('8fb4b01b56ac48e260fbcbcead7ccc92'), nonce: hex('d86969bc2d7c6d9990efb04a') };
const RETRY_DRAFT29 = { key: hex('ccce187ed09a09d05728155a6cb96be1'), nonce: hex('e54930f97f2136f0530a8c1c') };

/** The IETF draft number of a draft version (0xff0000NN), else 0. */
export function draftNumber(version: number): number {
  return (version >>> 8) === 0xff0000 ? version & 0xff : 0;
}

/** The Initial salt of a version; null for versions whose Initials Tapscope cannot open. */
export function initialSalt(version: number): Uint8Array | null {
  if (version === QUIC_V1) return SALT_V1;
  if (version === QUIC_V2) return SALT_V2;
  const d = draftNumber(version);
  if (d >= 29 && d <= 32) return SALT_DRAFT29;
  if (d >= 23 && d <= 28) return SALT_DRAFT23;
  return null;
}

export interface PacketKeys {
  key: Uint8Array;
  iv: Uint8Array;
  hp: Uint8Array;
  cipher: RecordCipher;
}

export interface InitialKeys {
  client: PacketKeys;
  server: PacketKeys;
}

const NONE = new Uint8Array(0);
/** The Initial suite: TLS_AES_128_GCM_SHA256 (RFC 9001 §5.2). */
const INITIAL_SUITE = { cipher: 'aes-gcm', keyLen: 16, hash: 'sha256' } as const;

const labelPrefix = (version: number) => (version === QUIC_V2 ? 'quicv2 ' : 'quic ');

/** key, iv and hp of one direction from its traffic secret (RFC 9001 §5.1; v2 labels, RFC 9369 §3.3.2). */
export function packetKeys(secret: Uint8Array, version: number, suite: Pick<CipherSuite, 'cipher' | 'keyLen' | 'hash'> = INITIAL_SUITE): PacketKeys {
  const p = labelPrefix(version);
  return {
    key: hkdfExpandLabel(suite.hash, secret, `${p}key`, NONE, suite.keyLen),
    iv: hkdfExpandLabel(suite.hash, secret, `${p}iv`, NONE, 12),
    hp: hkdfExpandLabel(suite.hash, secret, `${p}hp`, NONE, suite.keyLen),
    cipher: suite.cipher,
  };
}

/** The secret after a key update (RFC 9001 §6.1; "quicv2 ku" for v2). */
export function nextSecret(secret: Uint8Array, version: number, hash: 'sha256' | 'sha384'): Uint8Array {
  return hkdfExpandLabel(hash, secret, `${labelPrefix(version)}ku`, NONE, secret.length);
}

/** The 5-byte header protection mask of a 16-byte sample (RFC 9001 §5.4.3 AES, §5.4.4 ChaCha20). */
function headerMask(keys: PacketKeys, sample: Uint8Array): Uint8Array {
  if (keys.cipher === 'chacha20-poly1305') {
    const counter = sample[0] | (sample[1] << 8) | (sample[2] << 16) | (sample[3] << 24);
    return chacha20(keys.hp, sample.subarray(4, 16), new Uint8Array(5), undefined, counter >>> 0);
  }
  return ecb(keys.hp, { disablePadding: true }).encrypt(sample);
}

/** Both directions' Initial secrets (RFC 9001 §5.2). */
export function initialSecrets(version: number, dcid: Uint8Array): { client: Uint8Array; server: Uint8Array } | null {
  const salt = initialSalt(version);
  if (!salt) return null;
  const initial = extract(sha256, dcid, salt);
  return { client: hkdfExpandLabel('sha256', initial, 'client in', NONE, 32), server: hkdfExpandLabel('sha256', initial, 'server in', NONE, 32) };
}

/** Initial keys from the Destination Connection ID of the client's first Initial; null for unknown versions. */
export function initialKeys(version: number, dcid: Uint8Array): InitialKeys | null {
  const s = initialSecrets(version, dcid);
  if (!s) return null;
  return { client: packetKeys(s.client, version), server: packetKeys(s.server, version) };
}

/**
 * Packet number from its truncated form (RFC 9000 §17.1, Appendix A.3): the candidate
 * closest to one more than the largest packet number received so far in that space.
 */
export function decodePacketNumber(largest: number, truncated: number, bits: number): number {
  const expected = largest + 1;
  const win = 2 ** bits;
  const hwin = win / 2;
  const candidate = expected - (expected % win) + truncated;
  if (candidate <= expected - hwin && candidate < 2 ** 62 - win) return candidate + win;
  if (candidate > expected + hwin && candidate >= win) return candidate - win;
  return candidate;
}

/** An opened packet: header with protection removed, full packet number, plaintext frames. */
export interface OpenedPacket {
  header: Uint8Array;
  firstByte: number;
  packetNumber: number;
  payload: Uint8Array;
}

/**
 * Removes header protection (RFC 9001 §5.4) and decrypts (§5.3) one packet: b[start, end) is the packet, pnOffset where its packet number starts. The capture
 * buffer is not modified. Returns null when the packet is too short or fails authentication
 * (wrong keys, corrupt data), never throws.
 */
export function openPacket(b: Uint8Array, start: number, pnOffset: number, end: number, keys: PacketKeys, largestPn: number): OpenedPacket | null {
  // The sample is 16 bytes from 4 bytes after the packet number's start (§5.4.2).
  if (pnOffset + 4 + 16 > end || pnOffset <= start) return null;
  try {
    const mask = headerMask(keys, b.subarray(pnOffset + 4, pnOffset + 20));
    const long = (b[start] & 0x80) !== 0;
    const firstByte = b[start] ^ (mask[0] & (long ? 0x0f : 0x1f));
    const pnLen = (firstByte & 0x03) + 1;
    const header = b.slice(start, pnOffset + pnLen);
    header[0] = firstByte;
    let truncated = 0;
    for (let i = 0; i < pnLen; i++) {
      header[pnOffset - start + i] ^= mask[1 + i];
      truncated = truncated * 256 + header[pnOffset - start + i];
    }
    const packetNumber = decodePacketNumber(largestPn, truncated, pnLen * 8);
    if (pnOffset + pnLen + 16 > end) return null;
    const nonce = keys.iv.slice();
    // Nonce: iv XOR the packet number, left-padded to the iv's length (§5.3).
    let pn = packetNumber;
    for (let i = nonce.length - 1; i >= nonce.length - 8 && pn > 0; i--) {
      nonce[i] ^= pn % 256;
      pn = Math.floor(pn / 256);
    }
    const payload = aeadOpen(keys.cipher, keys.key, nonce, header, b.subarray(pnOffset + pnLen, end));
    return payload ? { header, firstByte, packetNumber, payload } : null;
  } catch {
    return null; // authentication failed: not these keys, or damaged
  }
}

/**
 * Retry integrity (RFC 9001 §5.8): the last 16 bytes of a Retry are the AES-128-GCM tag of
 * an empty plaintext with the pseudo-packet (ODCID length, ODCID, Retry without its tag) as
 * AAD. True when the tag matches the client's original Destination Connection ID; null for
 * versions without a known Retry key.
 */
export function retryIntegrityValid(version: number, odcid: Uint8Array, b: Uint8Array, start: number, end: number): boolean | null {
  const d = draftNumber(version);
  const k = version === QUIC_V1 ? RETRY_V1 : version === QUIC_V2 ? RETRY_V2 : d >= 29 && d <= 32 ? RETRY_DRAFT29 : null;
  if (!k) return null;
  if (end - start < 16 + 7) return false;
  const pseudo = new Uint8Array(1 + odcid.length + (end - 16 - start));
  pseudo[0] = odcid.length;
  pseudo.set(odcid, 1);
  pseudo.set(b.subarray(start, end - 16), 1 + odcid.length);
  try {
    const tag = gcm(k.key, k.nonce, pseudo).encrypt(new Uint8Array(0));
    for (let i = 0; i < 16; i++) if (tag[i] !== b[end - 16 + i]) return false;
    return true;
  } catch {
    return false;
  }
}
