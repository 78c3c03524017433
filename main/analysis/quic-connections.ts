import { L4, type Frame } from '../decode/frame.js';
import { Proto } from '../decode/protocols.js';
import { isKnownQuicVersion, looksLikeQuicLong, parseQuicHeader, QUIC_TYPE_NAMES, QuicHeader, QuicType, quicVersionName, readVarint, varintSize } from '../decode/quic.js';
import type { KeyLog } from '../decrypt/key-log.js';
import { initialKeys, openPacket, retryIntegrityValid, type InitialKeys } from '../decrypt/quic-initial.js';
import { Level, QuicSessionKeys } from '../decrypt/quic-session-keys.js';
import { h3ErrorName } from '../parsers/http3.js';
import type { HttpExchange } from './http-exchanges.js';
import { Http3Connection } from './http3-exchanges.js';
import { HeaderLists } from './header-lists.js';
import { ALERT_NAMES, TlsStreamParser, type ClientHelloInfo, type ServerHelloInfo, type TlsEvents } from '../parsers/tls.js';
import { QuicCryptoStream } from '../reassembly/quic-crypto.js';
import type { FrameAnalyzer, PacketContext } from './types.js';

export type QuicState = 'established' | 'closed' | 'handshake-unanswered' | 'handshake-failed' | 'version-negotiation' | 'mid-connection';

/**
 * What became of one QUIC packet's protection: opened (Initial keys, or the key log's for
 * Handshake, 0-RTT and 1-RTT), failed to open, not tried (no keys for its level, or beyond the
 * Initials read), or not protected (Retry, Version Negotiation).
 */
export type QuicDecryption = 'decrypted' | 'failed' | 'no keys' | 'clear';

/** One QUIC packet (a datagram may carry several), for the connection detail. */
export interface QuicPacketEntry {
  /** Index in `connections` of the QUIC connection it belongs to. */
  quic: number;
  fromClient: boolean;
  type: (typeof QUIC_TYPE_NAMES)[number];
  decryption: QuicDecryption;
  ts: number;
}

/** One QUIC connection as seen without keys. Times are epoch seconds. */
export interface QuicConnection {
  connectionId: number;
  serverIp: string;
  serverPort: number;
  /** Version of the client's first Initial, and the server's when it answered with another (RFC 9368). */
  clientVersion: number;
  serverVersion: number | null;
  sni: string | null;
  alpn: string[];
  tlsVersion: string | null;
  cipher: string | null;
  firstTs: number;
  lastTs: number;
  /** The client's first Initial and first Handshake packet. */
  clientInitialTs: number;
  clientHandshakeTs: number | null;
  serverHelloTs: number | null;
  /** Server packets other than Retry and Version Negotiation. */
  serverPackets: number;
  clientPackets: number;
  versionNegotiation: number[] | null;
  retry: 'valid' | 'invalid' | null;
  zeroRttPackets: number;
  shortPackets: [number, number];
  close: { error: string; fromClient: boolean; ts: number } | null;
  /** Initial packets that did not decrypt (damaged, or keys Tapscope could not derive). */
  undecryptable: number;
  /** With keys (key log or DSB): Handshake, 0-RTT and 1-RTT packets opened, failed, key updates. */
  keyed: { opened: number; failed: number; keyUpdates: number } | null;
  spinSamples: number[];
  /** The UDP conversations (ids in `connections`) it used: its first, then the paths it migrated to. */
  paths: number[];
  /**
   * The conversation began with short-header packets on a QUIC port and no known connection id:
   * the capture started after the handshake (or on a path Tapscope could not link).
   */
  midConnection: boolean;
}

/** One UDP conversation of a QUIC connection; clientToServer is ctx.toServer for the client's packets. */
interface QuicPath {
  t: QuicTracker;
  clientToServer: boolean;
}

const MAX_CONNECTIONS = 200_000;
/** Initial packets decrypted per connection at most (a handshake needs a handful). */
const MAX_INITIALS_DECRYPTED = 64;
const MAX_SPIN_SAMPLES = 256;
const MAX_REASON = 200;
/** Connection ids remembered for migration, per connection and in all. */
const MAX_CIDS_PER_CONNECTION = 64;
const MAX_CIDS = 1_000_000;
const MAX_PATHS = 64;
const MAX_SERVERS = 65536;
/**
 * Connection ids are forgotten once their connection cannot use them again: closed (a
 * CONNECTION_CLOSE was read) and silent for DRAIN_SECONDS (the draining period, RFC 9000
 * §10.2, is three PTOs: seconds even on slow paths), or silent for IDLE_SECONDS (longer than
 * the idle timeouts stacks negotiate, RFC 9000 §10.1). Checked every SWEEP_SECONDS of capture time.
 */
