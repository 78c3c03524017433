import { describe, expect, it } from 'vitest';
import { decodeQpackSection, QPACK_STATIC_TABLE, QpackTable } from '../../main/parsers/qpack.js';
import { Http3StreamParser, type Http3StreamEvents } from '../../main/parsers/http3.js';
import { QuicStreamReassembly } from '../../main/reassembly/quic-stream.js';
import { rngUint32 } from '../helpers/rng.js';

/*
 * QPACK (RFC 9204) on the examples of Appendix B (B.1 static-only, B.2 dynamic table from the
 * encoder stream with post-base indexing), the static table's size and landmarks, HTTP/3
 * framing across arbitrary STREAM frame boundaries and out of order, and seeded fuzz of the
 * QPACK decoder, the encoder-stream reader and the HTTP/3 framer: no throw, bounded.
 */
const hex = (s: string) => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));

describe('QPACK', () => {
  it('static table: 99 entries (Appendix A)', () => {
    expect(QPACK_STATIC_TABLE.length).toBe(99);
    expect([QPACK_STATIC_TABLE[0], QPACK_STATIC_TABLE[17], QPACK_STATIC_TABLE[25], QPACK_STATIC_TABLE[98]]).toEqual([[':authority', ''], [':method', 'GET'], [':status', '200'], ['x-frame-options', 'sameorigin']]);
  });

  it('B.1: literal field line with a static name reference', () => {
    const b = hex('0000 510b 2f69 6e64 6578 2e68 746d 6c');
    expect(decodeQpackSection(b, 0, b.length)).toEqual({ fields: [[':path', '/index.html']], requiredInsertCount: 0, dynamicRefs: 0, error: null });
  });

  it('B.2: dynamic table from the encoder stream, post-base indexed lines', () => {
    const t = new QpackTable();
    t.maxCapacity = 220; // the decoder's SETTINGS_QPACK_MAX_TABLE_CAPACITY
    const enc = hex('3fbd01 c00f7777772e6578616d706c652e636f6d c10c2f73616d706c652f70617468');
    // Fed in two pieces cut inside an instruction: the reader waits for the rest.
    t.instructions(enc, 0, 10);
    t.instructions(enc, 10, enc.length - 10);
    expect(t.insertCount).toBe(2);
    const sec = hex('0381 10 11');
    expect(decodeQpackSection(sec, 0, sec.length, t)).toEqual({ fields: [[':authority', 'www.example.com'], [':path', '/sample/path']], requiredInsertCount: 2, dynamicRefs: 0, error: null });
    // Without the table the lines are unresolved, not invented.
    expect(decodeQpackSection(sec, 0, sec.length).fields).toEqual([[null, null], [null, null]]);
  });

  it('damaged sections keep what was decoded and say why', () => {
    const b = hex('0000 d1 510b 2f69 6e64');
    const r = decodeQpackSection(b, 0, b.length);
    expect(r.fields).toEqual([[':method', 'GET']]);
    expect(r.error).toMatch(/cut short/);
    expect(decodeQpackSection(hex('0000 ff'), 0, 3).error).toMatch(/static index|cut short/);
  });

  it('seeded fuzz of sections and encoder instructions: no throw, bounded table', () => {
    const next = rngUint32(9204);
    const buf = new Uint8Array(300);
    for (let i = 0; i < 3000; i++) {
      const n = next() % buf.length;
      for (let k = 0; k < n; k++) buf[k] = next() & 0xff;
      const t = new QpackTable();
      t.maxCapacity = 4096;
      t.instructions(buf, 0, n);
      const r = decodeQpackSection(buf, 0, n, t);
      expect(r.fields.length).toBeLessThanOrEqual(512);
    }
  });
});

function recorder(): { ev: Http3StreamEvents; log: string[] } {
  const log: string[] = [];
  return {
    log,
    ev: {
      headers: (h, bytes) => log.push(`H${bytes}:${h.fields.map((f) => f.join('=')).join(',')}`),
      data: (n) => log.push(`D${n}`),
      start: () => log.push('start'),
      fin: () => log.push('fin'),
      broken: (why) => log.push(`broken:${why}`),
    },
  };
}

describe('HTTP/3 framing over a QUIC stream', () => {
  // HEADERS(:method GET, :path /index.html) then DATA "hello", then an unknown (grease) frame.
  const section = hex('0000 d1 510b 2f69 6e64 6578 2e68 746d 6c');
  const stream = new Uint8Array([0x01, section.length, ...section, 0x00, 5, ...Buffer.from('hello'), 0x21, 2, 9, 9]);

  it('byte by byte, and shuffled STREAM frames, give the same frames', () => {
    const whole = recorder();
    new QuicStreamReassembly(new Http3StreamParser(whole.ev)).add(0, stream, 0, stream.length, true, 1);
    expect(whole.log).toEqual(['start', 'H16::method=GET,:path=/index.html', 'D5', 'fin']);
    const next = rngUint32(3);
    for (let round = 0; round < 50; round++) {
      const r = recorder();
      const s = new QuicStreamReassembly(new Http3StreamParser(r.ev));
      const cuts: [number, number][] = [];
      for (let o = 0; o < stream.length;) {
        const n = 1 + (next() % 6);
        cuts.push([o, Math.min(n, stream.length - o)]);
        o += n;
      }
      for (let i = cuts.length - 1; i > 0; i--) {
        const j = next() % (i + 1);
        [cuts[i], cuts[j]] = [cuts[j], cuts[i]];
      }
      for (const [o, n] of [...cuts, cuts[0]]) s.add(o, stream, o, n, o + n === stream.length, 1);
      // DATA may arrive in pieces: sum them.
      const data = r.log.filter((x) => x.startsWith('D')).reduce((a, x) => a + Number(x.slice(1)), 0);
      expect(r.log.filter((x) => !x.startsWith('D'))).toEqual(['start', 'H16::method=GET,:path=/index.html', 'fin']);
      expect(data).toBe(5);
    }
  });

  it('seeded fuzz of the framer: no throw, HEADERS payloads bounded', () => {
    const next = rngUint32(9114);
    for (let i = 0; i < 2000; i++) {
      const n = next() % 200;
      const b = Uint8Array.from({ length: n }, () => next() & 0xff);
      const r = recorder();
      const s = new QuicStreamReassembly(new Http3StreamParser(r.ev));
      for (let o = 0; o < n; o += 7) s.add(o, b, o, Math.min(7, n - o), false, 0);
      s.end(0);
    }
  });
});

describe('QUIC stream reassembly', () => {
  it('more holes than it can wait for: skips to the earliest data held, reports the gap, delivers the rest once', () => {
    const got: string[] = [];
    const s = new QuicStreamReassembly({ data: (_b, _o, n) => got.push(`d${n}`), gap: (n) => got.push(`g${n}`), fin: () => got.push('fin') });
    const b = new Uint8Array(10_000);
    for (let i = 0; i < 40; i++) s.add(100 + i * 200, b, 0, 100, false, 0); // 40 islands, holes between
    s.end(0);
    const delivered = got.filter((x) => x[0] === 'd').reduce((a, x) => a + Number(x.slice(1)), 0);
    const gaps = got.filter((x) => x[0] === 'g').reduce((a, x) => a + Number(x.slice(1)), 0);
    expect(delivered).toBe(40 * 100);
    expect(delivered + gaps).toBe(100 + 39 * 200 + 100);
    expect(s.delivered).toBe(delivered + gaps);
  });
});
