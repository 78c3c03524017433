import type { StreamEnd, StreamSink } from '../reassembly/tcp-stream.js';
import { cipherSuite, macLength, type CipherSuite } from './ciphers.js';
import type { TlsSessionSecrets } from './key-log.js';
import { RecordProtection } from './tls-records.js';

/** Where a connection's decrypted application data goes (both directions). */
export interface DecryptedApp {
  client: StreamSink;
  server: StreamSink;
}

export interface TlsDecryptorHost {
  /**
   * The first decrypted application data of the connection: return the sinks for it (from
   * the ALPN protocol, or by looking at the bytes), or null to drop the plaintext.
   */
  openApp(alpn: string | null, fromClient: boolean, b: Uint8Array, off: number, len: number): DecryptedApp | null;
  /** One message for the report (at most a few per connection). */
  warn(message: string): void;
  /** A decrypted TLS 1.3 handshake message (body valid during the call only), e.g. the server's Certificate. */
  handshakeMessage?(fromClient: boolean, type: number, body: Uint8Array): void;
}

/** What the ServerHello fixed (RFC 8446 §4.1.3, RFC 5246 §7.4.1.3). */
export interface ServerHelloParams {
  /** Negotiated version number (supported_versions for TLS 1.3). */
  version: number;
  cipherSuite: number;
  random: Uint8Array;
  alpn: string | null;
  /** RFC 7366 encrypt_then_mac was accepted (CBC suites only). */
  encryptThenMac: boolean;
}

const TLS_VERSION_13 = 0x0304;
const CT_ALERT = 21;
const CT_HANDSHAKE = 22;
const CT_APPLICATION_DATA = 23;
// RFC 8446 §4 HandshakeType values the key schedule follows.
const HS_END_OF_EARLY_DATA = 5;
const HS_ENCRYPTED_EXTENSIONS = 8;
const HS_FINISHED = 20;
const HS_KEY_UPDATE = 24;
const EXT_ALPN = 16;

/** Handshake bytes buffered per direction; longer messages (certificates) are skipped, not kept. */
const MAX_HANDSHAKE_MESSAGE = 32 * 1024;
/** A message buffer grown past this is released after its message (certificates are rare and big). */
const KEEP_HANDSHAKE_BUFFER = 1024;
/** Client records held until the ServerHello names the cipher (0-RTT data comes first). */
const MAX_EARLY_HELD_BYTES = 64 * 1024;

const hex8 = (b: Uint8Array) => Array.from(b.subarray(0, 8), (x) => x.toString(16).padStart(2, '0')).join('');

/** One direction: its record keys in key-schedule order, the current one, and what was opened. */
class Direction {
  /** TLS 1.3: traffic secrets of this direction in order (early, handshake, application). */
  stages: (Uint8Array | null)[] = [];
  stage = 0;
  prot: RecordProtection | null = null;
  decrypted = 0;
  failures = 0;
  consecutiveFailures = 0;
  /** Gave up after records that no key opened. */
  dead = false;
  /** Key change requested by a handshake message, applied after the record carrying it. */
  pendingStage = -1;
  pendingUpdate = false;
  // Handshake message splitter (RFC 8446 §4: type(8) length(24) body).
  hs = new Uint8Array(0);
  hsLen = 0;
  skipBody = 0;
}

/*
 * TLS SESSION DECRYPTION (one connection, both directions), fed with the protected records
 * the TLS parser found, in order per direction.
 * - TLS 1.2: each direction is protected from its ChangeCipherSpec on, with keys from the
 *   master secret (CLIENT_RANDOM).
 * - TLS 1.3 (RFC 8446 §2, §7): the server's records after ServerHello use the server
 *   handshake secret, after its Finished SERVER_TRAFFIC_SECRET_0; the client's 0-RTT records
 *   (sent before the ServerHello, which names the cipher, so they are held until it comes)
 *   use CLIENT_EARLY_TRAFFIC_SECRET up to EndOfEarlyData, then the client handshake secret up
 *   to its Finished, then CLIENT_TRAFFIC_SECRET_0. A KeyUpdate moves its sender to the next
 *   secret. A record that fails under the current key is tried under the next stage's key
 *   and the updated key (the message that announced the change may be in a lost segment;
 *   the server may have rejected 0-RTT data), and adopted if that one opens it.
 * - Early data without CLIENT_EARLY_TRAFFIC_SECRET stays undecrypted (one warning).
 * - A record nothing opens (a wrong key log) is counted; the direction gives up after two
 *   in a row or when it never opened one: one warning per connection, no exception.
 * Decrypted application data goes to the sinks `openApp` returns, with the timestamp of the
 * packet that completed each record. Nothing is kept once delivered.
 */
