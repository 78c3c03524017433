import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { analyzeFile } from '../../main/engine/analyze-file.js';
import { capture } from '../helpers/captures.js';

/*
 * tls[].undecryptedReason on the TLS 1.3 corpus capture (two sessions): null when decrypted,
 * else why not — no keys at all, keys for other sessions only, keys that do not open the
 * records (secrets mutated), and an unchanged clear-text analysis in every case.
 */

type Tls = { sni: string | null; decrypted: boolean; undecryptedReason: string | null };
const FILE = capture('tls13-rfc8446-early-data-keylog.pcap');
const KEYS = readFileSync(capture('tls13-rfc8446-early-data.keys'), 'utf8');
const tlsOf = (keys: string | null) => analyzeFile(FILE, keys === null ? {} : { keyLogs: [{ text: keys, source: 'keys' }] }).report.tls as Tls[];

describe('tls[].undecryptedReason', () => {
  it('null when decrypted', () => {
    expect(tlsOf(KEYS).map((t) => [t.decrypted, t.undecryptedReason])).toEqual([[true, null], [true, null]]);
  });

  it('no key log at all', () => {
    expect(tlsOf(null).map((t) => t.undecryptedReason)).toEqual([
      'no key log or Decryption Secrets Block with TLS secrets', 'no key log or Decryption Secrets Block with TLS secrets',
    ]);
  });

  it('keys for the first session only: the second names its client random', () => {
    const randoms = [...new Set(KEYS.split('\n').filter(Boolean).map((l) => l.split(' ')[1]))];
    expect(randoms).toHaveLength(2);
    const tls = tlsOf(KEYS.split('\n').filter((l) => l.includes(randoms[0])).join('\n'));
    expect(tls.map((t) => t.decrypted)).toEqual([true, false]);
    expect(tls[1].undecryptedReason).toBe(`the key log has no secrets for this session (client random ${randoms[1].slice(0, 16)}...)`);
  });

  it('wrong secrets: the records do not decrypt, said per session', () => {
    // Every secret's last hex digit changed: right client randoms, wrong keys.
    const wrong = KEYS.split('\n').map((l) => (l ? l.slice(0, -1) + (l.endsWith('0') ? '1' : '0') : l)).join('\n');
    const tls = tlsOf(wrong);
    expect(tls.map((t) => t.decrypted)).toEqual([false, false]);
    for (const t of tls) expect(t.undecryptedReason).toMatch(/records do not decrypt with the key log's secrets for client random [0-9a-f]{16}\.\.\. \(wrong or stale key log\?\)/);
    // The clear-text handshake analysis is the same as without keys.
    expect(tls.map((t) => t.sni)).toEqual(tlsOf(null).map((t) => t.sni));
  });
});