const DRAIN_SECONDS = 30;
const IDLE_SECONDS = 600;
const SWEEP_SECONDS = 10;

/** RFC 9000 §20.1 transport error codes. */
const TRANSPORT_ERRORS = [
  'NO_ERROR', 'INTERNAL_ERROR', 'CONNECTION_REFUSED', 'FLOW_CONTROL_ERROR', 'STREAM_LIMIT_ERROR', 'STREAM_STATE_ERROR',
  'FINAL_SIZE_ERROR', 'FRAME_ENCODING_ERROR', 'TRANSPORT_PARAMETER_ERROR', 'CONNECTION_ID_LIMIT_ERROR', 'PROTOCOL_VIOLATION',
  'INVALID_TOKEN', 'APPLICATION_ERROR', 'CRYPTO_BUFFER_EXCEEDED', 'KEY_UPDATE_ERROR', 'AEAD_LIMIT_REACHED', 'NO_VIABLE_PATH',
];

/** A transport error code by name; CRYPTO_ERROR (0x0100-0x01ff) carries the TLS alert (RFC 9001 §4.8). */
export function transportErrorName(code: number): string {
  if (code < TRANSPORT_ERRORS.length) return TRANSPORT_ERRORS[code];
  if (code >= 0x100 && code <= 0x1ff) return `CRYPTO_ERROR ${ALERT_NAMES[code - 0x100] ?? `alert ${code - 0x100}`}`;
  return `0x${code.toString(16)}`;
}

const FRAME_PADDING = 0x00;
const FRAME_PING = 0x01;
const FRAME_ACK = 0x02;
const FRAME_ACK_ECN = 0x03;
const FRAME_RESET_STREAM = 0x04;
const FRAME_STOP_SENDING = 0x05;
const FRAME_CRYPTO = 0x06;
const FRAME_NEW_TOKEN = 0x07;
const FRAME_STREAM = 0x08; // 0x08-0x0f: OFF 0x04, LEN 0x02, FIN 0x01
const FRAME_NEW_CONNECTION_ID = 0x18;
const FRAME_PATH_CHALLENGE = 0x1a;
const FRAME_PATH_RESPONSE = 0x1b;
const FRAME_HANDSHAKE_DONE = 0x1e;
const FRAME_DATAGRAM = 0x30; // 0x31 with a length (RFC 9221)
const FRAME_ACK_FREQUENCY = 0xaf; // draft-ietf-quic-ack-frequency
const FRAME_TIME_STAMP = 0x2f5; // draft-huitema-quic-ts (picoquic): one varint
const FRAME_CLOSE_TRANSPORT = 0x1c;
const FRAME_CLOSE_APPLICATION = 0x1d;

const hexOf = (b: Uint8Array, off: number, len: number) => Buffer.from(b.buffer, b.byteOffset + off, len).toString('hex');

/**
 * The version of a long header whose version Tapscope cannot frame (RFC 8999 invariants:
 * neither 0, Version Negotiation, nor a known one), else 0. A client offering such a version
 * gets Version Negotiation from the server (RFC 9000 §6).
 */
function unknownLongVersion(b: Uint8Array, o: number, end: number): number {
  if (end - o < 7 || (b[o] & 0x80) === 0) return 0;
  const v = ((b[o + 1] << 24) | (b[o + 2] << 16) | (b[o + 3] << 8) | b[o + 4]) >>> 0;
  return v !== 0 && !isKnownQuicVersion(v) ? v : 0;
}

/*
 * QUIC CONNECTIONS. Grouping follows Wireshark's quic.connection.number within one UDP
 * conversation (`connections` row): a client Initial whose Destination Connection ID is
 * neither the client's first DCID, nor a Retry's or the server's Source Connection ID,
 * starts a new QUIC connection; every other packet of the conversation (short headers
 * included) belongs to its latest QUIC connection.
 * MIGRATION (RFC 9000 §9): a conversation that begins with a short header whose Destination
 * Connection ID (tried at each connection id length seen) is one a known connection uses (an
 * SCID of its long headers, or a NEW_CONNECTION_ID it sent, read with keys) is another path of
 * that connection, as Wireshark links it: its packets, keys and HTTP/3 streams continue there.
 * Those ids are forgotten once the connection is closed and drained, or idle (DRAIN_SECONDS).
 * MID-CONNECTION: a conversation that begins with a short header on a QUIC port, whose DCID is no
 * known id, is a connection whose handshake the capture lacks (state "mid-connection").
 * KEYS: Initial keys come from the DCID of the client's first Initial, or of its first
 * Initial after a Retry (RFC 9001 §5.2). Client and server Initials are decrypted (at most
 * MAX_INITIALS_DECRYPTED per connection); their CRYPTO frames are reassembled per direction
 * and read by the TLS handshake parser (ClientHello: SNI, ALPN, versions; ServerHello: version,
 * cipher); ACK, PING and PADDING are skipped; CONNECTION_CLOSE is recorded.
 * HANDSHAKE TIME: the client's first Initial to its first Handshake packet (it sends one once it
 * has the server's handshake, RFC 9001 §4.1.4).
 * SPIN RTT (RFC 9000 §17.4, RFC 9312 §4.1): in each direction, the time between two changes of
 * the spin bit is one round trip; the median of the samples of both directions.
 */
