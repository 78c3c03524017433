import type { TlsSessionSecrets } from './key-log.js';
import { cipherSuite, type CipherSuite } from './ciphers.js';
import { nextSecret, openPacket, packetKeys, type OpenedPacket, type PacketKeys } from './quic-initial.js';

/*
 * The keys of one QUIC connection beyond Initial, from its TLS secrets in a key log or DSB
 * (RFC 9001 §5.1): Handshake packets from the client/server handshake traffic secrets, 0-RTT
 * from the client early traffic secret, 1-RTT from the traffic secrets _0, with the suite the
 * ServerHello chose. 1-RTT KEY UPDATES (RFC 9001 §6): the header protection key stays, the
 * packet keys move to HKDF-Expand-Label(secret, "quic ku"); a packet that does not open with
 * the current keys is tried with the next generation (and the previous one, for reordering),
 * and a success with the next makes it current.
 */

export const enum Level {
  Handshake = 0,
  ZeroRtt = 1,
  OneRtt = 2,
}

interface Generation {
  secret: Uint8Array;
  keys: PacketKeys;
}

interface AppKeys {
  cur: Generation;
  prev: Generation | null;
  next: Generation | null;
}

export class QuicSessionKeys {
  private readonly suite: CipherSuite;
  private readonly hs: (PacketKeys | null)[];
  private readonly early: PacketKeys | null;
  private readonly app: (AppKeys | null)[];
  keyUpdates = 0;

  private constructor(suite: CipherSuite, private readonly version: number, s: TlsSessionSecrets) {
    this.suite = suite;
    const k = (secret: Uint8Array | undefined) => (secret ? packetKeys(secret, version, suite) : null);
    this.hs = [k(s.clientHandshakeTrafficSecret), k(s.serverHandshakeTrafficSecret)];
    this.early = k(s.clientEarlyTrafficSecret);
    const app = (secret: Uint8Array | undefined): AppKeys | null => (secret ? { cur: { secret, keys: packetKeys(secret, version, suite) }, prev: null, next: null } : null);
    this.app = [app(s.clientTrafficSecret0), app(s.serverTrafficSecret0)];
  }

  /** Keys for a connection whose ServerHello chose `suiteId`; null when the suite is not a TLS 1.3 AEAD Tapscope has. */
  static create(version: number, suiteId: number, s: TlsSessionSecrets): QuicSessionKeys | null {
    const suite = cipherSuite(suiteId);
    if (!suite || !suite.tls13) return null;
    return new QuicSessionKeys(suite, version, s);
  }

  /** Opens one packet of `level` sent by the client (dir 0) or the server (dir 1); null when it does not open. */
  open(level: Level, dir: number, b: Uint8Array, start: number, pnOff: number, end: number, largest: number): OpenedPacket | null {
    if (level === Level.Handshake) {
      const k = this.hs[dir];
      return k ? openPacket(b, start, pnOff, end, k, largest) : null;
    }
    if (level === Level.ZeroRtt) return dir === 0 && this.early ? openPacket(b, start, pnOff, end, this.early, largest) : null;
    const a = this.app[dir];
    if (!a) return null;
    const p = openPacket(b, start, pnOff, end, a.cur.keys, largest);
    if (p) return p;
    if (a.prev) {
      const q = openPacket(b, start, pnOff, end, a.prev.keys, largest);
      if (q) return q;
    }
    a.next ??= this.nextGeneration(a.cur);
    const n = openPacket(b, start, pnOff, end, a.next.keys, largest);
    if (n) {
      a.prev = a.cur;
      a.cur = a.next;
      a.next = null;
      this.keyUpdates++;
    }
    return n;
  }

  private nextGeneration(g: Generation): Generation {
    const secret = nextSecret(g.secret, this.version, this.suite.hash);
    const keys = packetKeys(secret, this.version, this.suite);
    keys.hp = g.keys.hp; // header protection keys are not updated (RFC 9001 §6)
    return { secret, keys };
  }
}
