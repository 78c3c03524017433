import { ALERT_NAMES, HS_CERTIFICATE_TYPE, TlsStreamParser, looksLikeTls, tls13Certificate, type ClientHelloInfo, type ServerHelloInfo, type TlsEvents } from '../parsers/tls.js';
import type { CertificateInfo } from '../parsers/x509.js';
import type { StreamEnd } from '../reassembly/tcp-stream.js';
import type { AppStreams, StreamProtocol } from '../reassembly/tcp-streams.js';
import { randomKey, type KeyLog, type TlsSessionSecrets } from '../decrypt/key-log.js';
import { TlsDecryptor, type DecryptedApp, type TlsDecryptorHost } from '../decrypt/tls-decryptor.js';
import { newTurns, TurnTracker, type TlsTurns } from './tls-timing.js';
import type { Connection } from './types.js';

/** One TLS connection's handshake as seen in clear text. Times are epoch seconds. */
export interface TlsHandshake {
  connectionId: number;
  serverIp: string;
  serverPort: number;
  sni: string | null;
  alpn: string[];
  offeredVersions: string[];
  /** Negotiated version (ServerHello, supported_versions for TLS 1.3); null without a ServerHello. */
  version: string | null;
  cipher: string | null;
  clientHelloTs: number | null;
  serverHelloTs: number | null;
  /** Handshake complete (see TLS HANDSHAKE TIME below); null when it never completed. */
  doneTs: number | null;
  /** First alert that matters: "fatal handshake_failure", "warning close_notify", "encrypted". */
  alert: string | null;
  alertFromClient: boolean | null;
  alertTs: number | null;
  alertFatal: boolean;
  certificate: CertificateInfo | null;
  /** Records of this connection were decrypted with keys from a key log or the capture's DSBs (absent: no). */
  decrypted?: boolean;
  /** Why it was not decrypted when it was not (the first reason met); see undecryptedReason(). */
  undecrypted?: string;
  /** Request/response turns from record timing, without keys (analysis/tls-timing.ts); absent before the handshake. */
  turns?: TlsTurns;
}

/**
 * TLS decryption for a session: the keys, and the protocol that receives decrypted
 * application data (HTTP/1.x, and HTTP/2 after its preface, both through its `detect`).
 */
export interface TlsDecryption {
  keys: KeyLog;
  app: StreamProtocol;
}

/** Decryption warnings kept per capture (one or two per connection at most). */
const MAX_DECRYPT_WARNINGS = 50;

const MAX_HANDSHAKES = 1_000_000;
const TLS_PORTS = new Set([443, 465, 636, 853, 993, 995, 5061, 6443, 8443]);

/*
 * TLS HANDSHAKE TIME: from the ClientHello to the handshake's end, which is
 * - TLS 1.2 and older: the Finished of the side that sent ChangeCipherSpec second (the
 *   first handshake record after its ChangeCipherSpec);
 * - TLS 1.3: the client's first encrypted record after the ServerHello (its Finished,
 *   RFC 8446 §2), since the server's Finished is hidden among its encrypted records;
 * - otherwise the first application data from the client.
 * ALERTS: a clear-text alert is reported with level and description. An encrypted alert
 * before the handshake completed is reported as "encrypted" (a TLS 1.3 client rejecting
 * the certificate sends one); encrypted alerts afterwards are the normal close_notify.
 */
export class TlsHandshakes implements StreamProtocol {
  readonly handshakes: TlsHandshake[] = [];
  dropped = 0;
  /** Decryption problems (wrong keys, unsupported ciphers), and how many were not listed. */
  readonly decryptWarnings: string[] = [];
  decryptWarningsDropped = 0;

  constructor(readonly decryption: TlsDecryption | null = null) {}

  warn(message: string): void {
    if (this.decryptWarnings.length < MAX_DECRYPT_WARNINGS) this.decryptWarnings.push(message);
    else this.decryptWarningsDropped++;
  }

  detect(conn: Connection, _toServer: boolean, b: Uint8Array, off: number, len: number): AppStreams | null {
    if (!looksLikeTls(b, off, len)) {
      if (!TLS_PORTS.has(conn.server.port)) return null;
      // Mid-stream TLS: nothing in clear text left to see; claim it so nobody misparses it.
      return { client: NULL_SINK, server: NULL_SINK };
    }
    return new TlsConnection(this, conn);
  }

  add(h: TlsHandshake): void {
    if (this.handshakes.length < MAX_HANDSHAKES) this.handshakes.push(h);
    else this.dropped++;
  }

  /** The `tls` array of the JSON report (README "JSON output"). */
  json(): Record<string, unknown>[] {
    return this.handshakes.map((_, i) => this.jsonAt(i));
  }

  /** The connection of element `i` (what makes it change). */
  connectionOf(i: number): number {
    return this.handshakes[i].connectionId;
  }