export class TlsDecryptor {
  decryptedRecords = 0;
  failedRecords = 0;
  earlyRecordsUndecrypted = 0;
  private suite: CipherSuite | null = null;
  private tls13 = false;
  private client = new Direction();
  private server = new Direction();
  private tls12Keys: { client: RecordProtection; server: RecordProtection } | null = null;
  private alpn: string | null = null;
  private app: DecryptedApp | null = null;
  private appRefused = false;
  private off = false;
  private warnedFailure = false;
  private warnedEarly = false;
  /** Client records before the ServerHello (0-RTT), with their sizes. */
  private held: { type: number; version: number; fragment: Uint8Array | null; len: number; ts: number }[] = [];
  private heldBytes = 0;
  private helloSeen = false;

  constructor(
    private secrets: TlsSessionSecrets,
    private clientRandom: Uint8Array,
    private offeredEarlyData: boolean,
    private host: TlsDecryptorHost,
    /** Names the connection in warnings, e.g. "connection 3". */
    private label: string,
  ) {}

  /** Decrypted at least one record. */
  get decrypted(): boolean {
    return this.decryptedRecords > 0;
  }

  serverHello(p: ServerHelloParams): void {
    if (this.helloSeen || this.off) return;
    this.helloSeen = true;
    this.alpn = p.alpn;
    const suite = cipherSuite(p.cipherSuite);
    if (!suite || suite.tls13 !== (p.version === TLS_VERSION_13)) {
      this.disable(`cipher suite 0x${p.cipherSuite.toString(16).padStart(4, '0')} is not one Tapscope decrypts`);
      return;
    }
    this.suite = suite;
    this.tls13 = suite.tls13;
    const s = this.secrets;
    if (this.tls13) {
      this.client.stages = [this.offeredEarlyData ? s.clientEarlyTrafficSecret ?? null : null, s.clientHandshakeTrafficSecret ?? null, s.clientTrafficSecret0 ?? null];
      this.server.stages = [null, s.serverHandshakeTrafficSecret ?? null, s.serverTrafficSecret0 ?? null];
      if (this.client.stages.every((x) => !x) && this.server.stages.every((x) => !x)) {
        this.disable('the key log has no TLS 1.3 traffic secrets for this session');
        return;
      }
      this.setStage(this.client, this.offeredEarlyData && s.clientEarlyTrafficSecret ? 0 : 1);
      this.setStage(this.server, 1);
      const held = this.held;
      this.held = [];
      for (const r of held) this.record(true, r.type, r.version, r.fragment, r.len, r.ts);
    } else {
      if (!s.masterSecret) {
        this.disable('the key log has no CLIENT_RANDOM master secret for this TLS 1.2 session');
        return;
      }
      this.tls12Keys = RecordProtection.tls12(suite, s.masterSecret, this.clientRandom, p.random, p.encryptThenMac);
    }
  }

  /** TLS 1.2: this direction's records are protected from now on (RFC 5246 §7.1). */
  changeCipherSpec(fromClient: boolean): void {
    if (this.tls13 || !this.tls12Keys) return;
    const d = fromClient ? this.client : this.server;
    if (d.prot) return; // renegotiation under encryption is not followed
    d.prot = fromClient ? this.tls12Keys.client : this.tls12Keys.server;
  }