export class QuicConnections implements FrameAnalyzer {
  readonly connections: QuicConnection[] = [];
  dropped = 0;
  private byConversation = new Map<number, QuicPath>();
  /** Connection id (hex) -> its connection, and whether the client or the server chose it. */
  private byCid = new Map<string, { t: QuicTracker; ofClient: boolean }>();
  private cidLengths: number[] = [];
  /** Connections with ids in byCid, and the capture time of the next check for ones to forget. */
  private withCids = new Set<QuicTracker>();
  private nextSweep = -Infinity;
  /** UDP ports QUIC servers of this capture answered on (1): where a migrated path may appear. */
  private serverPorts = new Uint8Array(65536);
  /** The QUIC servers (ip and port) of this capture, at most MAX_SERVERS: where a greased short header is still QUIC. */
  private servers = new Set<string>();
  private h = new QuicHeader();
  readonly http3: Http3Connection[] = [];
  /** Sees every QUIC packet with its type and decryption (the connection detail sets it). */
  packetLog: ((e: QuicPacketEntry) => void) | null = null;
  /** Sees every STREAM frame read (decrypted), for Follow Stream of HTTP/3 (services/follow-http3.ts). */
  streamTap: ((streamId: number, fromClient: boolean, offset: number, b: Uint8Array, off: number, len: number, fin: boolean) => void) | null = null;

  /**
   * keyLog: TLS secrets (key log files, DSBs) that open Handshake and 1-RTT packets; http: where
   * HTTP/3 exchanges go (the `http` array). Without them only Initials are read.
   */
  constructor(
    readonly keyLog: KeyLog | null = null, readonly http: ((x: HttpExchange) => void) | null = null,
    /** HTTP/3 header lists are kept within the capture's bounds shared with HTTP/1.x and HTTP/2. */
    readonly headerLists = new HeaderLists(),
  ) {}

  onFrame(f: Frame, ctx: PacketContext): void {
    if (f.l4 !== L4.Udp || f.payloadCapLen < 1) return;
    const id = ctx.connId;
    if (id < 0) return;
    if (f.ts >= this.nextSweep && this.withCids.size > 0) this.sweep(f.ts);
    const b = f.data;
    const off = f.payloadOff;
    const end = off + f.payloadCapLen;
    let path = this.byConversation.get(id);
    if (!path) {
      if ((b[off] & 0x80) === 0) {
        // A short header: another path of a known connection (migration); else, on a port QUIC
        // is decoded on (udp.port 443, --decode) or a QUIC server of the capture answered on, a
        // connection whose handshake the capture does not hold; else not QUIC here.
        // A migrating client keeps the server's port: other UDP costs one array read.
        const quicPort = this.serverPorts[f.srcPort] !== 0 || this.serverPorts[f.dstPort] !== 0;
        if (!quicPort && f.top !== Proto.Quic) return;
        const migrated = quicPort ? this.migratedPath(id, b, off, end, ctx.toServer) : null;
        if (migrated) path = migrated;
        else {
          // The fixed bit (RFC 9000 §17.3) is required, except towards a QUIC server of the
          // capture (its peers may grease it, RFC 9287: ngtcp2 then always clears it).
          let toDst = ctx.toServer;
          if ((b[off] & 0x40) === 0) {
            if (!quicPort) return;
            if (this.servers.has(`${f.dst} ${f.dstPort}`)) toDst = true;
            else if (this.servers.has(`${f.src} ${f.srcPort}`)) toDst = false;
            else return;
          }
          // This packet is the client's when it goes to the server.
          const mid = this.start(id, toDst ? ctx.toServer : !ctx.toServer, f, toDst, true);
          if (!mid) return;
          path = { t: mid, clientToServer: mid.clientToServer };
        }
      } else {
        // A QUIC connection starts with a long header: on udp.port 443 any, elsewhere a known version.
        // An unknown version (on udp.port 443 only) is a client's offer a server answers with VN.
        if (f.top !== Proto.Quic && !looksLikeQuicLong(b, off, end - off)) return;
        const unknown = unknownLongVersion(b, off, end) !== 0;
        if (!unknown && !parseQuicHeader(b, off, end, -1, this.h)) return;
        const fromServer = !unknown && (this.h.type === QuicType.Retry || this.h.type === QuicType.VersionNegotiation);
        const started = this.start(id, fromServer ? !ctx.toServer : ctx.toServer, f, !fromServer);
        if (!started) return;
        this.serverPorts[ctx.toServer === started.clientToServer ? f.dstPort : f.srcPort] = 1;
        if (this.servers.size < MAX_SERVERS) this.servers.add(`${started.q.serverIp} ${started.q.serverPort}`);
        path = { t: started, clientToServer: started.clientToServer };
      }
      this.byConversation.set(id, path);
    }
    let t = path.t;
    const fromClient = ctx.toServer === path.clientToServer;
    let o = off;
    while (o < end) {
      const long = (b[o] & 0x80) !== 0;
      const unknown = long ? unknownLongVersion(b, o, end) : 0;
      if (unknown !== 0) {
        t.unknownVersion(unknown, fromClient, f.ts); // its length is unknown: the rest of the datagram
        break;
      }
      const dcidLen = long ? -1 : fromClient ? t.serverCidLen : t.clientCidLen;
      if (!parseQuicHeader(b, o, end, dcidLen, this.h)) break;
      if (long && fromClient && this.h.type === QuicType.Initial && t.isNewConnection(b, this.h)) {
        const n = this.start(id, path.clientToServer, f, true);
        if (!n) return;
        t = n;
        path = { t, clientToServer: path.clientToServer };
        this.byConversation.set(id, path);
      }
      t.packet(b, this.h, fromClient, f.ts);
      if (!long || this.h.end >= end) break;
      o = this.h.end;
    }
  }

