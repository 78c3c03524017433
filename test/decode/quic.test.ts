import { describe, expect, it } from 'vitest';
import { Decoder } from '../../main/decode/decoder.js';
import { Proto } from '../../main/decode/protocols.js';
import { looksLikeQuicLong, parseQuicHeader, QuicHeader, QuicType, quicVersionName, readVarint } from '../../main/decode/quic.js';
import { openCapture } from '../../main/pcap/reader.js';
import { allCaptures, capture, tsharkFields } from '../helpers/captures.js';
import { rngUint32 } from '../helpers/rng.js';

/*
 * QUIC header framing on every packet of the quic-* captures against tshark: per packet the
 * header forms, versions, long packet types (v2 rotates the type bits) and connection ids of
 * each coalesced packet; short-header DCIDs with the length tshark found for the connection.
 * Then the decoder's dispatch on udp.port 443, truncated headers and random bytes.
 */
const V2 = 0x6b3343cf;
const hex = (b: Uint8Array, o: number, n: number) => Buffer.from(b.subarray(o, o + n)).toString('hex');

function tapscopeHeaders(path: string, shortDcidLen: Map<string, number>): string[] {
  const r = openCapture(path);
  const d = new Decoder();
  const h = new QuicHeader();
  const out: string[] = [];
  try {
    for (let p = r.next(); p; p = r.next()) {
      const f = d.decode(p);
      const parts: string[] = [];
      let o = f.payloadOff;
      const end = o + f.payloadCapLen;
      const key = `${f.srcPort}>${f.dstPort}`;
      while (f.l4 === 17 && o < end) {
        if (!parseQuicHeader(f.data, o, end, shortDcidLen.get(key) ?? 0, h)) break;
        const type = h.long ? (h.type === QuicType.VersionNegotiation ? 'vn' : String(h.type)) : 'short';
        parts.push(`${h.long ? 1 : 0}/${h.long ? h.version.toString(16) : ''}/${type}/${hex(f.data, h.dcidOff, h.dcidLen)}/${h.long ? hex(f.data, h.scidOff, h.scidLen) : ''}`);
        if (!h.long || h.end >= end) break;
        o = h.end;
      }
      out.push(parts.join(' '));
    }
  } finally {
    r.close();
  }
  return out;
}

/** tshark's types as Tapscope's QuicType numbers (v1: Initial 0, 0-RTT 1, Handshake 2, Retry 3). */
function tsharkHeaders(path: string): { rows: string[]; shortDcidLen: Map<string, number> } {
  const rows = tsharkFields(path, ['udp.srcport', 'udp.dstport', 'quic.header_form', 'quic.version', 'quic.long.packet_type', 'quic.long.packet_type_v2', 'quic.dcid', 'quic.scid']);
  const shortDcidLen = new Map<string, number>();
  const out = rows.map((r) => {
    const [sp, dp, forms, versions, types, typesV2, dcids, scids] = r.map((x) => (x === '' ? [] : x.split(',')));
    const parts: string[] = [];
    let li = 0;
    let vi = 0;
    let v2i = 0;
    for (let i = 0; i < forms.length; i++) {
      if (forms[i] === '1') {
        const v = parseInt(versions[vi++], 16);
        let type: string;
        if (v === 0) type = 'vn';
        else if (v === V2) type = String((Number(typesV2[v2i++]) + 3) & 3);
        else type = types[li++];
        parts.push(`1/${v.toString(16)}/${type}/${dcids[i] ?? ''}/${scids[parts.filter((x) => x.startsWith('1/')).length] ?? ''}`);
      } else {
        const d = dcids[i] ?? '';
        shortDcidLen.set(`${sp[0]}>${dp[0]}`, d.length / 2);
        parts.push(`0//short/${d}/`);
      }
    }
    return parts.join(' ');
  });
  return { rows: out, shortDcidLen };
}

describe('QUIC headers vs tshark', () => {
  for (const name of allCaptures().filter((n) => n.startsWith('quic-'))) {
    it(name, () => {
      const t = tsharkHeaders(capture(name));
      const ours = tapscopeHeaders(capture(name), t.shortDcidLen);
      expect(ours.length).toBe(t.rows.length);
      let compared = 0;
      for (let i = 0; i < ours.length; i++) {
        if (t.rows[i] === '') continue; // not QUIC to tshark
        compared++;
        expect(ours[i], `frame ${i + 1}`).toBe(t.rows[i]);
      }
      expect(compared).toBeGreaterThan(0);
    });
  }
});

describe('QUIC decoder', () => {
  it('marks QUIC on udp.port 443 (fixed bit) and leaves other UDP alone', () => {
    const d = new Decoder();
    const seen = { quic: 0, udp: 0 };
    for (const name of ['quic-v1-handshake-quic-go-interop-ppp.pcap', 'dns-servfail.pcapng']) {
      const r = openCapture(capture(name));
      for (let p = r.next(); p; p = r.next()) {
        const f = d.decode(p);
        if (f.top === Proto.Quic) seen.quic++;
        else if (f.top === Proto.Udp) seen.udp++;
        expect(f.malformed).toBeNull();
      }
      r.close();
    }
    expect(seen.quic).toBeGreaterThan(5);
    expect(seen.udp).toBeGreaterThan(0);
  });

  it('names versions as the JSON does', () => {
    expect([quicVersionName(1), quicVersionName(V2), quicVersionName(0xff00001d), quicVersionName(0x51303530)]).toEqual(['1', '2', 'draft-29', '0x51303530']);
  });

  it('varints of 1, 2, 4 and 8 bytes (RFC 9000 §16, A.1 examples)', () => {
    const b = (s: string) => Uint8Array.from(Buffer.from(s, 'hex'));
    expect(readVarint(b('c2197c5eff14e88c'), 0)).toBe(151288809941952652);
    expect(readVarint(b('9d7f3e7d'), 0)).toBe(494878333);
    expect(readVarint(b('7bbd'), 0)).toBe(15293);
    expect(readVarint(b('25'), 0)).toBe(37);
  });

  it('truncated long headers and random bytes are rejected, never read past the end', () => {
    // RFC 9001 A.2's header: Initial, DCID 8394c8f03e515708, token 0, length 0x049e.
    const head = Uint8Array.from(Buffer.from('c300000001088394c8f03e5157080000449e00000002', 'hex'));
    const h = new QuicHeader();
    for (let n = 0; n < head.length; n++) expect(parseQuicHeader(head, 0, n, -1, h), `cut at ${n}`).toBe(false);
    const next = rngUint32(12);
    const buf = new Uint8Array(64);
    for (let i = 0; i < 20000; i++) {
      const n = next() % buf.length;
      for (let k = 0; k < n; k++) buf[k] = next() & 0xff;
      if (i % 2) buf[0] |= 0xc0;
      if (parseQuicHeader(buf, 0, n, 8, h)) {
        expect(h.end).toBeLessThanOrEqual(n);
        expect(h.dcidOff + h.dcidLen).toBeLessThanOrEqual(n);
        expect(h.pnOff).toBeLessThanOrEqual(n);
      }
      looksLikeQuicLong(buf, 0, n);
    }
  });
});
