import { readFileSync, writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { analyzeFile } from '../../main/engine/analyze-file.js';
import { capture } from '../helpers/captures.js';
import { rngUint32 } from '../helpers/rng.js';
import { analyzeWithKeys, expectHttpLikeTshark } from './tls-oracle.js';

const TLS13 = capture('tls13-rfc8446-early-data-keylog.pcap');
const EARLY_KEYS = capture('tls13-rfc8446-early-data.keys');
const NO_EARLY_KEYS = capture('tls13-rfc8446-no-early-data.keys');
const TLS12_DSB = capture('tls12-http-keys-in-pcapng-dsb.pcapng');

describe('TLS decryption on the corpus, against tshark with the same keys', () => {
  it('TLS 1.3 with 0-RTT keys: /first, /early and /second', () => {
    const r = analyzeWithKeys(TLS13, [EARLY_KEYS]);
    expect(expectHttpLikeTshark(TLS13, EARLY_KEYS, r)).toEqual({ requests: 3, responses: 3 });
    expect(r.session.app.http.exchanges.map((x) => x.uri)).toEqual(['/first', '/early', '/second']);
    expect(r.report.tls.map((t) => (t as { decrypted: boolean }).decrypted)).toEqual([true, true]);
    expect(r.report.warnings).toEqual([]);
  });

  it('TLS 1.3 without the early secret: /early stays undecrypted (one warning), its response is seen', () => {
    const r = analyzeWithKeys(TLS13, [NO_EARLY_KEYS]);
    expect(expectHttpLikeTshark(TLS13, NO_EARLY_KEYS, r)).toEqual({ requests: 2, responses: 3 });
    expect(r.session.app.http.exchanges.map((x) => x.uri)).toEqual(['/first', null, '/second']);
    expect(r.report.warnings.map((w) => w.message)).toEqual([expect.stringMatching(/^TLS connection 1: 0-RTT early data not decrypted: the key log has no CLIENT_EARLY_TRAFFIC_SECRET/)]);
  });

  it('TLS 1.2 with the master secrets in pcapng DSBs: HEAD example.com / and example.net /, both 200', () => {
    const r = analyzeFile(TLS12_DSB);
    expect(expectHttpLikeTshark(TLS12_DSB, null, r)).toEqual({ requests: 2, responses: 2 });
    expect(r.session.app.http.exchanges.map((x) => `${x.method} ${x.host} ${x.uri} ${x.status} ${(x as { protocol?: string }).protocol ?? 'http/1.1'}`))
      .toEqual(['HEAD example.com / 200 http/1.1', 'HEAD example.net / 200 http/1.1']);
    expect(r.report.http.map((x) => (x as { protocol?: string }).protocol ?? 'http/1.1')).toEqual(['http/1.1', 'http/1.1']);
    expect(r.report.tls.map((t) => (t as { decrypted: boolean }).decrypted)).toEqual([true, true]);
  });

  it('without keys nothing is decrypted and nothing is said about it', () => {
    const r = analyzeFile(TLS13);
    expect(r.session.app.http.exchanges).toEqual([]);
    expect(r.report.tls.map((t) => (t as { decrypted: boolean }).decrypted)).toEqual([false, false]);
    expect(r.report.warnings).toEqual([]);
  });

  it('a wrong key log: one warning per connection, nothing decrypted, no exception', () => {
    // Every secret with one bit flipped: right client randoms, wrong keys.
    const bad = readFileSync(EARLY_KEYS, 'utf8').replace(/^(\S+ \S+ )([0-9a-f])/gm, (_m, p, c) => p + (parseInt(c, 16) ^ 1).toString(16));
    const dir = mkdtempSync(join(tmpdir(), 'tapscope-keys-'));
    writeFileSync(join(dir, 'bad.keys'), bad);
    const r = analyzeWithKeys(TLS13, [join(dir, 'bad.keys')]);
    expect(r.session.app.http.exchanges).toEqual([]);
    expect(r.report.tls.map((t) => (t as { decrypted: boolean }).decrypted)).toEqual([false, false]);
    const msgs = r.report.warnings.map((w) => w.message);
    expect(msgs).toHaveLength(2);
    for (const [i, m] of msgs.entries()) expect(m).toMatch(new RegExp(`^TLS connection ${i}: (client|server) records do not decrypt with the key log's secrets`));
  });

  it('seeded fuzz: mutated and truncated TLS records never throw', () => {
    const files = [{ file: TLS13, keys: [EARLY_KEYS] }, { file: TLS12_DSB, keys: [] }];
    const dir = mkdtempSync(join(tmpdir(), 'tapscope-fuzz-'));
    const next = rngUint32(11);
    let decryptedSomewhere = 0;
    for (let round = 0; round < 60; round++) {
      const { file, keys } = files[round % 2];
      const b = Buffer.from(readFileSync(file));
      // Mutate a few bytes past the link/IP/TCP headers of the first packets (where the TLS records are).
      const n = 1 + (next() % 8);
      for (let k = 0; k < n; k++) {
        const at = 200 + (next() % (b.length - 200));
        b[at] = next() & 0xff;
      }
      const cut = round % 3 === 0 ? b.subarray(0, 200 + (next() % (b.length - 200))) : b;
      const path = join(dir, `f${round}${file.endsWith('.pcapng') ? '.pcapng' : '.pcap'}`);
      writeFileSync(path, cut);
      const r = analyzeWithKeys(path, keys);
      expect(r.report.warnings.every((w) => !/parsing failed/.test(w.message)), `round ${round}: ${JSON.stringify(r.report.warnings)}`).toBe(true);
      if (r.session.app.http.exchanges.length > 0) decryptedSomewhere++;
    }
    // Most mutations leave some records intact: decryption carried on around the damage.
    expect(decryptedSomewhere).toBeGreaterThan(10);
  });
});
