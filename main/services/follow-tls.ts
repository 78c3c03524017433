import { TlsStreamParser, type TlsEvents } from '../parsers/tls.js';
import { TlsDecryptor, type DecryptedApp, type TlsDecryptorHost } from '../decrypt/tls-decryptor.js';
import type { KeyLog } from '../decrypt/key-log.js';
import type { StreamEnd, StreamSink } from '../reassembly/tcp-stream.js';

/*
 * Follow Stream of a TLS connection whose keys are known (key log, the capture's DSB): the
 * reassembled TCP bytes go through the engine's TLS parser and TlsDecryptor, and the
 * decrypted application data (both directions, in record order) goes to `app`. Whether
 * anything was decrypted is `decrypted`; without the session's keys nothing is.
 */
export class TlsFollow implements TlsEvents, TlsDecryptorHost {
  readonly client: TlsStreamParser;
  readonly server: TlsStreamParser;
  private decryptor: TlsDecryptor | null = null;
  warning: string | null = null;

  constructor(private keys: KeyLog, private app: DecryptedApp) {
    this.client = new TlsStreamParser(true, this);
    this.server = new TlsStreamParser(false, this);
  }

  get decrypted(): boolean {
    return this.decryptor?.decrypted ?? false;
  }

  clientHello(c: { random: Uint8Array; earlyData: boolean }): void {
    if (this.decryptor) return;
    const secrets = this.keys.lookup(c.random);
    if (!secrets) return;
    this.decryptor = new TlsDecryptor(secrets, c.random, c.earlyData, this, 'followed connection');
    this.client.collectProtected();
    this.server.collectProtected();
  }

  serverHello(s: { version: string; versionNumber: number; cipherSuite: number; random: Uint8Array; alpn: string | null; encryptThenMac: boolean; helloRetry: boolean }): void {
    if (s.helloRetry) {
      this.client.awaitHelloAfterRetry();
      return;
    }
    this.decryptor?.serverHello({ version: s.versionNumber, cipherSuite: s.cipherSuite, random: s.random, alpn: s.alpn, encryptThenMac: s.encryptThenMac });
    if (s.version === 'TLS 1.3') this.server.markEncrypted();
  }

  changeCipherSpec(fromClient: boolean): void {
    this.decryptor?.changeCipherSpec(fromClient);
  }

  protectedRecord(fromClient: boolean, type: number, version: number, fragment: Uint8Array | null, len: number, ts: number): void {
    this.decryptor?.record(fromClient, type, version, fragment, len, ts);
  }

  end(fromClient: boolean, ts: number, how: StreamEnd): void {
    this.decryptor?.end(fromClient, ts, how);
  }

  openApp(): DecryptedApp {
    return this.app;
  }

  warn(message: string): void {
    this.warning ??= message;
  }

  certificate(): void {}
  encryptedHandshake(): void {}
  applicationData(): void {}
  alert(): void {}
}

/** Both sinks at once: the raw bytes and (for TLS) the parser, fed the same stream. */
export function teeSink(a: StreamSink, b: StreamSink): StreamSink {
  return {
    data: (buf, off, len, ts) => { a.data(buf, off, len, ts); b.data(buf, off, len, ts); },
    gap: (len, ts) => { a.gap(len, ts); b.gap(len, ts); },
    end: (ts, how) => { a.end(ts, how); b.end(ts, how); },
  };
}

/**
 * Decrypted application data whose protocol is decided on the client's first bytes (the
 * first 24, as latin1): `choose` returns the two sinks (client's, server's) or null to drop it.
 */
export function appByClientFirstBytes(choose: (head: string) => [StreamSink, StreamSink] | null): DecryptedApp {
  let targets: [StreamSink, StreamSink] | null = null;
  let decided = false;
  const sink = (dir: 0 | 1): StreamSink => ({
    data: (b, off, len, ts) => {
      if (!decided && dir === 0) {
        decided = true;
        targets = choose(Buffer.from(b.buffer, b.byteOffset + off, Math.min(len, 24)).toString('latin1'));
      }
      targets?.[dir].data(b, off, len, ts);
    },
    gap: (len, ts) => targets?.[dir].gap(len, ts),
    end: (ts, how) => targets?.[dir].end(ts, how),
  });
  return { client: sink(0), server: sink(1) };
}
