/*
 * TLS KEY MATERIAL: the NSS key log format (SSLKEYLOGFILE, as written by Firefox, Chrome,
 * curl, GnuTLS programs and Node's 'keylog' event) and the pcapng Decryption Secrets Block
 * (draft-ietf-opsawg-pcapng §4.7, secrets type 0x544c534b "TLSK": the same text inside the
 * capture). One line per secret:
 *   LABEL <client_random: 64 hex> <secret: hex>
 * TLS 1.2 and older: CLIENT_RANDOM (48-byte master secret). TLS 1.3 (RFC 8446 §7.1) and QUIC
 * (RFC 9001 §5): CLIENT_EARLY_TRAFFIC_SECRET, CLIENT/SERVER_HANDSHAKE_TRAFFIC_SECRET,
 * CLIENT/SERVER_TRAFFIC_SECRET_0 (hash-length secrets). EXPORTER_SECRET and other labels
 * (RSA, EARLY_EXPORTER_SECRET, the post-KeyUpdate secrets OpenSSL logs) are counted as ignored. Lines that do not parse are
 * counted (the first few are kept for the warning), never thrown. Secrets are looked up by
 * the ClientHello random, which is how a key log names a session.
 */

/** The TLS 1.3 / QUIC secrets of one session, and the TLS 1.2 master secret. */
export interface TlsSessionSecrets {
  /** CLIENT_RANDOM: TLS <= 1.2 master secret (48 bytes). */
  masterSecret?: Uint8Array;
  clientEarlyTrafficSecret?: Uint8Array;
  clientHandshakeTrafficSecret?: Uint8Array;
  serverHandshakeTrafficSecret?: Uint8Array;
  clientTrafficSecret0?: Uint8Array;
  serverTrafficSecret0?: Uint8Array;
}

/** Labels of the NSS key log and the field each fills. */
const LABELS: Record<string, keyof TlsSessionSecrets> = {
  CLIENT_RANDOM: 'masterSecret',
  CLIENT_EARLY_TRAFFIC_SECRET: 'clientEarlyTrafficSecret',
  CLIENT_HANDSHAKE_TRAFFIC_SECRET: 'clientHandshakeTrafficSecret',
  SERVER_HANDSHAKE_TRAFFIC_SECRET: 'serverHandshakeTrafficSecret',
  CLIENT_TRAFFIC_SECRET_0: 'clientTrafficSecret0',
  SERVER_TRAFFIC_SECRET_0: 'serverTrafficSecret0',
};
const IGNORED_LABELS = new Set(['EXPORTER_SECRET', 'EARLY_EXPORTER_SECRET', 'RSA', 'PMS_CLIENT_RANDOM']);
/**
 * Secrets after a KeyUpdate, which OpenSSL 3 also logs ("CLIENT_TRAFFIC_SECRET_N"); they are
 * derived from the _0 secrets (RFC 8446 §7.2), so they are not needed.
 */
const UPDATED_SECRET_RE = /^(CLIENT|SERVER)_TRAFFIC_SECRET_(N|[1-9][0-9]*)$/;

/** pcapng DSB secrets types (draft-ietf-opsawg-pcapng §4.7). */
export const DSB_TLS_KEY_LOG = 0x544c534b; // "TLSK"
export const DSB_NAMES: Record<number, string> = {
  0x544c534b: 'TLS key log',
  0x57474b4c: 'WireGuard key log',
  0x5a4e574b: 'ZigBee NWK key',
  0x5a415053: 'ZigBee APS key',
  0x6f70646c: 'OPC UA key log',
};

/** Sessions kept: far above any real key log; beyond it lines are counted as dropped. */
const MAX_SESSIONS = 1_000_000;
/** Longest secret accepted (SHA-512 would be 64 bytes; nothing longer exists). */
const MAX_SECRET_BYTES = 64;
const MAX_BAD_LINE_EXAMPLES = 3;

export interface KeyLogStats {
  /** Secrets stored (a repeated identical line counts once). */
  secrets: number;
  /** Lines with a known label we do not use (EXPORTER_SECRET, RSA, ...). */
  ignored: number;
  /** Lines that are not `LABEL hex hex` with a 32-byte client random, or an unknown label. */
  badLines: number;
  /** First bad lines, "source:line: text" (cut to 80 characters). */
  badExamples: string[];
  /** Lines dropped because MAX_SESSIONS sessions are already known. */
  dropped: number;
  /** DSBs of a secrets type other than TLS, by name. */
  otherDsbs: string[];
}

const HEX_RE = /^[0-9a-fA-F]+$/;

function hexToBytes(h: string): Uint8Array {
  const out = new Uint8Array(h.length >> 1);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(h.substr(i * 2, 2), 16);
  return out;
}

/** Lower-case hex of a client random, the lookup key. */
export function randomKey(random: Uint8Array): string {
  let s = '';
  for (let i = 0; i < random.length; i++) s += (random[i] < 16 ? '0' : '') + random[i].toString(16);
  return s;
}

