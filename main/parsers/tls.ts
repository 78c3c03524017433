import type { StreamEnd, StreamSink } from '../reassembly/tcp-stream.js';
import { parseCertificate, type CertificateInfo } from './x509.js';

/*
 * TLS record layer (RFC 8446 §5.1, RFC 5246 §6.2) over one reassembled direction:
 *   content type(8) | legacy version(16) | length(16) | fragment
 * Handshake messages (type(8) length(24) body) may span records and records may span
 * segments; only handshake bytes before ChangeCipherSpec are buffered (bounded), the rest
 * is counted. ClientHello (§4.1.2): version, random, session id, cipher suites, compression,
 * extensions server_name(0) (RFC 6066 §3), ALPN(16) (RFC 7301), supported_versions(43).
 */

export const TLS_CHANGE_CIPHER_SPEC = 20;
export const TLS_ALERT = 21;
export const TLS_HANDSHAKE = 22;
export const TLS_APPLICATION_DATA = 23;
const TLS_HEARTBEAT = 24;

const HS_CLIENT_HELLO = 1;
const HS_SERVER_HELLO = 2;
const HS_CERTIFICATE = 11;

const EXT_SERVER_NAME = 0;
const EXT_ALPN = 16;
const EXT_ENCRYPT_THEN_MAC = 22;
const EXT_EARLY_DATA = 42;
const EXT_SUPPORTED_VERSIONS = 43;

/** RFC 8446 §4.1.3: a ServerHello with this random is a HelloRetryRequest (SHA-256 of "HelloRetryRequest"). */
const HELLO_RETRY_RANDOM = 'cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c';

const MAX_HANDSHAKE_BUFFER = 256 * 1024;

export interface ClientHelloInfo {
  sni: string | null;
  alpn: string[];
  /** Offered versions: supported_versions when present, else the legacy version. */
  versions: string[];
  /** ClientHello.random (32 bytes): names the session in key logs. */
  random: Uint8Array;
  /** The early_data extension (RFC 8446 §4.2.10): 0-RTT records follow the ClientHello. */
  earlyData: boolean;
}

export interface ServerHelloInfo {
  version: string;
  cipher: string;
  alpn: string | null;
  /** Negotiated version number (supported_versions for TLS 1.3) and cipher suite number. */
  versionNumber: number;
  cipherSuite: number;
  random: Uint8Array;
  /** RFC 7366 encrypt_then_mac accepted. */
  encryptThenMac: boolean;
  /** A HelloRetryRequest (RFC 8446 §4.1.4): a second ClientHello and ServerHello follow. */
  helloRetry: boolean;
}

export interface TlsEvents {
  clientHello(h: ClientHelloInfo, ts: number): void;
  serverHello(h: ServerHelloInfo, ts: number): void;
  certificate(c: CertificateInfo | null, ts: number): void;
  changeCipherSpec(fromClient: boolean, ts: number): void;
  /** A handshake record sent after this side's ChangeCipherSpec (its encrypted Finished). */
  encryptedHandshake(fromClient: boolean, ts: number): void;
  /** An application-data record of `len` bytes starts (encrypted: TLS 1.3 handshake records too). */
  applicationData(fromClient: boolean, ts: number, len: number): void;
  /** Plaintext alert (level 1 warning, 2 fatal), or an encrypted one (level and description -1). */
  alert(fromClient: boolean, level: number, description: number, ts: number): void;
  end(fromClient: boolean, ts: number, how: StreamEnd): void;
  /**
   * A protected record (application data, or a handshake or alert after ChangeCipherSpec),
   * delivered only after `collectProtected()`: outer type, version and fragment, or a null
   * fragment when the capture lost part of it (`len` is then its length). The fragment is
   * valid during the call only.
   */
  protectedRecord?(fromClient: boolean, type: number, version: number, fragment: Uint8Array | null, len: number, ts: number): void;
  /** A record header was read, before its bytes (keys that arrived late can still catch it). */
  recordStart?(fromClient: boolean): void;
}

export function tlsVersionName(v: number): string {
  switch (v) {
    case 0x0300: return 'SSL 3.0';
    case 0x0301: return 'TLS 1.0';
    case 0x0302: return 'TLS 1.1';
    case 0x0303: return 'TLS 1.2';
    case 0x0304: return 'TLS 1.3';
    default: return (v & 0x0f0f) === 0x0a0a ? 'GREASE' : `0x${v.toString(16).padStart(4, '0')}`;
  }
}