  /**
   * One protected record of this direction: its outer type and version and its fragment, or
   * null when the capture lost part of it (then `len` is its length).
   */
  record(fromClient: boolean, type: number, version: number, fragment: Uint8Array | null, len: number, ts: number): void {
    if (this.off) return;
    if (fromClient && !this.helloSeen) {
      // 0-RTT data: the ServerHello (which names the cipher) has not been seen yet.
      if (this.heldBytes + len <= MAX_EARLY_HELD_BYTES) {
        this.held.push({ type, version, fragment: fragment ? fragment.slice() : null, len, ts });
        this.heldBytes += len;
      } else this.earlyRecordsUndecrypted++;
      return;
    }
    const d = fromClient ? this.client : this.server;
    if (d.dead) return;
    if (!d.prot && !(this.tls13 && d.stages.some((x) => x))) return;
    if (!fragment) {
      d.prot?.skip();
      this.lost(fromClient, len, ts);
      return;
    }
    const plain = this.open(d, type, version, fragment);
    if (!plain) {
      this.failure(d, fromClient);
      return;
    }
    this.decryptedRecords++;
    d.decrypted++;
    d.consecutiveFailures = 0;
    const inner = d.prot!.innerType;
    if (inner === CT_HANDSHAKE) this.handshakeBytes(d, fromClient, plain);
    else if (inner === CT_APPLICATION_DATA) this.appData(fromClient, plain, ts);
    // Alerts (CT_ALERT) and anything else: nothing to follow.
    void CT_ALERT;
    if (d.pendingStage >= 0) {
      this.setStage(d, d.pendingStage);
      d.pendingStage = -1;
    }
    if (d.pendingUpdate) {
      d.prot = d.prot!.updated();
      d.pendingUpdate = false;
    }
  }

  /** The direction ended (FIN, reset or end of capture). */
  end(fromClient: boolean, ts: number, how: StreamEnd): void {
    if (fromClient && this.held.length > 0) {
      this.earlyRecordsUndecrypted += this.held.length; // no ServerHello ever came
      this.held = [];
    }
    const sink = this.app ? (fromClient ? this.app.client : this.app.server) : null;
    sink?.end(ts, how);
  }

  private setStage(d: Direction, stage: number): void {
    d.stage = stage;
    const secret = d.stages[stage];
    d.prot = secret && this.suite ? RecordProtection.tls13(this.suite, secret) : null;
  }

  /** Opens under the current key, else (TLS 1.3) the next stages' or the updated key. */
  private open(d: Direction, type: number, version: number, fragment: Uint8Array): Uint8Array | null {
    if (d.prot) {
      const p = d.prot.open(type, version, fragment);
      if (p) return p;
    }
    if (!this.tls13 || !this.suite) return null;
    for (let s = d.stage + 1; s < d.stages.length; s++) {
      const secret = d.stages[s];
      if (!secret) continue;
      const alt = RecordProtection.tls13(this.suite, secret);
      const p = alt.open(type, version, fragment);
      if (p) {
        d.stage = s;
        d.prot = alt;
        return p;
      }
    }
    const upd = d.prot?.updated();
    if (upd) {
      const p = upd.open(type, version, fragment);
      if (p) {
        d.prot = upd;
        return p;
      }
    }
    return null;
  }

  private failure(d: Direction, fromClient: boolean): void {
    if (fromClient && this.tls13 && this.offeredEarlyData && d.decrypted === 0 && !this.secrets.clientEarlyTrafficSecret) {
      // 0-RTT records, and no early secret to open them with (RFC 8446 §4.2.10).
      this.earlyRecordsUndecrypted++;
      if (!this.warnedEarly) {
        this.warnedEarly = true;
        this.host.warn(`TLS ${this.label}: 0-RTT early data not decrypted: the key log has no CLIENT_EARLY_TRAFFIC_SECRET for client random ${hex8(this.clientRandom)}...`);
      }
      return;
    }
    this.failedRecords++;
    d.failures++;
    d.consecutiveFailures++;
    d.prot?.skip();
    if (d.decrypted === 0 || d.consecutiveFailures >= 2) d.dead = true;
    if (!this.warnedFailure) {
      this.warnedFailure = true;
      this.host.warn(`TLS ${this.label}: ${fromClient ? 'client' : 'server'} records do not decrypt with the key log's secrets for client random ${hex8(this.clientRandom)}... (wrong or stale key log?); left undecrypted`);
    }
  }

  private disable(why: string): void {
    this.off = true;
    this.held = [];
    this.host.warn(`TLS ${this.label}: not decrypted: ${why}`);
  }

