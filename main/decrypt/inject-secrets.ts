import type { Frame } from '../decode/frame.js';
import { openCapture } from '../pcap/reader.js';
import { DSB_TLS_KEY_LOG, KeyLog, randomKey } from './key-log.js';
import { loadKeyLogFiles, useCaptureSecrets } from './capture-keys.js';

/*
 * EMBEDDING KEYS ON SAVE, as `editcap --inject-secrets tls,KEYS` does: the secrets of the TLS
 * sessions whose ClientHello is among the saved packets go into one pcapng Decryption Secrets
 * Block (draft-ietf-opsawg-pcapng §4.7) ahead of the packets, so the file decrypts by itself
 * (tshark, Wireshark, Tapscope). Only those sessions: saving one connection does not hand over
 * the keys of the others.
 */

const BT_DSB = 0x0000000a;
const TLS_HANDSHAKE = 22;
const HS_CLIENT_HELLO = 1;

/**
 * The ClientHello random a packet carries (its TCP payload starts a handshake record with a
 * ClientHello: record header(5), type(1) length(3), legacy_version(2), random(32); RFC 8446
 * §4.1.2), in hex, or null.
 */
export function clientHelloRandom(f: Frame): string | null {
  const b = f.data;
  const o = f.payloadOff;
  if (f.payloadCapLen < 43 || b[o] !== TLS_HANDSHAKE || b[o + 1] !== 3 || b[o + 5] !== HS_CLIENT_HELLO) return null;
  return randomKey(b.subarray(o + 11, o + 43));
}

/** The key log a session decrypted with: its key log files and the source capture's DSBs. */
export function sessionKeyLog(capturePath: string, keyLogPaths: string[]): { keys: KeyLog; problems: string[] } {
  const keys = new KeyLog();
  const problems = loadKeyLogFiles(keyLogPaths, keys);
  const reader = openCapture(capturePath);
  try {
    useCaptureSecrets(reader, keys);
    // DSBs sit between packets: read the file through (packets are skipped, not kept).
    while (reader.next());
  } finally {
    reader.close();
  }
  return { keys, problems };
}

/** The NSS key log text for the sessions whose ClientHello is in `frames`, and how many. */
export function secretsFor(keys: KeyLog, frames: Iterable<Frame>): { text: string; sessions: number } {
  const seen = new Set<string>();
  const lines: string[] = [];
  for (const f of frames) {
    const r = clientHelloRandom(f);
    if (r === null || seen.has(r)) continue;
    seen.add(r);
    const l = keys.linesFor(r);
    if (l.length > 0) lines.push(...l);
  }
  const sessions = new Set(lines.map((l) => l.split(' ')[1])).size;
  return { text: lines.length ? lines.join('\n') + '\n' : '', sessions };
}

/** A pcapng DSB holding a TLS key log: type, length, secrets type, secrets length, text padded to 32 bits, length. */
export function decryptionSecretsBlock(text: string, littleEndian: boolean): Uint8Array {
  const data = new TextEncoder().encode(text);
  const padded = (data.length + 3) & ~3;
  const len = 20 + padded;
  const out = new Uint8Array(len);
  const v = new DataView(out.buffer);
  v.setUint32(0, BT_DSB, littleEndian);
  v.setUint32(4, len, littleEndian);
  v.setUint32(8, DSB_TLS_KEY_LOG, littleEndian);
  v.setUint32(12, data.length, littleEndian);
  out.set(data, 16);
  v.setUint32(len - 4, len, littleEndian);
  return out;
}
