import type { StreamSink, StreamEnd } from '../../reassembly/tcp-stream.js';
import { ALERT_NAMES, TLS_ALERT, TLS_APPLICATION_DATA, TLS_CHANGE_CIPHER_SPEC, TLS_HANDSHAKE, TlsStreamParser, type TlsEvents } from '../../parsers/tls.js';

/*
 * TLS per-record text for the Info column, as tshark writes it: each record completed in a
 * packet adds its description ("Client Hello", "Change Cipher Spec", "Application Data",
 * "Encrypted Handshake Message", "Alert (Level: Fatal, Description: Handshake Failure)"),
 * handshake records list the handshake messages they complete. A Client Hello with a server
 * name adds " (SNI=name)" (as Wireshark 4.2 and later do; tshark 4.0 does not).
 * The Protocol column is the negotiated version once the ServerHello was read, the record's
 * version before ("TLSv1" for a ClientHello in a 3.1 record).
 * The TlsStreamParser of the engine runs alongside for the hellos (SNI, negotiated version).
 */

const HANDSHAKE_NAMES: Record<number, string> = {
  0: 'Hello Request', 1: 'Client Hello', 2: 'Server Hello', 3: 'Hello Verify Request', 4: 'New Session Ticket',
  5: 'End of Early Data', 6: 'Hello Retry Request', 8: 'Encrypted Extensions', 11: 'Certificate', 12: 'Server Key Exchange',
  13: 'Certificate Request', 14: 'Server Hello Done', 15: 'Certificate Verify', 16: 'Client Key Exchange', 20: 'Finished',
  21: 'Certificate URL', 22: 'Certificate Status', 23: 'Supplemental Data', 24: 'Key Update', 25: 'Compressed Certificate',
};

export function tlsProtocolName(version: number): string {
  switch (version) {
    case 0x0300: return 'SSLv3';
    case 0x0301: return 'TLSv1';
    case 0x0302: return 'TLSv1.1';
    case 0x0303: return 'TLSv1.2';
    case 0x0304: return 'TLSv1.3';
    default: return 'TLS';
  }
}

/** tshark's alert text: "Close Notify", "Handshake Failure" (the RFC names in title case). */
function alertText(level: number, description: number): string {
  const name = (ALERT_NAMES[description] ?? `Unknown (${description})`).split('_').map((w) => w[0].toUpperCase() + w.slice(1)).join(' ');
  return `Alert (Level: ${level === 1 ? 'Warning' : level === 2 ? 'Fatal' : `Unknown (${level})`}, Description: ${name})`;
}

/** Both directions' shared state: the negotiated version once a ServerHello was read. */
export class TlsSessionState {
  version = 0;
  sni: string | null = null;
  /** The ClientHello offers only TLS 1.3, or early data: later records are TLS 1.3 (as tshark names them). */
  only13 = false;
}

const MAX_RECORD = 18432;

/** One direction. `ts` of the stream calls is the packet index that delivered the bytes. */
export class TlsRecordLabels implements StreamSink {
  private hdr = new Uint8Array(5);
  private hdrLen = 0;
  private type = 0;
  private version = 0;
  private remaining = 0;
  private body = new Uint8Array(0);
  private bodyLen = 0;
  private encrypted = false;
  private dead = false;
  private hello: TlsStreamParser;

  constructor(
    private fromClient: boolean,
    private session: TlsSessionState,
    private label: (packet: number, protocol: string, info: string) => void,
  ) {
    const ev: TlsEvents = {
      clientHello: (h) => {
        session.sni = h.sni;
        session.only13 = h.earlyData || (h.versions.length === 1 && h.versions[0] === 'TLS 1.3');
      },
      serverHello: (h) => { session.version = h.versionNumber; },
      certificate: () => {}, changeCipherSpec: () => {}, encryptedHandshake: () => {}, applicationData: () => {}, alert: () => {}, end: () => {},
    };
    this.hello = new TlsStreamParser(fromClient, ev);
  }

  data(b: Uint8Array, off: number, len: number, packet: number): void {
    if (!this.hello.isDead) this.hello.data(b, off, len, packet);
    let i = off;
    const end = off + len;
    while (i < end && !this.dead) {
      if (this.remaining === 0) {
        const n = Math.min(5 - this.hdrLen, end - i);
        this.hdr.set(b.subarray(i, i + n), this.hdrLen);
        this.hdrLen += n;
        i += n;
        if (this.hdrLen < 5) return;
        this.startRecord();
        if (this.remaining === 0 && !this.dead) this.endRecord(packet);
        continue;
      }
      const n = Math.min(this.remaining, end - i);
      if (this.type !== TLS_APPLICATION_DATA) {
        this.body.set(b.subarray(i, i + n), this.bodyLen);
        this.bodyLen += n;
      }
      i += n;
      this.remaining -= n;
      if (this.remaining === 0) this.endRecord(packet);
    }
  }

  gap(len: number): void {
    // Inside an application-data record a gap is harmless; elsewhere framing is lost.
    if (this.remaining > 0 && this.type === TLS_APPLICATION_DATA && len <= this.remaining) this.remaining -= len;
    else this.dead = true;
    if (!this.hello.isDead) this.hello.gap(len, 0);
  }

  end(_ts: number, _how: StreamEnd): void {
    this.dead = true;
  }

  private startRecord(): void {
    const h = this.hdr;
    this.type = h[0];
    this.version = (h[1] << 8) | h[2];
    const len = (h[3] << 8) | h[4];
    this.hdrLen = 0;
    if (this.type < TLS_CHANGE_CIPHER_SPEC || this.type > 24 || h[1] !== 3 || len > MAX_RECORD) {
      this.dead = true;
      return;
    }
    this.remaining = len;
    this.bodyLen = 0;
    if (this.body.length < len) this.body = new Uint8Array(Math.max(len, 1024));
  }

  private endRecord(packet: number): void {
    const protocol = tlsProtocolName(this.session.version || this.version);
    this.label(packet, protocol, this.describe());
    if (this.session.only13 && this.session.version === 0) this.session.version = 0x0304;
    if (this.type === TLS_CHANGE_CIPHER_SPEC) this.encrypted = true;
  }

  private describe(): string {
    const b = this.body;
    switch (this.type) {
      case TLS_CHANGE_CIPHER_SPEC: return 'Change Cipher Spec';
      case TLS_APPLICATION_DATA: return 'Application Data';
      case TLS_ALERT: return this.encrypted || this.bodyLen < 2 ? 'Encrypted Alert' : alertText(b[0], b[1]);
      case TLS_HANDSHAKE: {
        if (this.encrypted) return 'Encrypted Handshake Message';
        const names: string[] = [];
        for (let o = 0; o + 4 <= this.bodyLen;) {
          const t = b[o];
          let name = HANDSHAKE_NAMES[t] ?? `Unknown Handshake Message (${t})`;
          if (t === 1 && this.fromClient && this.session.sni) name += ` (SNI=${this.session.sni})`;
          names.push(name);
          o += 4 + ((b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]);
        }
        return names.join(', ');
      }
      default: return 'Heartbeat';
    }
  }
}