  private lost(fromClient: boolean, len: number, ts: number): void {
    const sink = this.app ? (fromClient ? this.app.client : this.app.server) : null;
    if (!sink || !this.suite) return;
    // Plaintext length of the lost record, less the protection's overhead.
    const s = this.suite;
    const overhead = s.tls13 ? 17 : s.cipher === 'aes-gcm' ? 24 : s.cipher === 'chacha20-poly1305' ? 16 : 16 + macLength(s.mac!) + 1;
    if (len > overhead) sink.gap(len - overhead, ts);
  }

  private appData(fromClient: boolean, plain: Uint8Array, ts: number): void {
    if (plain.length === 0) return;
    if (!this.app) {
      if (this.appRefused) return;
      this.app = this.host.openApp(this.alpn, fromClient, plain, 0, plain.length);
      if (!this.app) {
        this.appRefused = true;
        return;
      }
    }
    (fromClient ? this.app.client : this.app.server).data(plain, 0, plain.length, ts);
  }

  /** Splits decrypted handshake bytes into messages and follows the ones that change keys. */
  private handshakeBytes(d: Direction, fromClient: boolean, b: Uint8Array): void {
    let i = 0;
    while (i < b.length) {
      if (d.skipBody > 0) {
        const n = Math.min(d.skipBody, b.length - i);
        d.skipBody -= n;
        i += n;
        continue;
      }
      if (d.hs.length < 4) d.hs = new Uint8Array(64);
      if (d.hsLen < 4) {
        const n = Math.min(4 - d.hsLen, b.length - i);
        d.hs.set(b.subarray(i, i + n), d.hsLen);
        d.hsLen += n;
        i += n;
        if (d.hsLen < 4) return;
        const len = (d.hs[1] << 16) | (d.hs[2] << 8) | d.hs[3];
        if (len > MAX_HANDSHAKE_MESSAGE) {
          // Too long to keep (a certificate chain): only its type matters; its body is skipped.
          this.handshakeMessage(d, fromClient, d.hs[0], null);
          d.skipBody = len;
          d.hsLen = 0;
          continue;
        }
        if (d.hs.length < 4 + len) {
          const g = new Uint8Array(4 + len);
          g.set(d.hs.subarray(0, 4));
          d.hs = g;
        }
      }
      const full = 4 + ((d.hs[1] << 16) | (d.hs[2] << 8) | d.hs[3]);
      const n = Math.min(full - d.hsLen, b.length - i);
      d.hs.set(b.subarray(i, i + n), d.hsLen);
      d.hsLen += n;
      i += n;
      if (d.hsLen === full) {
        this.handshakeMessage(d, fromClient, d.hs[0], d.hs.subarray(4, full));
        d.hsLen = 0;
        if (d.hs.length > KEEP_HANDSHAKE_BUFFER) d.hs = new Uint8Array(64);
      }
    }
  }

  private handshakeMessage(d: Direction, fromClient: boolean, type: number, body: Uint8Array | null): void {
    if (!this.tls13) return; // TLS 1.2: only Finished (or a renegotiation) here, nothing to follow
    if (type === HS_FINISHED) d.pendingStage = 2;
    else if (type === HS_END_OF_EARLY_DATA && fromClient) d.pendingStage = 1;
    else if (type === HS_KEY_UPDATE) d.pendingUpdate = true;
    else if (type === HS_ENCRYPTED_EXTENSIONS && !fromClient && body) this.alpn = alpnOf(body) ?? this.alpn;
    if (body) this.host.handshakeMessage?.(fromClient, type, body);
  }
}

/** ALPN (RFC 7301 §3.1) from an EncryptedExtensions body: extensions<2> of type(2) data<2>. */
function alpnOf(b: Uint8Array): string | null {
  if (b.length < 2) return null;
  const end = Math.min(b.length, 2 + ((b[0] << 8) | b[1]));
  for (let o = 2; o + 4 <= end;) {
    const type = (b[o] << 8) | b[o + 1];
    const len = (b[o + 2] << 8) | b[o + 3];
    const s = o + 4;
    if (s + len > end) return null;
    if (type === EXT_ALPN && len >= 4) {
      const n = b[s + 2];
      if (s + 3 + n <= s + len) return String.fromCharCode(...b.subarray(s + 3, s + 3 + n));
    }
    o = s + len;
  }
  return null;
}
