import { openCaptureWriter } from '../../main/pcap/writer';

/*
 * A tiny raw-bytes packet builder for crafted captures: Ethernet + IPv4 + TCP/UDP with
 * correct IPv4 header checksums (TCP/UDP checksums are left zero; tshark and Tapscope
 * do not validate them).
 */

function ip4(a: string): number[] {
  return a.split('.').map(Number);
}

function ipv4(src: string, dst: string, proto: number, payload: number[]): number[] {
  const len = 20 + payload.length;
  const h = [0x45, 0, len >> 8, len & 255, 0, 1, 0x40, 0, 64, proto, 0, 0, ...ip4(src), ...ip4(dst)];
  let sum = 0;
  for (let i = 0; i < 20; i += 2) sum += (h[i] << 8) | h[i + 1];
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >> 16);
  const ck = ~sum & 0xffff;
  h[10] = ck >> 8;
  h[11] = ck & 255;
  return [...h, ...payload];
}

function ether(payload: number[]): number[] {
  return [2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00, ...payload];
}

const u32 = (n: number): number[] => [(n >>> 24) & 255, (n >>> 16) & 255, (n >>> 8) & 255, n & 255];
const u16 = (n: number): number[] => [(n >> 8) & 255, n & 255];

export const SYN = 0x02, ACK = 0x10, PSH = 0x08, FIN = 0x01;

export function tcp(src: string, sport: number, dst: string, dport: number, seq: number, ack: number, flags: number, data = ''): Uint8Array {
  const body = [...new TextEncoder().encode(data)];
  const seg = [...u16(sport), ...u16(dport), ...u32(seq), ...u32(ack), 0x50, flags, ...u16(65535), 0, 0, 0, 0, ...body];
  return Uint8Array.from(ether(ipv4(src, dst, 6, seg)));
}

export function udp(src: string, sport: number, dst: string, dport: number, payload: number[]): Uint8Array {
  const seg = [...u16(sport), ...u16(dport), ...u16(8 + payload.length), 0, 0, ...payload];
  return Uint8Array.from(ether(ipv4(src, dst, 17, seg)));
}

/** A DNS message with one question (and no answers); labels are raw text. */
export function dns(id: number, response: boolean, rcode: number, labels: string[], qtype = 1): number[] {
  const q: number[] = [];
  for (const l of labels) {
    const b = [...new TextEncoder().encode(l)];
    q.push(b.length, ...b);
  }
  q.push(0, ...u16(qtype), 0, 1);
  const flags = response ? 0x8180 | rcode : 0x0100;
  return [...u16(id), ...u16(flags), 0, 1, 0, 0, 0, 0, 0, 0, ...q];
}

export interface CraftPacket {
  bytes: Uint8Array;
  comment?: string;
}

export function writeCapture(path: string, packets: CraftPacket[], t0 = 1700000000): void {
  const w = openCaptureWriter(path, { format: 'pcapng', interfaces: [{ id: 0, linkType: 1, snaplen: 65535, name: 'craft0', description: null, tsUnitsPerSec: 1e6 }] });
  packets.forEach((p, i) => {
    w.write({ tsSec: t0, tsNsec: i * 10_000_000, caplen: p.bytes.length, origLen: p.bytes.length, data: p.bytes, offset: 0, interfaceId: 0, comment: p.comment ?? null });
  });
  w.close();
}

/** A capture of n one-datagram UDP flows from distinct client endpoints to 192.0.2.7:7. */
export function writeUdpFlows(path: string, n: number): void {
  const packets: CraftPacket[] = [];
  for (let i = 0; i < n; i++) {
    const ip = `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${(i & 255) || 1}`;
    packets.push({ bytes: udp(ip, 1024 + (i % 60000), '192.0.2.7', 7, [0, 1, 2, 3]) });
  }
  writeCapture(path, packets);
}