  /** Element `i` of the `tls` array. */
  jsonAt(i: number): Record<string, unknown> {
    const h = this.handshakes[i];
    return ({
      connectionId: h.connectionId,
      sni: h.sni,
      alpn: h.alpn,
      version: h.version,
      handshakeTime: handshakeTime(h),
      alert: h.alert,
      certificate: h.certificate,
      decrypted: h.decrypted === true,
      undecryptedReason: undecryptedReason(h, this.decryption?.keys.size ?? 0),
      turns: turnsJson(h.turns),
    });
  }
}

/**
 * `tls[].undecryptedReason`: null when decrypted, else why not: no keys at all, none for this
 * session's client random, the decryptor's own reason (unsupported cipher, keys that do not
 * open the records), no ClientHello seen, or no protected record after the handshake.
 */
export function undecryptedReason(h: TlsHandshake, sessionsWithKeys: number): string | null {
  if (h.decrypted) return null;
  if (h.clientHelloTs === null) return 'no ClientHello in the capture (it started mid-connection)';
  if (sessionsWithKeys === 0) return 'no key log or Decryption Secrets Block with TLS secrets';
  return h.undecrypted ?? 'no protected record could be decrypted';
}

/** `tls[].turns`: null before any answered turn. */
function turnsJson(t: TlsTurns | undefined): Record<string, number> | null {
  if (!t || t.count === 0) return null;
  const v = [...t.answerTimes].sort((a, b) => a - b);
  return { count: t.count, requestBytes: t.requestBytes, responseBytes: t.responseBytes, answerMedian: v[(v.length - 1) >> 1], answerMax: v[v.length - 1] };
}

export function handshakeTime(h: TlsHandshake): number | null {
  return h.clientHelloTs !== null && h.doneTs !== null ? Math.round((h.doneTs - h.clientHelloTs) * 1e9) / 1e9 : null;
}

const NULL_SINK = { data() {}, gap() {}, end() {} };

class TlsConnection implements AppStreams, TlsEvents, TlsDecryptorHost {
  readonly client: TlsStreamParser;
  readonly server: TlsStreamParser;
  private h: TlsHandshake | null = null;
  /** Set once the ClientHello's random is found in the key log. */
  private decryptor: TlsDecryptor | null = null;
  /** A ClientHello whose keys were not known yet, while the key log grows (live capture). */
  private pendingKeys: { random: Uint8Array; hex: string; earlyData: boolean } | null = null;
  private serverHelloInfo: ServerHelloInfo | null = null;
  /** Request/response turns after the handshake (set when it completes). */
  private turns: TurnTracker | null = null;
  private tls13 = false;
  private ccs = [false, false];
  private finished = [false, false];

  constructor(private owner: TlsHandshakes, private conn: Connection) {
    this.client = new TlsStreamParser(true, this);
    this.server = new TlsStreamParser(false, this);
  }

  private rec(): TlsHandshake {
    if (!this.h) {
      this.h = {
        connectionId: this.conn.id, serverIp: this.conn.server.ip, serverPort: this.conn.server.port,
        sni: null, alpn: [], offeredVersions: [], version: null, cipher: null, clientHelloTs: null, serverHelloTs: null,
        doneTs: null, alert: null, alertFromClient: null, alertTs: null, alertFatal: false, certificate: null, decrypted: false,
      };
      this.owner.add(this.h);
    }
    return this.h;
  }

  clientHello(c: ClientHelloInfo, ts: number): void {
    const h = this.rec();
    if (h.clientHelloTs !== null) return; // a second ClientHello (after HelloRetryRequest) keeps the first time
    h.sni = c.sni;
    h.alpn = c.alpn;
    h.offeredVersions = c.versions;
    h.clientHelloTs = ts;
    const log = this.owner.decryption?.keys;
    const keys = log?.lookup(c.random);
    if (keys) this.startDecryption(keys, c.random, c.earlyData);
    else {
      h.undecrypted = `the key log has no secrets for this session (client random ${randomKey(c.random).slice(0, 16)}...)`;
      if (log?.growing) this.pendingKeys = { random: c.random, hex: randomKey(c.random), earlyData: c.earlyData };
    }
  }

  private startDecryption(keys: TlsSessionSecrets, random: Uint8Array, earlyData: boolean): void {
    this.decryptor = new TlsDecryptor(keys, random, earlyData, this, `connection ${this.conn.id}`);
    this.client.collectProtected();
    this.server.collectProtected();
  }