/**
 * Every TLS secret known to one analysis session: from key log files the user gave and from
 * DSBs met in the capture (a DSB is added when the reader reaches it, so it serves the
 * packets after it, as the pcapng spec requires).
 */
export class KeyLog {
  private sessions = new Map<string, TlsSessionSecrets>();
  /** A key log file is being followed (live capture): sessions may get their keys after their ClientHello. */
  growing = false;
  readonly stats: KeyLogStats = { secrets: 0, ignored: 0, badLines: 0, badExamples: [], dropped: 0, otherDsbs: [] };

  /** Number of sessions (client randoms) with at least one secret. */
  get size(): number {
    return this.sessions.size;
  }

  /** Adds the lines of an NSS key log text; `source` names it in bad-line examples. */
  addText(text: string, source = 'key log'): void {
    let lineNo = 0;
    for (const raw of text.split(/\r?\n/)) {
      lineNo++;
      const line = raw.trim();
      if (line === '' || line.startsWith('#')) continue;
      this.addLine(line, source, lineNo);
    }
  }

  /** Adds the secrets of a pcapng Decryption Secrets Block (type and data as in the file). */
  addDecryptionSecrets(secretsType: number, data: Uint8Array, source = 'pcapng DSB'): void {
    if (secretsType !== DSB_TLS_KEY_LOG) {
      const name = DSB_NAMES[secretsType] ?? `secrets type 0x${(secretsType >>> 0).toString(16).padStart(8, '0')}`;
      if (!this.stats.otherDsbs.includes(name)) this.stats.otherDsbs.push(name);
      return;
    }
    this.addText(new TextDecoder('utf-8', { fatal: false }).decode(data).replace(/\0+$/, ''), source);
  }

  /** Adds every session of another key log (a re-read of some packets with the session's keys). */
  addFrom(other: KeyLog): void {
    for (const [k, v] of other.sessions) if (!this.sessions.has(k)) this.sessions.set(k, { ...v });
  }

  /** The secrets of the session whose ClientHello carried `clientRandom` (32 bytes), or null. */
  lookup(clientRandom: Uint8Array): TlsSessionSecrets | null {
    return this.sessions.get(randomKey(clientRandom)) ?? null;
  }

  /** The same by the lower-case hex of the client random (randomKey). */
  lookupHex(clientRandomHex: string): TlsSessionSecrets | null {
    return this.sessions.get(clientRandomHex) ?? null;
  }

  /** The NSS key log lines of one session (its client random in hex), for re-embedding. */
  linesFor(clientRandomHex: string): string[] {
    const s = this.sessions.get(clientRandomHex.toLowerCase());
    if (!s) return [];
    const out: string[] = [];
    for (const [label, field] of Object.entries(LABELS)) {
      const v = s[field];
      if (v) out.push(`${label} ${clientRandomHex.toLowerCase()} ${randomKey(v)}`);
    }
    return out;
  }

  /** One summary line for the report's warnings when the key log had problems, else null. */
  problems(): string | null {
    const s = this.stats;
    const parts: string[] = [];
    if (s.badLines > 0) parts.push(`${s.badLines} key log line(s) not understood (first: ${s.badExamples.join(' | ')})`);
    if (s.dropped > 0) parts.push(`${s.dropped} key log line(s) dropped beyond ${MAX_SESSIONS} sessions`);
    if (s.otherDsbs.length > 0) parts.push(`decryption secrets not used: ${s.otherDsbs.join(', ')}`);
    return parts.length > 0 ? parts.join('; ') : null;
  }

  private addLine(line: string, source: string, lineNo: number): void {
    const parts = line.split(/\s+/);
    const label = parts[0];
    if (IGNORED_LABELS.has(label) || UPDATED_SECRET_RE.test(label)) {
      this.stats.ignored++;
      return;
    }
    const field = LABELS[label];
    const random = parts[1] ?? '';
    const secret = parts[2] ?? '';
    if (!field || parts.length !== 3 || random.length !== 64 || !HEX_RE.test(random) || !HEX_RE.test(secret)
      || secret.length % 2 !== 0 || secret.length === 0 || secret.length > MAX_SECRET_BYTES * 2
      || (field === 'masterSecret' && secret.length !== 96)) {
      this.stats.badLines++;
      if (this.stats.badExamples.length < MAX_BAD_LINE_EXAMPLES) {
        this.stats.badExamples.push(`${source}:${lineNo}: ${line.length > 80 ? line.slice(0, 77) + '...' : line}`);
      }
      return;
    }
    const key = random.toLowerCase();
    let s = this.sessions.get(key);
    if (!s) {
      if (this.sessions.size >= MAX_SESSIONS) {
        this.stats.dropped++;
        return;
      }
      s = {};
      this.sessions.set(key, s);
    }
    if (s[field] === undefined) this.stats.secrets++;
    // A later line for the same session and label replaces the earlier one (as Wireshark does).
    s[field] = hexToBytes(secret);
  }
}