  /**
   * The known connection whose connection id is the DCID of this short header, with the path's
   * orientation: a DCID the client chose is the server's packet. The fixed bit is not required
   * (ngtcp2 greases it, RFC 9287).
   */
  private migratedPath(id: number, b: Uint8Array, off: number, end: number, toServer: boolean): QuicPath | null {
    if (this.byCid.size === 0) return null;
    for (const len of this.cidLengths) {
      if (off + 1 + len > end) continue;
      const e = this.byCid.get(hexOf(b, off + 1, len));
      if (!e) continue;
      e.t.migrated(id, len, e.ofClient);
      return { t: e.t, clientToServer: e.ofClient ? !toServer : toServer };
    }
    return null;
  }

  /** A connection id t's client (ofClient) or server uses; the latest connection to use it keeps it. */
  addCid(t: QuicTracker, b: Uint8Array, off: number, len: number, ofClient: boolean): void {
    if (len === 0 || len > 20) return;
    const hex = hexOf(b, off, len);
    if (this.byCid.size >= MAX_CIDS && !this.byCid.has(hex)) return;
    this.byCid.set(hex, { t, ofClient });
    t.sharedCids.push(hex);
    this.withCids.add(t);
    if (!this.cidLengths.includes(len)) this.cidLengths.push(len);
  }

  /** Connection ids remembered for migration (bounded by the connections still open). */
  get cidCount(): number {
    return this.byCid.size;
  }

  /** Forgets the connection ids of connections closed and drained, or idle (see DRAIN_SECONDS). */
  private sweep(now: number): void {
    this.nextSweep = now + SWEEP_SECONDS;
    for (const t of this.withCids) {
      const silent = now - t.q.lastTs;
      if (silent <= IDLE_SECONDS && (t.q.close === null || silent <= DRAIN_SECONDS)) continue;
      for (const hex of t.sharedCids) if (this.byCid.get(hex)?.t === t) this.byCid.delete(hex);
      t.sharedCids.length = 0;
      this.withCids.delete(t);
    }
  }

  /**
   * A new QUIC connection; f is one of its client's packets, or a server's Retry/VN, or (mid) the
   * first short-header packet of a conversation whose handshake is not in the capture.
   */
  private start(id: number, clientToServer: boolean, f: Frame, sentByClient: boolean, mid = false): QuicTracker | null {
    if (this.connections.length >= MAX_CONNECTIONS) {
      this.dropped++;
      return null;
    }
    const t = new QuicTracker(id, clientToServer, f, sentByClient, this, this.connections.length, mid);
    this.connections.push(t.q);
    return t;
  }

  finish(): void {
    for (const h of this.http3) h.finish();
    for (const p of this.byConversation.values()) p.t.releaseBuffers();
    this.byConversation.clear();
    this.byCid.clear();
    this.withCids.clear();
    this.servers.clear();
  }

  /** The `quic` array of the JSON report (README "JSON output"). */
  json(): Record<string, unknown>[] {
    return this.connections.map((_, i) => this.jsonAt(i));
  }

