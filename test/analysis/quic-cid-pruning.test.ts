import { createCipheriv } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { QuicConnections } from '../../main/analysis/quic-connections.js';
import { parseQuicHeader, QuicHeader, QuicType } from '../../main/decode/quic.js';
import { initialKeys, openPacket, type PacketKeys } from '../../main/decrypt/quic-initial.js';
import { AnalysisSession } from '../../main/engine/session.js';
import { openCapture } from '../../main/pcap/reader.js';
import type { PacketRecord } from '../../main/pcap/record.js';
import { capture } from '../helpers/captures.js';

/*
 * The connection ids kept for migration (byCid) are bounded by the connections still open:
 * a corpus capture replayed as many sequential QUIC connections (each copy on its own client
 * port, later in time) keeps only the ids of connections that are neither closed and drained
 * nor idle (docs/quic.md "Connections"), and every copy still gives the same quic[] entry.
 */

/** The capture's UDP packets, with the UDP header offset of each (IPv4 or IPv6 after a PPP, null, Ethernet or SLL header). */
function packets(name: string): { rec: PacketRecord; udp: number }[] {
  const out: { rec: PacketRecord; udp: number }[] = [];
  const r = openCapture(capture(name));
  for (let p = r.next(); p; p = r.next()) {
    const data = p.data.slice(p.offset, p.offset + p.caplen);
    let udp = -1;
    const v = new DataView(data.buffer);
    for (const o of [2, 4, 14, 16]) {
      // The IP header whose length field says it ends where the packet does.
      if ((data[o] & 0xf0) === 0x40 && data[o + 9] === 17 && v.getUint16(o + 2) === data.length - o) udp = o + (data[o] & 0x0f) * 4;
      else if ((data[o] & 0xf0) === 0x60 && data[o + 6] === 17 && v.getUint16(o + 4) === data.length - o - 40) udp = o + 40;
      if (udp >= 0) break;
    }
    if (udp >= 0) out.push({ rec: { ...p, data, view: new DataView(data.buffer), offset: 0 }, udp });
  }
  r.close();
  return out;
}

/** Seals an Initial again (RFC 9001 §5.3, §5.4.3): AEAD over the new header, then header protection. */
function seal(data: Uint8Array, start: number, pnOff: number, end: number, header: Uint8Array, payload: Uint8Array, pn: number, k: PacketKeys): void {
  const nonce = k.iv.slice();
  for (let i = 0, v = pn; i < 8 && v > 0; i++, v = Math.floor(v / 256)) nonce[nonce.length - 1 - i] ^= v % 256;
  const c = createCipheriv('aes-128-gcm', k.key, nonce);
  c.setAAD(header);
  const sealed = Buffer.concat([c.update(payload), c.final(), c.getAuthTag()]);
  const pnLen = header.length - (pnOff - start);
  expect(pnOff + pnLen + sealed.length).toBe(end);
  data.set(header, start);
  data.set(sealed, pnOff + pnLen);
  const hp = createCipheriv('aes-128-ecb', k.hp, null);
  const mask = hp.update(data.subarray(pnOff + 4, pnOff + 20));
  data[start] ^= mask[0] & 0x0f;
  for (let i = 0; i < pnLen; i++) data[pnOff + i] ^= mask[1 + i];
}

/**
 * Feeds `copies` copies of the capture: copy i on client port 20000+i, its times shifted by
 * i * spacing seconds, and its connection ids made its own (first two bytes XOR i+1), Initials
 * opened and sealed again with the keys of the new client DCID, so each copy decrypts as the
 * original. Returns the analyser and the most connection ids it held.
 */
