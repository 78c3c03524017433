import { describe, expect, it } from 'vitest';
import { AnalysisSession } from '../../main/engine/session.js';
import { QuicConnections } from '../../main/analysis/quic-connections.js';
import { MAX_CRYPTO_BYTES, QuicCryptoStream } from '../../main/reassembly/quic-crypto.js';
import { initialKeys, openPacket, QUIC_V1 } from '../../main/decrypt/quic-initial.js';
import { openCapture } from '../../main/pcap/reader.js';
import type { PacketRecord } from '../../main/pcap/record.js';
import { allCaptures, capture } from '../helpers/captures.js';
import { rngUint32 } from '../helpers/rng.js';

/*
 * CRYPTO reassembly (in order once, out of order, duplicates, overlaps, bounded), and seeded
 * fuzz: the quic-* captures with their UDP payloads mutated and truncated go through the whole
 * session (decoder, QUIC analyser, Initial decryption, TLS hello parser); random CRYPTO frames
 * and random packets to openPacket. Nothing throws; buffers stay within their bounds.
 */

function collect(): { s: QuicCryptoStream; out: number[] } {
  const out: number[] = [];
  const s = new QuicCryptoStream((b, o, n) => { for (let i = 0; i < n; i++) out.push(b[o + i]); });
  return { s, out };
}

const bytes = (from: number, n: number) => Uint8Array.from({ length: n }, (_, i) => (from + i) & 0xff);

describe('QUIC CRYPTO reassembly', () => {
  it('hands bytes on once, in order, whatever order and repetition they arrive in', () => {
    const data = bytes(0, 3000);
    const { s, out } = collect();
    // Chromium-like: fragments of a ClientHello shuffled over several Initials, some repeated.
    const frags: [number, number][] = [[1200, 400], [0, 500], [2500, 500], [400, 300], [0, 500], [1600, 900], [700, 500], [2900, 100]];
    for (const [o, n] of frags) s.add(o, data, o, n);
    expect(out).toEqual([...data]);
    expect(s.delivered).toBe(3000);
    expect(s.incomplete).toBe(false);
  });

  it('keeps a hole open until it fills; drops what lies beyond the bound', () => {
    const data = bytes(7, 200);
    const { s, out } = collect();
    s.add(100, data, 100, 100);
    expect(out).toEqual([]);
    expect(s.incomplete).toBe(true);
    s.add(0, data, 0, 100);
    expect(out).toEqual([...data]);
    const big = collect();
    big.s.add(MAX_CRYPTO_BYTES - 10, new Uint8Array(100), 0, 100);
    expect(big.s.dropped).toBe(90);
  });

  it('random frames: never throws, never delivers a byte twice or out of order, stays bounded', () => {
    const next = rngUint32(7);
    for (let round = 0; round < 200; round++) {
      const total = 1 + (next() % 8000);
      const data = bytes(round, total);
      const { s, out } = collect();
      for (let i = 0; i < 80; i++) {
        const o = next() % total;
        const n = 1 + (next() % Math.min(1500, total - o));
        s.add(o, data, o, n);
      }
      s.add(0, data, 0, total); // the rest arrives: everything is delivered exactly once
      expect(out.length).toBe(total);
      expect(out.every((x, i) => x === data[i])).toBe(true);
    }
    const { s } = collect();
    for (let i = 0; i < 10000; i++) s.add((next() % 1_000_000) * 3, new Uint8Array(2), 0, 2); // holes beyond MAX_RANGES are refused
    expect(s.dropped).toBeGreaterThan(0);
  });
});

describe('QUIC seeded fuzz', () => {
  it('mutated and truncated quic-* captures through the session: no throw, bounded output', () => {
    const next = rngUint32(2026);
    let packets = 0;
    for (const name of allCaptures().filter((n) => n.startsWith('quic-'))) {
      for (let round = 0; round < 6; round++) {
        const quic = new QuicConnections();
        const session = new AnalysisSession({ analyzers: [quic] });
        const r = openCapture(capture(name));
        for (let p = r.next(); p; p = r.next()) {
          const data = p.data.slice(p.offset, p.offset + p.caplen);
          // Keep the link and IP headers mostly intact so the damage reaches QUIC: mutate past byte 40.
          const flips = next() % 6;
          for (let k = 0; k < flips && data.length > 41; k++) data[40 + (next() % (data.length - 40))] ^= 1 << (next() % 8);
          const caplen = next() % 4 === 0 ? next() % (data.length + 1) : data.length;
          const rec: PacketRecord = { ...p, data, view: new DataView(data.buffer), offset: 0, caplen };
          session.feed(rec);
          packets++;
        }
        r.close();
        session.finish();
        expect(quic.connections.length).toBeLessThanOrEqual(50);
        for (const q of quic.json()) expect(typeof q.state).toBe('string');
      }
    }
    expect(packets).toBeGreaterThan(1000);
  });

  it('random bytes and cut packets to openPacket return null, never throw', () => {
    const next = rngUint32(99);
    const k = initialKeys(QUIC_V1, Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8))!.client;
    const buf = new Uint8Array(1300);
    for (let i = 0; i < 300; i++) {
      const n = next() % buf.length;
      for (let j = 0; j < n; j++) buf[j] = next() & 0xff;
      buf[0] |= 0xc0;
      expect(openPacket(buf, 0, next() % 40, n, k, next() % 1000)).toBeNull();
    }
  });
});