/** RFC 8446 §6 AlertDescription. */
export const ALERT_NAMES: Record<number, string> = {
  0: 'close_notify', 10: 'unexpected_message', 20: 'bad_record_mac', 21: 'decryption_failed', 22: 'record_overflow',
  30: 'decompression_failure', 40: 'handshake_failure', 41: 'no_certificate', 42: 'bad_certificate',
  43: 'unsupported_certificate', 44: 'certificate_revoked', 45: 'certificate_expired', 46: 'certificate_unknown',
  47: 'illegal_parameter', 48: 'unknown_ca', 49: 'access_denied', 50: 'decode_error', 51: 'decrypt_error',
  60: 'export_restriction', 70: 'protocol_version', 71: 'insufficient_security', 80: 'internal_error',
  86: 'inappropriate_fallback', 90: 'user_canceled', 100: 'no_renegotiation', 109: 'missing_extension',
  110: 'unsupported_extension', 111: 'certificate_unobtainable', 112: 'unrecognized_name',
  113: 'bad_certificate_status_response', 114: 'bad_certificate_hash_value', 115: 'unknown_psk_identity',
  116: 'certificate_required', 120: 'no_application_protocol',
};

const CIPHER_NAMES: Record<number, string> = {
  0x1301: 'TLS_AES_128_GCM_SHA256', 0x1302: 'TLS_AES_256_GCM_SHA384', 0x1303: 'TLS_CHACHA20_POLY1305_SHA256',
  0xc02b: 'TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256', 0xc02c: 'TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384',
  0xc02f: 'TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256', 0xc030: 'TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384',
  0xcca8: 'TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256', 0xcca9: 'TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256',
  0xc013: 'TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA', 0xc014: 'TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA',
  0x009c: 'TLS_RSA_WITH_AES_128_GCM_SHA256', 0x009d: 'TLS_RSA_WITH_AES_256_GCM_SHA384',
  0x002f: 'TLS_RSA_WITH_AES_128_CBC_SHA', 0x0035: 'TLS_RSA_WITH_AES_256_CBC_SHA', 0x000a: 'TLS_RSA_WITH_3DES_EDE_CBC_SHA',
};

export function cipherName(c: number): string {
  return CIPHER_NAMES[c] ?? `0x${c.toString(16).padStart(4, '0')}`;
}

/** Does the payload start like a TLS record (handshake, alert or CCS; version 3.x)? */
export function looksLikeTls(b: Uint8Array, off: number, len: number): boolean {
  return len >= 5 && b[off] >= TLS_CHANGE_CIPHER_SPEC && b[off] <= TLS_HANDSHAKE && b[off + 1] === 3 && b[off + 2] <= 4;
}

const u16 = (b: Uint8Array, o: number) => (b[o] << 8) | b[o + 1];
const u24 = (b: Uint8Array, o: number) => (b[o] << 16) | (b[o + 1] << 8) | b[o + 2];

export const HS_CERTIFICATE_TYPE = HS_CERTIFICATE;

/**
 * The server's certificate from a TLS 1.3 Certificate message body (RFC 8446 §4.4.2):
 * certificate_request_context<1>, certificate_list<3> of { cert_data<3>, extensions<2> };
 * the first entry is the server's. Seen only when the handshake was decrypted.
 */
export function tls13Certificate(b: Uint8Array): CertificateInfo | null {
  if (b.length < 1) return null;
  const o = 1 + b[0];
  if (o + 6 > b.length) return null;
  const n = u24(b, o + 3);
  return o + 6 + n <= b.length ? parseCertificate(b, o + 6, n) : null;
}

/** One direction of a TLS connection. */
export class TlsStreamParser implements StreamSink {
  private hdr = new Uint8Array(5);
  private hdrLen = 0;
  private type = 0;
  private remaining = 0;
  private hs = new Uint8Array(0);
  private hsLen = 0;
  private hsOverflow = false;
  private alertBuf = new Uint8Array(2);
  private alertLen = 0;
  private encrypted = false;
  /**
   * After a HelloRetryRequest both sides may send their middlebox-compatibility
   * ChangeCipherSpec (RFC 8446 D.4) before the second ClientHello / real ServerHello, which
   * are still clear text: a CCS does not start protection until that hello is read.
   */
  private helloAfterRetry = false;
  private dead = false;
  /** Protected records are buffered and handed to the events (keys are known). */
  private collect = false;
  private recBuf: Uint8Array | null = null;
  private recLen = 0;
  private recProtected = false;
  private recLost = false;
  records = 0;

  constructor(readonly fromClient: boolean, private ev: TlsEvents) {}

  /** The server chose TLS 1.3: its handshake after ServerHello is encrypted (RFC 8446 §2). */
  markEncrypted(): void {
    this.encrypted = true;
  }

  /** A HelloRetryRequest was sent: this side's next hello is in clear text, whatever CCS comes first. */
  awaitHelloAfterRetry(): void {
    this.helloAfterRetry = true;
  }