  /** Element `i` of the `quic` array. */
  jsonAt(i: number): Record<string, unknown> {
    const q = this.connections[i];
    return ({
      connectionId: q.connectionId,
      version: q.clientVersion === 0 && q.serverVersion === null ? null : quicVersionName(q.serverVersion ?? q.clientVersion),
      sni: q.sni,
      alpn: q.alpn,
      state: quicState(q),
      handshakeTime: quicHandshakeTime(q),
      closeError: q.close ? q.close.error : null,
      spinRtt: spinRtt(q),
      tlsVersion: q.tlsVersion,
      cipher: q.cipher,
      retry: q.retry,
      zeroRtt: q.zeroRttPackets > 0,
      closedBy: q.close ? (q.close.fromClient ? 'client' : 'server') : null,
      paths: q.paths,
    });
  }
}

/** See QuicState; docs/quic.md "State". */
export function quicState(q: QuicConnection): QuicState {
  if (q.midConnection) return q.close ? 'closed' : 'mid-connection';
  // A version Tapscope cannot read (Google QUIC, ...): a server that answers in it accepted it
  // (one that does not support a version answers with Version Negotiation, RFC 9000 §6).
  const unreadable = q.clientVersion !== 0 && !isKnownQuicVersion(q.clientVersion) && q.serverVersion === q.clientVersion;
  const done = unreadable || q.clientHandshakeTs !== null || (q.shortPackets[0] > 0 && q.shortPackets[1] > 0);
  if (done) return q.close ? 'closed' : 'established';
  // A client that gives up closes its own attempt: still unanswered when the server sent nothing.
  if (q.serverPackets === 0) return q.versionNegotiation ? 'version-negotiation' : 'handshake-unanswered';
  return 'handshake-failed';
}

export function quicHandshakeTime(q: QuicConnection): number | null {
  return q.clientHandshakeTs === null ? null : Math.round((q.clientHandshakeTs - q.clientInitialTs) * 1e9) / 1e9;
}

function spinRtt(q: QuicConnection): number | null {
  const s = q.spinSamples;
  if (s.length === 0) return null;
  const v = [...s].sort((a, b) => a - b);
  const m = v.length >> 1;
  return Math.round((v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2) * 1e9) / 1e9;
}

/** The per-connection state behind one QuicConnection; buffers released once the hellos are read. */
class QuicTracker implements TlsEvents {
  readonly q: QuicConnection;
  /** DCID the Initial keys come from (the client's first, or after a Retry), and the original one. */
  private keysDcid: Uint8Array | null = null;
  private odcid: string | null = null;
  private keys: InitialKeys | null = null;
  private afterRetry = false;
  private retryScid: string | null = null;
  private cids = new Set<string>();
  /** Connection ids handed to the owner for migration (MAX_CIDS_PER_CONNECTION at most), and those it keeps for this one. */
  private cidsShared = 0;
  readonly sharedCids: string[] = [];
  clientCidLen = 0;
  serverCidLen = 0;
  private decrypted = 0;
  private largestPn = [-1, -1];
  private crypto: [QuicCryptoStream, QuicCryptoStream] | null;
  private tls: [TlsStreamParser, TlsStreamParser] | null;
  private recordHdr = new Uint8Array([22, 3, 3, 0, 0]);
  private lastSpin = [-1, -1];
  private lastEdge = [NaN, NaN];
  private ts = 0;
  private clientHelloSeen = false;

  private random: Uint8Array | null = null;
  private suiteId = -1;
  private session: QuicSessionKeys | null = null;
  private lookups = 0;
  /** Largest packet number per level (Handshake, 0-RTT, 1-RTT) and direction. */
  private largestKeyed = [[-1, -1], [-1, -1], [-1, -1]];
  private h3: Http3Connection | null = null;
  private sessionSuite = -1;

  constructor(
    connectionId: number, readonly clientToServer: boolean, f: Frame, sentByClient: boolean, private owner: QuicConnections, private index: number,
    private mid = false,
  ) {
    const ts = f.ts;
    this.q = {
      connectionId, serverIp: sentByClient ? f.dst : f.src, serverPort: sentByClient ? f.dstPort : f.srcPort,
      clientVersion: 0, serverVersion: null, sni: null, alpn: [], tlsVersion: null, cipher: null, firstTs: ts, lastTs: ts,
      clientInitialTs: ts, clientHandshakeTs: null, serverHelloTs: null, serverPackets: 0, clientPackets: 0,
      versionNegotiation: null, retry: null, zeroRttPackets: 0, shortPackets: [0, 0], close: null, undecryptable: 0, spinSamples: [], keyed: null,
      paths: [connectionId], midConnection: mid,
    };
    const tls: [TlsStreamParser, TlsStreamParser] = [new TlsStreamParser(true, this), new TlsStreamParser(false, this)];
    this.tls = tls;
    this.crypto = [new QuicCryptoStream((b, o, n) => this.handshakeBytes(0, b, o, n)), new QuicCryptoStream((b, o, n) => this.handshakeBytes(1, b, o, n))];
  }

