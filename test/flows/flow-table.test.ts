/*
 * The flow table and the TCP state columns at a scale the corpus does not reach: 4,000
 * short connections written here (so the hash table rehashes, every column doubles, and
 * TCP heavy state is taken from and given back to its pool thousands of times), with
 * port reuse (the same 5-tuple again with a new initial sequence number every 1,500
 * connections), resets, a FIN retransmitted after the close (heavy state taken again
 * after its release) and DNS over UDP. tshark is the oracle for every packet's marks and
 * every stream's packets, bytes, state, handshake and ACK RTTs.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openCaptureWriter } from '../../main/pcap/writer.js';
import { oracleDifferences, oraclePackets, tapscopeSession } from '../analysis/tcp-oracle.js';

const tmp = mkdtempSync(join(tmpdir(), 'tapscope-flows-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const SYN = 2, RST = 4, PSH = 8, ACK = 16, FIN = 1;
const CONNECTIONS = 4000;
const PORTS = 1500;

/** Writes the capture; returns its path. */
function writeCapture(): string {
  const path = join(tmp, 'many-short.pcap');
  const w = openCaptureWriter(path, { format: 'pcap', interfaces: [{ id: 0, linkType: 1, snaplen: 65535, name: null, description: null, tsUnitsPerSec: 1e6 }] });
  const buf = new Uint8Array(1024);
  const v = new DataView(buf.buffer);
  let us = 1_700_000_000 * 1e6;
  const ip = (a: number, b: number, c: number, d: number): number => ((a << 24) | (b << 16) | (c << 8) | d) >>> 0;
  const packet = (udp: boolean, src: number, dst: number, sport: number, dport: number, seq: number, ack: number, flags: number, payload: number, gapUs = 40): void => {
    const l4 = udp ? 8 : 20;
    buf.fill(0);
    buf[5] = 1;
    buf[11] = 2;
    v.setUint16(12, 0x0800);
    buf[14] = 0x45;
    v.setUint16(16, 20 + l4 + payload);
    buf[22] = 64;
    buf[23] = udp ? 17 : 6;
    v.setUint32(26, src);
    v.setUint32(30, dst);
    v.setUint16(34, sport);
    v.setUint16(36, dport);
    if (udp) v.setUint16(38, 8 + payload);
    else {
      v.setUint32(38, seq >>> 0);
      v.setUint32(42, ack >>> 0);
      buf[46] = 5 << 4;
      buf[47] = flags;
      v.setUint16(48, 65535);
    }
    for (let i = 0; i < payload; i++) buf[34 + l4 + i] = 0x41 + (i % 26);
    const len = 34 + l4 + payload;
    us += gapUs;
    w.write({ tsSec: Math.floor(us / 1e6), tsNsec: (us % 1e6) * 1000, caplen: len, origLen: len, data: buf, offset: 0, interfaceId: 0 });
  };
  const server = ip(10, 9, 0, 1);
  for (let i = 0; i < CONNECTIONS; i++) {
    const client = ip(10, 8, 0, 1 + (i % 3));
    const sport = 20000 + (i % PORTS);
    const c = (i * 2654435761 + 7) >>> 0;
    const s = (i * 40503 + 99991) >>> 0;
    const q = 30 + (i % 50);
    const r = 100 + (i % 300);
    const tcp = (src: number, dst: number, sp: number, dp: number, seq: number, ack: number, fl: number, n = 0, gap = 40): void => packet(false, src, dst, sp, dp, seq, ack, fl, n, gap);
    tcp(client, server, sport, 80, c, 0, SYN);
    tcp(server, client, 80, sport, s, c + 1, SYN | ACK, 0, 150 + (i % 7) * 10);
    tcp(client, server, sport, 80, c + 1, s + 1, ACK);
    tcp(client, server, sport, 80, c + 1, s + 1, ACK | PSH, q);
    tcp(server, client, 80, sport, s + 1, c + 1 + q, ACK, 0, 120);
    if (i % 7 === 3) {
      // The client gives up: a reset with the response still unsent.
      tcp(client, server, sport, 80, c + 1 + q, s + 1, RST | ACK);
      continue;
    }
    tcp(server, client, 80, sport, s + 1, c + 1 + q, ACK | PSH, r);
    tcp(client, server, sport, 80, c + 1 + q, s + 1 + r, ACK | FIN);
    tcp(server, client, 80, sport, s + 1 + r, c + 2 + q, ACK | FIN);
    tcp(client, server, sport, 80, c + 2 + q, s + 2 + r, ACK);
    if (i % 11 === 5) {
      // The server's FIN again after the close (its last ACK "lost"), ACKed again.
      tcp(server, client, 80, sport, s + 1 + r, c + 2 + q, ACK | FIN, 0, 200_000);
      tcp(client, server, sport, 80, c + 2 + q, s + 2 + r, ACK, 0, 90);
    }
    if (i % 13 === 0) {
      packet(true, client, ip(10, 9, 0, 53), 40000 + (i % 2000), 53, 0, 0, 0, 30);
      packet(true, ip(10, 9, 0, 53), client, 53, 40000 + (i % 2000), 0, 0, 0, 46, 300);
    }
  }
  w.close();
  return path;
}

describe('flow table and TCP columns at scale (vs tshark)', () => {
  const path = writeCapture();

  it('4,000 short connections with port reuse, resets and late FINs: every mark and stream as tshark', () => {
    const pk = oraclePackets(path);
    const streams = new Set(pk.map((p) => p.stream));
    expect(streams.size).toBe(CONNECTIONS); // port reuse started new streams
    const s = tapscopeSession(path);
    expect(oracleDifferences('many-short.pcap', pk, s).slice(0, 20)).toEqual([]);
    const tcpConns = s.connections.all.filter((c) => c.transport === 'tcp');
    expect(tcpConns.length).toBe(CONNECTIONS);
    // Every connection's packets land on the row tshark's stream has (one row per stream).
    const byStream = new Map<number, number>();
    for (const p of pk) {
      const id = s.index!.connId[p.frame - 1];
      const seen = byStream.get(p.stream);
      if (seen === undefined) byStream.set(p.stream, id);
      else expect(id, `frame ${p.frame}`).toBe(seen);
    }
    expect(new Set(byStream.values()).size).toBe(CONNECTIONS);
  });

  it('heavy TCP state is pooled: as many heavies as connections open at once, not one per connection', () => {
    const s = tapscopeSession(path);
    const t = s.connections.tcp!.table;
    expect(t.pooledHeavies).toBeLessThanOrEqual(4);
    // Resets with data in flight keep theirs to the end; every other connection gave it back.
    expect(t.heavyInUse).toBeLessThanOrEqual(Math.ceil(CONNECTIONS / 7));
    // A detail session keeps every connection's heavy state (its charts).
    const d = tapscopeSession(path, [], true);
    expect(d.connections.tcp!.table.pooledHeavies).toBe(CONNECTIONS);
  });
});