  /** Keys for this connection are known: hand over protected records (see TlsEvents.protectedRecord). */
  collectProtected(): void {
    this.collect = true;
  }

  get isDead(): boolean {
    return this.dead;
  }

  data(b: Uint8Array, off: number, len: number, ts: number): void {
    let i = off;
    const end = off + len;
    while (i < end && !this.dead) {
      if (this.remaining === 0 && this.hdrLen < 5) {
        const n = Math.min(5 - this.hdrLen, end - i);
        this.hdr.set(b.subarray(i, i + n), this.hdrLen);
        this.hdrLen += n;
        i += n;
        if (this.hdrLen < 5) return;
        this.startRecord(ts);
        continue;
      }
      const n = Math.min(this.remaining, end - i);
      this.recordBytes(b, i, n, ts);
      i += n;
      this.remaining -= n;
      if (this.remaining === 0) this.endRecord(ts);
    }
  }

  gap(len: number, ts: number): void {
    // A gap inside an application-data record is harmless; anywhere else framing is lost.
    if (this.remaining > 0 && this.type === TLS_APPLICATION_DATA && len < this.remaining) {
      this.remaining -= len;
      this.recLost = true;
      return;
    }
    if (this.remaining > 0 && this.type === TLS_APPLICATION_DATA && len === this.remaining) {
      this.remaining = 0;
      this.hdrLen = 0;
      this.recLost = true;
      this.endRecord(ts);
      return;
    }
    void ts;
    this.dead = true;
  }

  end(ts: number, how: StreamEnd): void {
    this.dead = true;
    this.ev.end(this.fromClient, ts, how);
  }

  private startRecord(ts: number): void {
    const h = this.hdr;
    this.type = h[0];
    const len = u16(h, 3);
    if (this.type < TLS_CHANGE_CIPHER_SPEC || this.type > TLS_HEARTBEAT || h[1] !== 3 || len > 18432) {
      this.dead = true; // not TLS (or lost framing)
      return;
    }
    this.records++;
    this.ev.recordStart?.(this.fromClient);
    this.remaining = len;
    this.hdrLen = 0;
    this.alertLen = 0;
    this.recProtected = this.collect && this.type !== TLS_CHANGE_CIPHER_SPEC && (this.type === TLS_APPLICATION_DATA || this.encrypted);
    this.recLen = 0;
    this.recLost = false;
    if (this.recProtected && (this.recBuf === null || this.recBuf.length < len)) this.recBuf = new Uint8Array(Math.max(len, 2048));
    if (this.type === TLS_APPLICATION_DATA) this.ev.applicationData(this.fromClient, ts, len);
    else if (this.type === TLS_HANDSHAKE && this.encrypted) this.ev.encryptedHandshake(this.fromClient, ts);
    else if (this.type === TLS_CHANGE_CIPHER_SPEC) {
      if (!this.helloAfterRetry) this.encrypted = true;
      this.ev.changeCipherSpec(this.fromClient, ts);
    }
    if (len === 0) this.endRecord(ts);
  }

  private recordBytes(b: Uint8Array, i: number, n: number, ts: number): void {
    if (this.recProtected) {
      this.recBuf!.set(b.subarray(i, i + n), this.recLen);
      this.recLen += n;
      return;
    }
    if (this.type === TLS_HANDSHAKE && !this.encrypted) {
      if (this.hsOverflow) return;
      if (this.hsLen + n > MAX_HANDSHAKE_BUFFER) {
        this.hsOverflow = true;
        return;
      }
      if (this.hsLen + n > this.hs.length) {
        const g = new Uint8Array(Math.min(MAX_HANDSHAKE_BUFFER, Math.max(this.hs.length * 2, this.hsLen + n, 1024)));
        g.set(this.hs.subarray(0, this.hsLen));
        this.hs = g;
      }
      this.hs.set(b.subarray(i, i + n), this.hsLen);
      this.hsLen += n;
      this.parseHandshakes(ts);
    } else if (this.type === TLS_ALERT) {
      for (let k = 0; k < n && this.alertLen < 2; k++) this.alertBuf[this.alertLen++] = b[i + k];
    }
  }

  private endRecord(ts: number): void {
    if (this.recProtected) {
      const len = u16(this.hdr, 3);
      const version = u16(this.hdr, 1);
      this.ev.protectedRecord?.(this.fromClient, this.type, version, this.recLost ? null : this.recBuf!.subarray(0, this.recLen), len, ts);
      this.recProtected = false;
    }
    if (this.type === TLS_ALERT) {
      if (this.encrypted || this.alertLen < 2) this.ev.alert(this.fromClient, -1, -1, ts);
      else this.ev.alert(this.fromClient, this.alertBuf[0], this.alertBuf[1], ts);
    }
  }

