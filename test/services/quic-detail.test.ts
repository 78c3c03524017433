import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { analyzeFile } from '../../main/engine/analyze-file.js';
import { capture, tsharkFields } from '../helpers/captures';
import { inProcess, openAndWait, type Transport } from './harness';

/*
 * QUIC through the API (what the Connections, TLS and connection-detail views show), on
 * corpus captures: QUIC conversations are transport "quic" with the SNI as site; quic() lists
 * the JSON's quic[]; the detail's packets have tshark's types (quic.header_form,
 * quic.long.packet_type) frame by frame, and are decrypted where tshark decrypts them
 * (a packet number read and no "Decryption failed": keys from the capture's DSBs); the
 * timeline's handshake completes at the JSON's handshakeTime; the HTTP/3 exchanges are listed.
 */

const V1_TYPES = ['Initial', '0-RTT', 'Handshake', 'Retry'];
/** RFC 9369 §3.2: v2's long-header type bits (tshark's quic.long.packet_type_v2). */
const V2_TYPES = ['Retry', 'Initial', '0-RTT', 'Handshake'];

/** tshark's QUIC packets per frame: types in order, and how many it decrypted. */
function tsharkPackets(file: string, port: number): Map<number, { types: string[]; decrypted: number; dir: string }> {
  const out = new Map<number, { types: string[]; decrypted: number; dir: string }>();
  for (const [n, src, forms, types, typesV2, pns, expert] of tsharkFields(file, ['frame.number', 'udp.srcport', 'quic.header_form', 'quic.long.packet_type', 'quic.long.packet_type_v2', 'quic.packet_number', '_ws.expert.message'], ['-Y', 'quic'])) {
    const lt = types ? types.split(',').map((x) => V1_TYPES[Number(x)]) : typesV2 ? typesV2.split(',').map((x) => V2_TYPES[Number(x)]) : [];
    let k = 0;
    const list = forms.split(',').map((f) => (f === '1' ? lt[k++] : '1-RTT'));
    // A packet whose keys tshark has not gets no packet number; one they do not open gets a wrong one and "Decryption failed".
    const failed = (expert.match(/Decryption failed/g) ?? []).length;
    out.set(Number(n), { types: list, decrypted: (pns ? pns.split(',').length : 0) - failed, dir: Number(src) === port ? 's2c' : 'c2s' });
  }
  return out;
}

describe('QUIC in the API (corpus captures vs tshark)', () => {
  let t: Transport;
  beforeAll(async () => {
    t = await inProcess();
  });
  afterAll(async () => t.close());

  // (The quic-go interop client sends "server4:443" as its SNI.)
  for (const [name, sni, port] of [['quic-v1-chrome-cloudflare-keys-in-pcapng-dsb.pcapng', 'cloudflare-quic.com', 443], ['quic-v1-handshake-quic-go-interop-ppp.pcap', 'server4:443', 443], ['quic-v2-http3-keys-in-pcapng-dsb.pcapng', 'test', 4443]] as const) {
    it(`${name}: Connections, the QUIC list and the detail`, async () => {
      const file = capture(name);
      const report = analyzeFile(file).report as unknown as { quic: { connectionId: number; sni: string; handshakeTime: number | null; state: string; version: string }[]; http: { connectionId: number; protocol: string; uri: string }[] };
      expect(report.quic.length).toBeGreaterThan(0);
      const { info } = await openAndWait(t.api, file);
      const sid = info.sessionId;
      const conns = (await t.api.connections({ sessionId: sid, offset: 0, limit: 1000 })).rows;
      const quicIds = new Set(report.quic.map((q) => q.connectionId));
      for (const c of conns) expect(c.transport === 'quic', `connection ${c.id}`).toBe(quicIds.has(c.id));
      // The transport filter: "quic" keeps only them, "udp" keeps them with the other UDP conversations.
      const only = (await t.api.connections({ sessionId: sid, offset: 0, limit: 1000, transport: 'quic' })).rows;
      expect(only.map((c) => c.id).sort()).toEqual([...quicIds].sort());
      const udp = (await t.api.connections({ sessionId: sid, offset: 0, limit: 1000, transport: 'udp' })).rows.map((c) => c.id);
      for (const id of quicIds) expect(udp).toContain(id);
      const q0 = conns.find((c) => c.id === report.quic[0].connectionId)!;
      expect(q0.site).toBe(sni);
      const listed = (await t.api.quic({ sessionId: sid, offset: 0, limit: 100 })).rows;
      expect(listed.map((q) => [q.connectionId, q.sni, q.version, q.state, q.handshakeTime])).toEqual(report.quic.map((q) => [q.connectionId, q.sni, q.version, q.state, q.handshakeTime]));

      const d = await t.api.connectionDetail(sid, q0.id);
      expect(d.quic).not.toBeNull();
      const quic = d.quic!;
      expect(quic.connections.map((q) => [q.sni, q.state, q.handshakeTime])).toEqual(report.quic.filter((q) => q.connectionId === q0.id).map((q) => [q.sni, q.state, q.handshakeTime]));
      // Packet types and decryption per frame, as tshark reads them.
      const theirs = tsharkPackets(file, port);
      const ours = new Map<number, { types: string[]; decrypted: number; dir: string }>();
      for (const p of quic.packets) {
        const e = ours.get(p.number) ?? { types: [], decrypted: 0, dir: p.dir };
        e.types.push(p.type);
        if (p.decryption === 'decrypted') e.decrypted++;
        ours.set(p.number, e);
      }
      expect(quic.truncated).toBe(false);
      expect(Object.fromEntries(ours)).toEqual(Object.fromEntries(theirs));
      // The timeline: the handshake completes handshakeTime after the client's first Initial.
      const start = quic.timeline.find((e) => e.label === 'client Initial')!;
      const done = quic.timeline.find((e) => e.label.startsWith('client Handshake'));
      if (quic.connections[0].handshakeTime !== null) expect(done!.ts - start.ts).toBeCloseTo(quic.connections[0].handshakeTime, 6);
      expect(quic.timeline.map((e) => e.ts)).toEqual([...quic.timeline.map((e) => e.ts)].sort((a, b) => a - b));
      // The HTTP/3 exchanges of the connection are in the detail.
      expect(d.http.filter((h) => h.protocol === 'h3').map((h) => h.uri)).toEqual(report.http.filter((h) => h.connectionId === q0.id && h.protocol === 'h3').map((h) => h.uri));
      await t.api.closeSession(sid);
    });
  }
});