  /** A client Initial that belongs to none of this connection's connection ids starts another connection. */
  isNewConnection(b: Uint8Array, h: QuicHeader): boolean {
    if (this.mid) return true; // the connection it is in the middle of sends no Initial: a client Initial is another
    if (this.odcid === null || this.afterRetry) return false;
    const d = hexOf(b, h.dcidOff, h.dcidLen);
    return d !== this.odcid && d !== this.retryScid && !this.cids.has(d);
  }

  /** Conversation `id` is another path; its packets to the client (ofClient) or server carry `cidLen`-byte DCIDs now. */
  migrated(id: number, cidLen: number, ofClient: boolean): void {
    if (this.q.paths.length < MAX_PATHS) this.q.paths.push(id);
    if (ofClient) this.clientCidLen = cidLen;
    else this.serverCidLen = cidLen;
  }

  /** A connection id the client (ofClient) or the server uses, for migrated paths. */
  private shareCid(b: Uint8Array, off: number, len: number, ofClient: boolean): void {
    if (this.cidsShared >= MAX_CIDS_PER_CONNECTION) return;
    this.cidsShared++;
    this.owner.addCid(this, b, off, len, ofClient);
  }

  /** A long header of a version Tapscope cannot frame: counted, its version kept (RFC 8999). */
  unknownVersion(version: number, fromClient: boolean, ts: number): void {
    const q = this.q;
    q.lastTs = ts;
    if (!fromClient) {
      q.serverPackets++;
      q.serverVersion ??= version;
      return;
    }
    q.clientPackets++;
    if (q.clientVersion === 0) q.clientVersion = version;
  }

  packet(b: Uint8Array, h: QuicHeader, fromClient: boolean, ts: number): void {
    const decryption = this.read(b, h, fromClient, ts);
    const log = this.owner.packetLog;
    if (log) log({ quic: this.index, fromClient, type: QUIC_TYPE_NAMES[h.long ? h.type : QuicType.OneRtt], decryption, ts });
  }

