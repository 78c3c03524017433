/*
 * A synthetic capture of many short HTTP/1.1 connections, for profiling the engine's
 * per-connection cost (node --cpu-prof, peak RSS). Each connection: SYN, SYN-ACK, ACK,
 * GET, ACK, 200 response, FIN/ACK both ways, final ACK (9 packets), client ports cycling
 * over 10.1.x.y clients so 5-tuples repeat only after 65,536 connections per client.
 *   npx tsx bench/conn-state-synth.ts OUT.pcap [connections=200000]
 * The official benchmark captures are built by scripts/bench.mjs; this one is for quick
 * engine measurements.
 */
import { openCaptureWriter } from '../main/pcap/writer.js';

const [out, nArg] = process.argv.slice(2);
if (!out) {
  process.stderr.write('usage: conn-state-synth OUT.pcap [connections]\n');
  process.exit(1);
}
const conns = Number(nArg ?? 200000);
const w = openCaptureWriter(out, { format: 'pcap', interfaces: [{ id: 0, linkType: 1, snaplen: 65535, name: null, description: null, tsUnitsPerSec: 1e6 }] });

const buf = new Uint8Array(2048);
const v = new DataView(buf.buffer);
const REQ = new TextEncoder().encode('GET /x HTTP/1.1\r\nHost: synth.example\r\n\r\n');
const RESP = new TextEncoder().encode('HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Type: text/plain\r\n\r\nhello');
let tUs = 1_700_000_000 * 1e6;

function packet(src: number, dst: number, sport: number, dport: number, seq: number, ack: number, flags: number, payload: Uint8Array | null): void {
  const plen = payload ? payload.length : 0;
  buf.fill(0, 0, 54);
  buf[5] = 1; buf[11] = 2; // MACs
  v.setUint16(12, 0x0800);
  buf[14] = 0x45;
  v.setUint16(16, 20 + 20 + plen);
  buf[22] = 64;
  buf[23] = 6;
  v.setUint32(26, src);
  v.setUint32(30, dst);
  v.setUint16(34, sport);
  v.setUint16(36, dport);
  v.setUint32(38, seq >>> 0);
  v.setUint32(42, ack >>> 0);
  buf[46] = 5 << 4;
  buf[47] = flags;
  v.setUint16(48, 65535);
  if (payload) buf.set(payload, 54);
  const len = 54 + plen;
  tUs += 37;
  w.write({ tsSec: Math.floor(tUs / 1e6), tsNsec: (tUs % 1e6) * 1000, caplen: len, origLen: len, data: buf, offset: 0, interfaceId: 0 });
}

const SYN = 2, ACK = 16, PSH = 8, FIN = 1;
const server = (10 << 24) | (2 << 16) | 1;
for (let i = 0; i < conns; i++) {
  const client = ((10 << 24) | (1 << 16) | Math.floor(i / 64000)) >>> 0;
  const sport = 1024 + (i % 64000);
  const c = (i * 2654435761) >>> 0;
  const s = (i * 40503 + 12345) >>> 0;
  packet(client, server, sport, 80, c, 0, SYN, null);
  packet(server, client, 80, sport, s, c + 1, SYN | ACK, null);
  packet(client, server, sport, 80, c + 1, s + 1, ACK, null);
  packet(client, server, sport, 80, c + 1, s + 1, ACK | PSH, REQ);
  packet(server, client, 80, sport, s + 1, c + 1 + REQ.length, ACK, null);
  packet(server, client, 80, sport, s + 1, c + 1 + REQ.length, ACK | PSH, RESP);
  packet(client, server, sport, 80, c + 1 + REQ.length, s + 1 + RESP.length, ACK | FIN, null);
  packet(server, client, 80, sport, s + 1 + RESP.length, c + 2 + REQ.length, ACK | FIN, null);
  packet(client, server, sport, 80, c + 2 + REQ.length, s + 2 + RESP.length, ACK, null);
}
w.close();
process.stderr.write(`${out}: ${conns} connections, ${conns * 9} packets\n`);
