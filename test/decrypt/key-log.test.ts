import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { KeyLog, randomKey, DSB_TLS_KEY_LOG } from '../../main/decrypt/key-log.js';
import { PcapngReader } from '../../main/pcap/pcapng.js';
import { openCapture } from '../../main/pcap/reader.js';
import { capture, tshark } from '../helpers/captures.js';

const hex = (s: string) => Uint8Array.from(s.match(/../g)!.map((h) => parseInt(h, 16)));

describe('NSS key log', () => {
  it('reads every TLS 1.3 label of the RFC 8446 key log and finds sessions by client random', () => {
    const text = readFileSync(capture('tls13-rfc8446-early-data.keys'), 'utf8');
    const k = new KeyLog();
    k.addText(text, 'early.keys');
    const lines = text.split('\n').filter((l) => /^[A-Z_0-9]+ /.test(l));
    const used = lines.filter((l) => !l.startsWith('EXPORTER_SECRET'));
    expect(k.stats.secrets).toBe(used.length);
    expect(k.stats.ignored).toBe(lines.length - used.length);
    expect(k.stats.badLines).toBe(0);
    const first = used[0].split(' ');
    const s = k.lookup(hex(first[1]))!;
    expect(s).not.toBeNull();
    expect(randomKey(hex(first[1]))).toBe(first[1].toLowerCase());
    expect(k.lookup(new Uint8Array(32))).toBeNull();
    const early = used.find((l) => l.startsWith('CLIENT_EARLY_TRAFFIC_SECRET'))!.split(' ');
    expect(randomKey(k.lookup(hex(early[1]))!.clientEarlyTrafficSecret!)).toBe(early[2].toLowerCase());
    // The other key log has the same sessions without the early secret.
    const k2 = new KeyLog();
    k2.addText(readFileSync(capture('tls13-rfc8446-no-early-data.keys'), 'utf8'));
    expect(k2.lookup(hex(early[1]))!.clientEarlyTrafficSecret).toBeUndefined();
    expect(k2.lookup(hex(early[1]))!.clientTrafficSecret0).toBeDefined();
  });

  it('counts bad lines without throwing and keeps a few examples', () => {
    const k = new KeyLog();
    const r = 'ab'.repeat(32);
    k.addText([
      '# comment', '', `CLIENT_RANDOM ${r} ${'cd'.repeat(48)}`,
      `CLIENT_RANDOM ${r} ${'cd'.repeat(47)}`, // master secret must be 48 bytes
      `CLIENT_RANDOM ${r.slice(2)} ${'cd'.repeat(48)}`, // client random must be 32 bytes
      `SERVER_TRAFFIC_SECRET_0 ${r} zz${'00'.repeat(31)}`, // not hex
      `NO_SUCH_LABEL ${r} ${'00'.repeat(32)}`, 'garbage', '\u0000\u0001\u00ff',
      `EXPORTER_SECRET ${r} ${'00'.repeat(32)}`,
    ].join('\r\n'), 'bad.keys');
    expect(k.stats).toMatchObject({ secrets: 1, ignored: 1, badLines: 6 });
    expect(k.stats.badExamples).toHaveLength(3);
    expect(k.stats.badExamples[0]).toMatch(/^bad\.keys:4: CLIENT_RANDOM/);
    expect(k.problems()).toMatch(/6 key log line\(s\) not understood/);
    expect(k.lookup(hex(r))!.masterSecret).toHaveLength(48);
  });
});

describe('pcapng Decryption Secrets Block', () => {
  it('hands the TLS key log DSBs of tls12-http-keys-in-pcapng-dsb.pcapng to the session, as tshark reads them', () => {
    const file = capture('tls12-http-keys-in-pcapng-dsb.pcapng');
    const reader = openCapture(file) as PcapngReader;
    const k = new KeyLog();
    const types: number[] = [];
    let packetsBefore = -1;
    let packets = 0;
    reader.onDecryptionSecrets = (t, data) => {
      types.push(t);
      if (packetsBefore < 0) packetsBefore = packets;
      k.addDecryptionSecrets(t, data);
    };
    while (reader.next()) packets++;
    reader.close();
    expect(reader.error).toBeNull();
    expect(types).toEqual([DSB_TLS_KEY_LOG, DSB_TLS_KEY_LOG]);
    expect(k.stats.badLines).toBe(0);
    expect(k.size).toBe(2);
    // tshark's TLS session client randoms (from the ClientHellos) are the ones the DSBs name.
    const randoms = tshark(['-r', file, '-Y', 'tls.handshake.type == 1', '-T', 'fields', '-e', 'tls.handshake.random'])
      .split('\n').filter(Boolean).map((h) => h.replace(/:/g, ''));
    expect(randoms).toHaveLength(2);
    for (const r of randoms) expect(k.lookup(hex(r))?.masterSecret).toHaveLength(48);
  });
});
