/*
 * Synthetic sensor feed: many short TCP flows, each SYN then RST (2 packets: one per
 * direction), as Ethernet/IPv4/TCP frames, optionally inside VXLAN (UDP 4789) as a cloud
 * TAP sends them. Flow i is 10.(i>>16).(i>>8).(i) :(1024 + i % 50000) -> 192.0.2.(i % 200 + 1):80,
 * so a million flows are a million distinct 5-tuples. Ground truth for each packet is
 * returned with it: its IP total length is 40 (no options, no payload).
 */
import { LINKTYPE_ETHERNET } from '../../main/pcap/link-types.js';
import type { PacketRecord } from '../../main/pcap/record.js';

export const SYN = 0x02, RST = 0x04, ACK = 0x10;
export const FEED_IP_LEN = 40;
const ETH = 14;
const VX = ETH + 20 + 8 + 8; // outer Ethernet + IPv4 + UDP + VXLAN header

export function flowEndpoints(i: number): { client: string; cport: number; server: string; sport: number } {
  return { client: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, cport: 1024 + (i % 50000), server: `192.0.2.${(i % 200) + 1}`, sport: 80 };
}

/** Writes one frame (optionally VXLAN-wrapped, VNI `vni`) into `buf`; returns its length. */
export function writeFrame(buf: Uint8Array, i: number, toServer: boolean, flags: number, vni: number | null): number {
  const v = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let o = 0;
  if (vni !== null) {
    buf.fill(0, 0, VX);
    v.setUint16(12, 0x0800);
    buf[14] = 0x45;
    v.setUint16(16, 20 + 8 + 8 + ETH + FEED_IP_LEN);
    buf[22] = 64;
    buf[23] = 17;
    v.setUint32(26, 0xc6336401); // 198.51.100.1, the TAP source
    v.setUint32(30, 0xc6336402);
    v.setUint16(34, 50000 + (i % 1000));
    v.setUint16(36, 4789);
    v.setUint16(38, 8 + 8 + ETH + FEED_IP_LEN);
    buf[42] = 0x08;
    v.setUint32(46, vni << 8);
    o = VX;
  }
  buf.fill(0, o, o + ETH + FEED_IP_LEN);
  buf[o + 5] = 1;
  buf[o + 11] = 2;
  v.setUint16(o + 12, 0x0800);
  const ip = o + ETH;
  buf[ip] = 0x45;
  v.setUint16(ip + 2, FEED_IP_LEN);
  buf[ip + 8] = 64;
  buf[ip + 9] = 6;
  const c = (10 << 24) | (((i >> 16) & 255) << 16) | (((i >> 8) & 255) << 8) | (i & 255);
  const s = ((192 << 24) | (0 << 16) | (2 << 8) | ((i % 200) + 1)) >>> 0;
  const cport = 1024 + (i % 50000);
  v.setUint32(ip + 12, toServer ? c >>> 0 : s);
  v.setUint32(ip + 16, toServer ? s : c >>> 0);
  const t = ip + 20;
  v.setUint16(t, toServer ? cport : 80);
  v.setUint16(t + 2, toServer ? 80 : cport);
  v.setUint32(t + 4, toServer ? 1000 + i : 0);
  v.setUint32(t + 8, toServer ? 0 : 1001 + i);
  buf[t + 12] = 5 << 4;
  buf[t + 13] = flags;
  v.setUint16(t + 14, 65535);
  return ip + FEED_IP_LEN;
}

/** A reusable PacketRecord over `buf` at time `ms` (epoch milliseconds). */
export function feedRecord(buf: Uint8Array, len: number, ms: number, index: number): PacketRecord {
  const tsSec = Math.floor(ms / 1000);
  const tsNsec = (ms - tsSec * 1000) * 1e6;
  return {
    index, fileOffset: 0, data: buf, view: new DataView(buf.buffer, buf.byteOffset, buf.byteLength), offset: 0,
    caplen: len, origLen: len, tsSec, tsNsec, ts: tsSec + tsNsec / 1e9, linkType: LINKTYPE_ETHERNET, interfaceId: 0, comment: null,
  };
}
