import { aeadOpen, cbcOpen, type CipherSuite } from './ciphers.js';
import { tls12KeyBlock, tls13NextSecret, tls13TrafficKeys } from './tls-keys.js';

/*
 * TLS RECORD PROTECTION of one direction under one key (RFC 8446 §5.2-5.3, RFC 5246 §6.2.3),
 * with its 64-bit sequence number (kept as a double: exact to 2^53 records).
 * - TLS 1.3: nonce = iv XOR seq (left-padded to 12 bytes); AAD = the record header
 *   (opaque_type 23, legacy_record_version, length); the plaintext is content || type ||
 *   zero padding, the inner type being the last non-zero byte.
 * - TLS 1.2 AES-GCM (RFC 5288 §3): explicit nonce(8) || ciphertext || tag, nonce = fixed
 *   iv(4) || explicit; ChaCha20-Poly1305 (RFC 7905 §2): nonce = iv XOR seq. AAD = seq(8) ||
 *   type(1) || version(2) || plaintext length(2).
 * - TLS 1.2 CBC: see cbcOpen.
 * `open` leaves the sequence number alone when a record fails, so the caller can try the
 * record under another key; `skip` counts a record that cannot be opened (lost in a gap).
 */
export class RecordProtection {
  /** Sequence number of the next record. */
  seq = 0;
  /** Content type of the last record opened (the inner type in TLS 1.3). */
  innerType = 0;

  constructor(
    readonly suite: CipherSuite,
    readonly key: Uint8Array,
    readonly iv: Uint8Array,
    readonly macKey: Uint8Array | null,
    /** TLS 1.3 traffic secret this key came from (for KeyUpdate); null for TLS 1.2. */
    readonly secret: Uint8Array | null,
    /** CBC with encrypt-then-MAC (RFC 7366). */
    readonly encryptThenMac = false,
  ) {}

  /** A TLS 1.3 direction keyed from a traffic secret. */
  static tls13(suite: CipherSuite, secret: Uint8Array): RecordProtection {
    const k = tls13TrafficKeys(suite, secret);
    return new RecordProtection(suite, k.key, k.iv, null, secret);
  }

  /** Both TLS 1.2 directions from the master secret and the hello randoms. */
  static tls12(suite: CipherSuite, master: Uint8Array, clientRandom: Uint8Array, serverRandom: Uint8Array, encryptThenMac = false): { client: RecordProtection; server: RecordProtection } {
    const k = tls12KeyBlock(suite, master, clientRandom, serverRandom);
    const cbc = suite.cipher === 'aes-cbc';
    const etm = cbc && encryptThenMac;
    return {
      client: new RecordProtection(suite, k.clientKey, k.clientIv, cbc ? k.clientMacKey : null, null, etm),
      server: new RecordProtection(suite, k.serverKey, k.serverIv, cbc ? k.serverMacKey : null, null, etm),
    };
  }

  /** The same direction after a TLS 1.3 KeyUpdate (RFC 8446 §7.2); sequence restarts at 0. */
  updated(): RecordProtection | null {
    return this.secret ? RecordProtection.tls13(this.suite, tls13NextSecret(this.suite, this.secret)) : null;
  }

  skip(): void {
    this.seq++;
  }

  /** Opens one record's fragment; the plaintext (content only), or null when it does not verify. */
  open(type: number, version: number, fragment: Uint8Array): Uint8Array | null {
    const s = this.suite;
    let out: Uint8Array | null;
    if (s.tls13) out = this.open13(version, fragment);
    else if (s.cipher === 'aes-cbc') {
      out = cbcOpen(this.key, this.macKey!, s.mac!, BigInt(this.seq), type, version, fragment, this.encryptThenMac);
      this.innerType = type;
    } else out = this.open12Aead(type, version, fragment);
    if (out) this.seq++;
    return out;
  }

  private seqNonce(iv: Uint8Array): Uint8Array {
    const n = iv.slice();
    let q = this.seq;
    for (let i = 11; i >= 4 && q > 0; i--) {
      n[i] ^= q % 256;
      q = Math.floor(q / 256);
    }
    return n;
  }

  private open13(version: number, fragment: Uint8Array): Uint8Array | null {
    const aad = Uint8Array.of(23, version >> 8, version & 0xff, fragment.length >> 8, fragment.length & 0xff);
    const p = aeadOpen(this.suite.cipher, this.key, this.seqNonce(this.iv), aad, fragment);
    if (!p) return null;
    let end = p.length;
    while (end > 0 && p[end - 1] === 0) end--;
    if (end === 0) return null; // all padding: no content type (RFC 8446 §5.4 unexpected_message)
    this.innerType = p[end - 1];
    return p.subarray(0, end - 1);
  }

  private open12Aead(type: number, version: number, fragment: Uint8Array): Uint8Array | null {
    let nonce: Uint8Array;
    let sealed: Uint8Array;
    if (this.suite.cipher === 'aes-gcm') {
      if (fragment.length < 8 + 16) return null;
      nonce = new Uint8Array(12);
      nonce.set(this.iv);
      nonce.set(fragment.subarray(0, 8), 4);
      sealed = fragment.subarray(8);
    } else {
      nonce = this.seqNonce(this.iv);
      sealed = fragment;
    }
    const len = sealed.length - 16;
    if (len < 0) return null;
    const aad = new Uint8Array(13);
    new DataView(aad.buffer).setBigUint64(0, BigInt(this.seq));
    aad[8] = type;
    aad[9] = version >> 8;
    aad[10] = version & 0xff;
    aad[11] = len >> 8;
    aad[12] = len & 0xff;
    this.innerType = type;
    return aeadOpen(this.suite.cipher, this.key, nonce, aad, sealed);
  }
}