  /** Handles every complete handshake message in the buffer. */
  private parseHandshakes(ts: number): void {
    let o = 0;
    while (this.hsLen - o >= 4) {
      const type = this.hs[o];
      const len = u24(this.hs, o + 1);
      if (len > MAX_HANDSHAKE_BUFFER) {
        this.hsOverflow = true;
        return;
      }
      if (this.hsLen - o - 4 < len) break;
      try {
        this.handshakeMessage(type, o + 4, len, ts);
      } catch {
        // A malformed message is skipped: the parser never throws on hostile input.
      }
      o += 4 + len;
    }
    if (o > 0) {
      this.hs.copyWithin(0, o, this.hsLen);
      this.hsLen -= o;
    }
  }

  private handshakeMessage(type: number, s: number, len: number, ts: number): void {
    const b = this.hs;
    const e = s + len;
    if (type === HS_CLIENT_HELLO && this.fromClient) {
      if (len < 38) return;
      const info: ClientHelloInfo = { sni: null, alpn: [], versions: [], random: b.slice(s + 2, s + 34), earlyData: false };
      const legacy = u16(b, s);
      let o = s + 34;
      o += 1 + b[o]; // session id
      if (o + 2 > e) return;
      o += 2 + u16(b, o); // cipher suites
      if (o + 1 > e) return;
      o += 1 + b[o]; // compression methods
      if (o + 2 <= e) this.extensions(b, o + 2, Math.min(e, o + 2 + u16(b, o)), info, null);
      if (info.versions.length === 0) info.versions.push(tlsVersionName(legacy));
      this.helloAfterRetry = false;
      this.ev.clientHello(info, ts);
    } else if (type === HS_SERVER_HELLO && !this.fromClient) {
      if (len < 38) return;
      const random = b.slice(s + 2, s + 34);
      const info: ServerHelloInfo = {
        version: tlsVersionName(u16(b, s)), cipher: '', alpn: null, versionNumber: u16(b, s), cipherSuite: 0, random,
        encryptThenMac: false, helloRetry: Buffer.from(random).toString('hex') === HELLO_RETRY_RANDOM,
      };
      let o = s + 34;
      o += 1 + b[o];
      if (o + 3 > e) return;
      info.cipherSuite = u16(b, o);
      info.cipher = cipherName(info.cipherSuite);
      o += 3; // cipher suite, compression method
      if (o + 2 <= e) this.extensions(b, o + 2, Math.min(e, o + 2 + u16(b, o)), null, info);
      this.helloAfterRetry = info.helloRetry;
      this.ev.serverHello(info, ts);
    } else if (type === HS_CERTIFICATE && !this.fromClient) {
      // TLS 1.2 (RFC 5246 §7.4.2): certificate_list<3> of ASN.1Cert<3>; the first is the server's.
      if (len < 6) return;
      const first = u24(b, s + 3);
      this.ev.certificate(s + 6 + first <= e ? parseCertificate(b, s + 6, first) : null, ts);
    }
  }

  private extensions(b: Uint8Array, o: number, e: number, ch: ClientHelloInfo | null, sh: ServerHelloInfo | null): void {
    while (o + 4 <= e) {
      const type = u16(b, o);
      const len = u16(b, o + 2);
      const s = o + 4;
      const x = s + len;
      if (x > e) return;
      if (ch && type === EXT_SERVER_NAME && len >= 5) {
        // server_name_list<2> of { name_type(8) = 0 host_name, HostName<2> }
        if (b[s + 2] === 0) {
          const n = u16(b, s + 3);
          if (s + 5 + n <= x) ch.sni = Buffer.from(b.buffer, b.byteOffset + s + 5, n).toString('latin1');
        }
      } else if (type === EXT_ALPN && len >= 2) {
        const list: string[] = [];
        for (let p = s + 2; p < x;) {
          const n = b[p];
          if (p + 1 + n > x) break;
          list.push(Buffer.from(b.buffer, b.byteOffset + p + 1, n).toString('latin1'));
          p += 1 + n;
        }
        if (ch) ch.alpn = list;
        if (sh) sh.alpn = list[0] ?? null;
      } else if (type === EXT_SUPPORTED_VERSIONS) {
        if (ch && len >= 1) {
          for (let p = s + 1; p + 2 <= Math.min(x, s + 1 + b[s]); p += 2) {
            const v = tlsVersionName(u16(b, p));
            if (v !== 'GREASE') ch.versions.push(v);
          }
        } else if (sh && len === 2) {
          sh.versionNumber = u16(b, s);
          sh.version = tlsVersionName(sh.versionNumber);
        }
      } else if (type === EXT_EARLY_DATA && ch) ch.earlyData = true;
      else if (type === EXT_ENCRYPT_THEN_MAC && sh) sh.encryptThenMac = true;
      o = x;
    }
  }
}