  /**
   * Live capture with a growing key log: the keys of this session may arrive after its
   * ClientHello. Looked up again at each record until found; what the handshake already said
   * (ServerHello, ChangeCipherSpecs) is replayed to the new decryptor.
   */
  recordStart(): void {
    const p = this.pendingKeys;
    if (!p) return;
    const keys = this.owner.decryption?.keys.lookupHex(p.hex);
    if (!keys) return;
    this.pendingKeys = null;
    if (this.h) delete this.h.undecrypted;
    this.startDecryption(keys, p.random, p.earlyData);
    const s = this.serverHelloInfo;
    if (s) this.decryptor!.serverHello({ version: s.versionNumber, cipherSuite: s.cipherSuite, random: s.random, alpn: s.alpn, encryptThenMac: s.encryptThenMac });
    if (this.ccs[0]) this.decryptor!.changeCipherSpec(true);
    if (this.ccs[1]) this.decryptor!.changeCipherSpec(false);
  }

  serverHello(s: ServerHelloInfo, ts: number): void {
    const h = this.rec();
    h.version = s.version;
    h.cipher = s.cipher;
    if (s.helloRetry) {
      // HelloRetryRequest (RFC 8446 §4.1.4): the second ClientHello and the real ServerHello
      // follow in clear text; the real one fixes the keys (the key log names the session by
      // the client random, which the second ClientHello keeps).
      this.client.awaitHelloAfterRetry();
      return;
    }
    if (h.serverHelloTs === null) h.serverHelloTs = ts;
    this.serverHelloInfo ??= s;
    this.decryptor?.serverHello({ version: s.versionNumber, cipherSuite: s.cipherSuite, random: s.random, alpn: s.alpn, encryptThenMac: s.encryptThenMac });
    if (s.version === 'TLS 1.3') {
      this.tls13 = true;
      this.server.markEncrypted();
    }
  }

  certificate(c: CertificateInfo | null): void {
    const h = this.rec();
    if (!h.certificate && c) h.certificate = c;
  }

  changeCipherSpec(fromClient: boolean): void {
    this.ccs[fromClient ? 0 : 1] = true;
    this.decryptor?.changeCipherSpec(fromClient);
  }

  protectedRecord(fromClient: boolean, type: number, version: number, fragment: Uint8Array | null, len: number, ts: number): void {
    const d = this.decryptor;
    if (!d) return;
    d.record(fromClient, type, version, fragment, len, ts);
    if (d.decrypted && this.h) this.h.decrypted = true;
  }

  /** TlsDecryptorHost: decrypted application data goes to the session's HTTP parsing. */
  openApp(_alpn: string | null, fromClient: boolean, b: Uint8Array, off: number, len: number): DecryptedApp | null {
    return this.owner.decryption?.app.detect(this.conn, fromClient, b, off, len) ?? null;
  }

  warn(message: string): void {
    this.owner.warn(message);
    const h = this.rec();
    h.undecrypted ??= message.replace(/^TLS connection \d+: (not decrypted: )?/, '');
  }

  /** A TLS 1.3 server certificate is visible once its handshake is decrypted. */
  handshakeMessage(fromClient: boolean, type: number, body: Uint8Array): void {
    if (!fromClient && type === HS_CERTIFICATE_TYPE && this.tls13) this.certificate(tls13Certificate(body));
  }

  encryptedHandshake(fromClient: boolean, ts: number): void {
    if (this.tls13) {
      if (fromClient) this.done(ts);
      return;
    }
    this.finished[fromClient ? 0 : 1] = true;
    if (this.finished[0] && this.finished[1]) this.done(ts);
  }

  applicationData(fromClient: boolean, ts: number, len: number): void {
    // TLS 1.3: the records up to the client's first encrypted one (its Finished) are handshake.
    const before = this.h?.doneTs ?? null;
    if (fromClient && this.h && this.h.serverHelloTs !== null) this.done(ts);
    if (this.tls13 && before === null) return;
    if (!this.turns && this.h && this.h.doneTs !== null) this.turns = new TurnTracker((this.h.turns = newTurns()));
    this.turns?.record(fromClient, ts, len);
  }

  alert(fromClient: boolean, level: number, description: number, ts: number): void {
    const h = this.rec();
    const encrypted = level < 0;
    if (encrypted && h.doneTs !== null) return;
    if (h.alert !== null && !(level === 2 && !h.alertFatal)) return;
    h.alert = encrypted ? 'encrypted' : `${level === 2 ? 'fatal' : 'warning'} ${ALERT_NAMES[description] ?? `alert ${description}`}`;
    h.alertFatal = level === 2 || encrypted;
    h.alertFromClient = fromClient;
    h.alertTs = ts;
  }

  end(fromClient: boolean, ts: number, how: StreamEnd): void {
    this.decryptor?.end(fromClient, ts, how);
    if (!fromClient) this.turns?.end(); // no more answers
  }

  private done(ts: number): void {
    const h = this.rec();
    if (h.doneTs === null && h.clientHelloTs !== null) h.doneTs = ts;
  }
}