  private read(b: Uint8Array, h: QuicHeader, fromClient: boolean, ts: number): QuicDecryption {
    const q = this.q;
    this.ts = ts;
    q.lastTs = ts;
    const dir = fromClient ? 0 : 1;
    if (!h.long) {
      q.shortPackets[dir]++;
      if (fromClient) q.clientPackets++;
      else q.serverPackets++;
      this.spin(dir, h.spin, ts);
      return this.openKeyed(Level.OneRtt, dir, b, h, ts);
    }
    if (h.type === QuicType.VersionNegotiation) {
      if (fromClient) return 'clear';
      const v: number[] = [];
      for (let o = h.scidOff + h.scidLen; o + 4 <= h.end && v.length < 32; o += 4) v.push(((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0);
      q.versionNegotiation = v;
      return 'clear';
    }
    if (h.type === QuicType.Retry) {
      if (fromClient || !this.keysDcid) return 'clear';
      q.retry = retryIntegrityValid(h.version, this.keysDcid, b, h.start, h.end) === false ? 'invalid' : 'valid';
      this.retryScid = hexOf(b, h.scidOff, h.scidLen);
      // The client's next Initial goes to the Retry's SCID, and its keys come from that (RFC 9001 §5.2).
      this.keys = null;
      this.afterRetry = true;
      return 'clear';
    }
    if (fromClient) q.clientPackets++;
    else q.serverPackets++;
    if (this.cids.size < 16 && h.scidLen > 0) {
      const scid = hexOf(b, h.scidOff, h.scidLen);
      if (!this.cids.has(scid)) this.shareCid(b, h.scidOff, h.scidLen, fromClient);
      this.cids.add(scid);
    }
    if (fromClient) {
      this.clientCidLen = h.scidLen;
      if (q.clientVersion === 0) q.clientVersion = h.version;
    } else {
      this.serverCidLen = h.scidLen;
      if (h.version !== q.clientVersion) q.serverVersion = h.version;
    }
    if (h.type === QuicType.ZeroRtt) {
      if (fromClient) q.zeroRttPackets++;
      return this.openKeyed(Level.ZeroRtt, dir, b, h, ts);
    }
    if (h.type === QuicType.Handshake) {
      if (fromClient && q.clientHandshakeTs === null) q.clientHandshakeTs = ts;
      return this.openKeyed(Level.Handshake, dir, b, h, ts);
    }
    // Initial
    if (fromClient && !this.keys && (this.keysDcid === null || this.afterRetry)) {
      this.keysDcid = b.slice(h.dcidOff, h.dcidOff + h.dcidLen);
      if (this.odcid === null) this.odcid = hexOf(b, h.dcidOff, h.dcidLen);
      this.afterRetry = false;
      this.keys = initialKeys(h.version, this.keysDcid);
    }
    if (!this.keys || this.decrypted >= MAX_INITIALS_DECRYPTED) return 'no keys';
    this.decrypted++;
    const p = openPacket(b, h.start, h.pnOff, h.end, fromClient ? this.keys.client : this.keys.server, this.largestPn[dir]);
    if (!p) {
      q.undecryptable++;
      return 'failed';
    }
    if (p.packetNumber > this.largestPn[dir]) this.largestPn[dir] = p.packetNumber;
    this.frames(p.payload, dir, ts, -1);
    return 'decrypted';
  }

  /**
   * The connection's keys beyond Initial, once its hellos are known and the key log has them.
   * 0-RTT comes before the ServerHello: its suite (the resumed session's) is taken from the
   * early secret's length (48 bytes: TLS_AES_256_GCM_SHA384, else TLS_AES_128_GCM_SHA256) until
   * the ServerHello names the suite.
   */
  private sessionKeys(level: Level): QuicSessionKeys | null {
    if (this.session) return this.session;
    const log = this.owner.keyLog;
    if (!log || log.size === 0 || !this.random || this.lookups >= 64) return null;
    if (this.suiteId < 0 && level !== Level.ZeroRtt) return null;
    this.lookups++;
    const secrets = log.lookup(this.random);
    if (!secrets) return null;
    const suite = this.suiteId >= 0 ? this.suiteId : secrets.clientEarlyTrafficSecret?.length === 48 ? 0x1302 : 0x1301;
    this.session = QuicSessionKeys.create(this.q.serverVersion ?? this.q.clientVersion, suite, secrets);
    this.sessionSuite = suite;
    if (this.session) this.q.keyed ??= { opened: 0, failed: 0, keyUpdates: 0 };
    return this.session;
  }

  private openKeyed(level: Level, dir: number, b: Uint8Array, h: QuicHeader, ts: number): QuicDecryption {
    const s = this.sessionKeys(level);
    if (!s) return 'no keys';
    const largest = this.largestKeyed[level];
    const p = s.open(level, dir, b, h.start, h.pnOff, h.end, largest[dir]);
    const k = this.q.keyed!;
    k.keyUpdates = s.keyUpdates;
    if (!p) {
      k.failed++;
      return 'failed';
    }
    k.opened++;
    if (p.packetNumber > largest[dir]) largest[dir] = p.packetNumber;
    this.frames(p.payload, dir, ts, level);
    return 'decrypted';
  }

  /**
   * Frames of a decrypted packet (RFC 9000 §19): `level` -1 for Initial (CRYPTO goes to the TLS
   * hello parser), else a Level. STREAM and RESET_STREAM go to HTTP/3 when the connection
   * offered it; CONNECTION_CLOSE is recorded; every other known frame is skipped by its
   * layout, and an unknown type stops the packet's parsing.
   */
  private frames(pl: Uint8Array, dir: number, ts: number, level: number): void {
    const n = pl.length;
    let p = 0;
    const vi = (): number => {
      if (p >= n || p + varintSize(pl[p]) > n) {
        p = n + 1;
        return 0;
      }
      const v = readVarint(pl, p);
      p += varintSize(pl[p]);
      return v;
    };
    while (p < n) {
      const type = vi();
      if (p > n) return;
      if (type === FRAME_PADDING || type === FRAME_PING || type === FRAME_HANDSHAKE_DONE) continue;
      if (type === FRAME_ACK || type === FRAME_ACK_ECN) {
        vi(); vi();
        const ranges = vi();
        vi();
        for (let i = 0; i < ranges && p <= n; i++) { vi(); vi(); }
        if (type === FRAME_ACK_ECN) { vi(); vi(); vi(); }
      } else if (type === FRAME_CRYPTO) {
        const offset = vi();
        const len = vi();
        if (p > n || p + len > n) return;
        if (level === -1) this.crypto?.[dir].add(offset, pl, p, len);
        p += len;
      } else if (type >= FRAME_STREAM && type <= FRAME_STREAM + 7) {
        const id = vi();
        const offset = type & 0x04 ? vi() : 0;
        const len = type & 0x02 ? vi() : n - p;
        if (p > n || p + len > n) return;
        this.owner.streamTap?.(id, dir === 0, offset, pl, p, len, (type & 0x01) !== 0);
        this.http3()?.streamData(id, dir === 0, offset, pl, p, len, (type & 0x01) !== 0, ts);
        p += len;
      } else if (type === FRAME_RESET_STREAM) {
        const id = vi();
        const code = vi();
        vi();
        if (p > n) return;
        this.http3()?.resetStream(id, dir === 0, code, ts);
      } else if (type === FRAME_STOP_SENDING) { vi(); vi(); }
      else if (type === FRAME_NEW_TOKEN) { const l = vi(); p += l; }
      else if (type >= 0x10 && type <= 0x17) { vi(); if (type === 0x11 || type === 0x15) vi(); } // MAX_*, *_BLOCKED
      else if (type === FRAME_NEW_CONNECTION_ID) {
        vi(); vi();
        const l = p < n ? pl[p] : 0;
        if (p + 1 + l <= n) this.shareCid(pl, p + 1, l, dir === 0);
        p += 1 + l + 16;
      }
      else if (type === 0x19) vi(); // RETIRE_CONNECTION_ID
      else if (type === FRAME_PATH_CHALLENGE || type === FRAME_PATH_RESPONSE) p += 8;
      else if (type === FRAME_DATAGRAM) p = n;
      else if (type === FRAME_DATAGRAM + 1) { const l = vi(); p += l; }
      else if (type === FRAME_ACK_FREQUENCY) { vi(); vi(); vi(); vi(); }
      else if (type === FRAME_TIME_STAMP) vi();
      else if (type === FRAME_CLOSE_TRANSPORT || type === FRAME_CLOSE_APPLICATION) {
        const code = vi();
        if (type === FRAME_CLOSE_TRANSPORT) vi(); // the frame type that triggered it
        const rl = vi();
        if (p > n) return;
        const reason = Buffer.from(pl.buffer, pl.byteOffset + p, Math.min(rl, n - p, MAX_REASON)).toString('utf8');
        const name = type === FRAME_CLOSE_TRANSPORT ? transportErrorName(code) : `application error ${this.speaksH3() ? h3ErrorName(code) : `0x${code.toString(16)}`}`;
        if (!this.q.close) this.q.close = { error: reason ? `${name}: ${reason}` : name, fromClient: dir === 0, ts };
        p += rl;
      } else return; // unknown frame: its length is unknown, stop reading this packet
    }
  }

  private speaksH3(): boolean {
    return this.q.alpn.some((a) => a === 'h3' || a.startsWith('h3-'));
  }

  /** The HTTP/3 side of the connection, when it offered h3 and someone collects exchanges. */
  private http3(): Http3Connection | null {
    if (this.h3) return this.h3;
    const sink = this.owner.http;
    if (!sink || !this.speaksH3()) return null;
    this.h3 = new Http3Connection(this.q.connectionId, this.q.serverIp, this.q.serverPort, sink, this.owner.headerLists);
    this.owner.http3.push(this.h3);
    return this.h3;
  }

  /** Contiguous CRYPTO bytes: handshake messages, framed as TLS records for the TLS parser. */
  private handshakeBytes(dir: number, b: Uint8Array, off: number, len: number): void {
    const parser = this.tls?.[dir];
    if (!parser) return;
    for (let o = off; o < off + len; o += 16384) {
      const n = Math.min(16384, off + len - o);
      this.recordHdr[3] = n >> 8;
      this.recordHdr[4] = n & 0xff;
      parser.data(this.recordHdr, 0, 5, this.ts);
      parser.data(b, o, n, this.ts);
    }
  }

  private spin(dir: number, v: number, ts: number): void {
    if (this.lastSpin[dir] === v) return;
    if (this.lastSpin[dir] !== -1) {
      if (!Number.isNaN(this.lastEdge[dir]) && this.q.spinSamples.length < MAX_SPIN_SAMPLES) this.q.spinSamples.push(ts - this.lastEdge[dir]);
      this.lastEdge[dir] = ts;
    }
    this.lastSpin[dir] = v;
  }

  releaseBuffers(): void {
    this.crypto?.[0].release();
    this.crypto?.[1].release();
    this.crypto = null;
    this.tls = null;
  }

  private maybeRelease(): void {
    if (this.clientHelloSeen && this.q.tlsVersion !== null) this.releaseBuffers();
  }

  // TlsEvents: only the hellos matter here (the rest of the handshake is Handshake-level, encrypted).
  clientHello(c: ClientHelloInfo): void {
    if (this.clientHelloSeen) return;
    this.clientHelloSeen = true;
    this.random = c.random;
    this.q.sni = c.sni;
    this.q.alpn = c.alpn;
    this.crypto?.[0].release();
    this.maybeRelease();
  }

  serverHello(s: ServerHelloInfo, ts: number): void {
    if (this.q.tlsVersion !== null) return;
    this.q.tlsVersion = s.version;
    this.q.cipher = s.cipher;
    this.suiteId = s.cipherSuite;
    if (this.session && this.sessionSuite !== s.cipherSuite) this.session = null; // 0-RTT guessed another suite
    this.q.serverHelloTs = ts;
    this.crypto?.[1].release();
    this.maybeRelease();
  }

  certificate(): void {}
  changeCipherSpec(): void {}
  encryptedHandshake(): void {}
  applicationData(): void {}
  alert(): void {}
  end(): void {}
}
