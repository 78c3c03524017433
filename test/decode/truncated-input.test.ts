import { describe, expect, it } from 'vitest';
import { Decoder } from '../../main/decode/decoder.js';
import { newRecord } from '../../main/pcap/record.js';
import { corpusPacket, eth, ipv4, ipv6, udp, geneve, gre, erspan3, icmpError, icmpv6Error, cat, ext8, frag6 } from './craft.js';

/*
 * Every decoder on every prefix of real packets: 0..len captured bytes, each prefix in a
 * buffer of exactly that size so any read past the captured end throws (DataView) instead
 * of silently reading neighbours. Nothing may throw; a cut packet decodes what it can.
 */
const SAMPLES: [string, number, Uint8Array][] = [
  ['vxlan-http.pcap #4', 1, corpusPacket('vxlan-http.pcap', 4)],
  ['geneve-http-many-options.pcap #4', 1, corpusPacket('geneve-http-many-options.pcap', 4)],
  ['gre-teb-http-dns.pcap #5', 1, corpusPacket('gre-teb-http-dns.pcap', 5)],
  ['erspan2-http-retx.pcap #1', 1, corpusPacket('erspan2-http-retx.pcap', 1)],
  ['erspan3-dot1q-icmp.pcap #1', 1, corpusPacket('erspan3-dot1q-icmp.pcap', 1)],
  ['tzsp-http-udp31337.pcapng #1', 1, corpusPacket('tzsp-http-udp31337.pcapng', 1)],
  ['vlan-qinq-http.pcap #4', 1, corpusPacket('vlan-qinq-http.pcap', 4)],
  ['http-dns-ipv6-wikipedia.pcap #1', 1, corpusPacket('http-dns-ipv6-wikipedia.pcap', 1)],
  ['http-ipv4-and-ipv6.pcapng #14 (IPv6)', 1, corpusPacket('http-ipv4-and-ipv6.pcapng', 14)],
  ['tcp-syn-retransmit-http.pcap #1 (TCP options)', 1, corpusPacket('tcp-syn-retransmit-http.pcap', 1)],
  ['sll-http-retx-rst.pcap #1', 113, corpusPacket('sll-http-retx-rst.pcap', 1)],
  ['sll2-http.pcap #1', 276, corpusPacket('sll2-http.pcap', 1)],
  ['null-loopback-ipv6-http.pcap #1', 0, corpusPacket('null-loopback-ipv6-http.pcap', 1)],
  ['gre-teb-http-dns.pcap ARP', 1, corpusPacket('gre-teb-http-dns.pcap', 1)],
  ['quic-v1-handshake-quic-go-interop-ppp.pcap #10 (PPP, QUIC)', 9, corpusPacket('quic-v1-handshake-quic-go-interop-ppp.pcap', 10)],
];
const inner4 = corpusPacket('http-get-basic.pcap', 4).slice(14);
const inner6 = corpusPacket('http-ipv4-and-ipv6.pcapng', 14).slice(14);
SAMPLES.push(
  ['crafted GENEVE bare IPv4', 1, eth(0x0800, ipv4('10.0.0.1', '10.0.0.2', 17, udp(1, 6081, geneve(5, 0x0800, inner4))))],
  ['crafted ERSPAN III + platform', 1, eth(0x0800, ipv4('10.0.0.1', '10.0.0.2', 47, gre(0x22eb, erspan3(3, corpusPacket('http-get-basic.pcap', 4), true), { seq: 1 })))],
  ['crafted ICMP quoting TCP', 1, eth(0x0800, ipv4('10.0.0.1', '10.0.0.2', 1, icmpError(3, 1, inner4)))],
  ['crafted ICMPv6 quoting TCP', 1, eth(0x86dd, ipv6('2001:db8::1', '2001:db8::2', 58, icmpv6Error(1, 0, inner6)))],
  ['crafted IPv6 ext headers + fragment', 1, eth(0x86dd, ipv6('2001:db8::1', '2001:db8::2', 0, cat(ext8(60), ext8(44), frag6(6, 0, true, 1), inner6.slice(40))))],
  ['crafted raw IPv4 (LINKTYPE_RAW)', 101, inner4],
);

describe('decoders on truncated input', () => {
  for (const [label, linkType, bytes] of SAMPLES) {
    it(`${label}: every prefix 0..${bytes.length} decodes without throwing`, () => {
      const dec = new Decoder();
      const rec = newRecord();
      rec.linkType = linkType;
      const full = (() => {
        rec.data = bytes; rec.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length); rec.offset = 0;
        rec.caplen = bytes.length; rec.origLen = bytes.length;
        const f = dec.decode(rec);
        return { tunnels: f.tunnelCount, src: f.src, malformed: f.malformed };
      })();
      expect(full.malformed, label).toBeNull();
      for (let n = 0; n <= bytes.length; n++) {
        const cut = bytes.slice(0, n); // its own ArrayBuffer of exactly n bytes
        rec.data = cut;
        rec.view = new DataView(cut.buffer);
        rec.caplen = n;
        rec.origLen = bytes.length;
        const f = dec.decode(rec);
        // Never more layers than the whole packet has.
        expect(f.tunnelCount, `${label} at ${n}`).toBeLessThanOrEqual(full.tunnels);
        if (n < 14 && linkType === 1) expect(f.malformed, `${label} at ${n}`).not.toBeNull();
      }
    });
  }
});