function replay(name: string, copies: number, spacing: number): { quic: QuicConnections; maxCids: number } {
  const base = packets(name);
  const h = new QuicHeader();
  // The client: the sender of the first Initial; its first DCID gives the Initial keys.
  const first = base.find(({ rec, udp }) => parseQuicHeader(rec.data, udp + 8, rec.caplen, -1, h) && h.long && h.type === QuicType.Initial)!;
  const clientPort = first.rec.view.getUint16(first.udp);
  const odcid = first.rec.data.slice(h.dcidOff, h.dcidOff + h.dcidLen);
  const version = h.version;
  const keys = initialKeys(version, odcid)!;
  const quic = new QuicConnections();
  const session = new AnalysisSession({ analyzers: [quic] });
  let maxCids = 0;
  for (let i = 0; i < copies; i++) {
    const remap = (b: Uint8Array, off: number, len: number) => { if (len >= 2) { b[off] ^= (i + 1) >> 8; b[off + 1] ^= (i + 1) & 0xff; } };
    const id = odcid.slice();
    remap(id, 0, id.length);
    const newKeys = initialKeys(version, id)!;
    const largest = [-1, -1];
    for (const { rec, udp } of base) {
      const data = rec.data.slice();
      const v = new DataView(data.buffer);
      const fromClient = v.getUint16(udp) === clientPort;
      v.setUint16(fromClient ? udp : udp + 2, 20000 + i);
      v.setUint16(udp + 6, 0); // checksum not computed
      for (let o = udp + 8; o < rec.caplen && parseQuicHeader(data, o, rec.caplen, -1, h) && h.long; o = h.end) {
        if (h.type === QuicType.Initial) {
          const opened = openPacket(data, h.start, h.pnOff, h.end, fromClient ? keys.client : keys.server, largest[fromClient ? 0 : 1]);
          expect(opened).not.toBeNull();
          largest[fromClient ? 0 : 1] = Math.max(largest[fromClient ? 0 : 1], opened!.packetNumber);
          remap(opened!.header, h.dcidOff - h.start, h.dcidLen);
          remap(opened!.header, h.scidOff - h.start, h.scidLen);
          seal(data, h.start, h.pnOff, h.end, opened!.header, opened!.payload, opened!.packetNumber, fromClient ? newKeys.client : newKeys.server);
        } else {
          remap(data, h.dcidOff, h.dcidLen);
          remap(data, h.scidOff, h.scidLen);
        }
        if (h.type === QuicType.Retry || h.type === QuicType.VersionNegotiation) break;
      }
      session.feed({ ...rec, data, view: v, ts: rec.ts + i * spacing });
    }
    maxCids = Math.max(maxCids, quic.cidCount);
  }
  session.finish();
  return { quic, maxCids };
}

const strip = (q: Record<string, unknown>): Record<string, unknown> => ({ ...q, connectionId: 0, paths: [] });

describe('QUIC connection ids for migration are bounded by open connections', () => {
  it('idle connections: 1000 sequential quic-go handshakes, 700 s apart, keep the ids of about one', () => {
    const { quic, maxCids } = replay('quic-v1-handshake-quic-go-interop-ppp.pcap', 1000, 700);
    expect(quic.connections).toHaveLength(1000);
    const first = strip(quic.jsonAt(0));
    expect(first).toMatchObject({ version: '1', sni: 'server4:443', alpn: ['hq-interop'], state: 'established', closeError: null });
    for (let i = 1; i < 1000; i++) expect(strip(quic.jsonAt(i))).toEqual(first);
    // The server's SCID of the current connection and of the previous one (forgotten at the next sweep).
    expect(maxCids).toBeGreaterThan(0);
    expect(maxCids).toBeLessThanOrEqual(2);
  });

  it('the same handshakes 1 s apart are all still open (idle < 600 s): each keeps its id', () => {
    const { quic, maxCids } = replay('quic-v1-handshake-quic-go-interop-ppp.pcap', 300, 1);
    expect(quic.json().filter((q) => q.sni === 'server4:443')).toHaveLength(300);
    expect(maxCids).toBe(300); // the server's SCID (quic-go's client uses an empty one)
  });

  it('closed connections: 1000 client-closed attempts 40 s apart (closed + drained) keep the ids of about one', () => {
    const { quic, maxCids } = replay('quic-v1-clienthello-split-over-multiple-initials-client-close.pcap', 1000, 40);
    expect(quic.connections).toHaveLength(1000);
    const first = strip(quic.jsonAt(0));
    expect(first).toMatchObject({ sni: 'googleads.g.doubleclick.net', state: 'handshake-failed', closedBy: 'client' });
    expect(first.closeError).toMatch(/^NO_ERROR: .*No recent network activity/);
    for (let i = 1; i < 1000; i++) expect(strip(quic.jsonAt(i))).toEqual(first);
    // The server's SCID (the client's is empty) of the current attempt and the previous one.
    expect(maxCids).toBeGreaterThan(0);
    expect(maxCids).toBeLessThanOrEqual(2);
  });
});
