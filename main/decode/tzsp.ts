import type { Frame } from './frame.js';
import { Proto, UDP_PORT_TZSP } from './protocols.js';
import { registerDecoder, registerUdpPort } from './registry.js';

/*
 * TZSP (TaZmen Sniffer Protocol, MikroTik's sniffer stream):
 *   version(8)=1 | type(8) | encapsulation(16) | tagged fields ... END(1)
 * Tags: 0 padding (one byte), 1 end, others tag(8) len(8) value. Types 0 (received) and
 * 1 (to transmit) carry a packet; encapsulation 1 is Ethernet.
 */
const TAG_PADDING = 0;
const TAG_END = 1;
const ENCAP_ETHERNET = 1;

export function decodeTzsp(f: Frame): Proto {
  const o = f.off;
  if (f.end - o < 4) return f.truncate('tzsp');
  const b = f.data;
  if (b[o] !== 1) return f.truncate('tzsp', `unknown version ${b[o]}`);
  const type = b[o + 1];
  const encap = f.view.getUint16(o + 2);
  let p = o + 4;
  for (;;) {
    if (p >= f.end) return f.truncate('tzsp', 'tagged fields without END');
    const tag = b[p];
    if (tag === TAG_END) { p++; break; }
    if (tag === TAG_PADDING) { p++; continue; }
    if (p + 2 > f.end) return f.truncate('tzsp');
    p += 2 + b[p + 1];
  }
  if (type > 1 || encap !== ENCAP_ETHERNET) return Proto.None;
  f.pushTunnel('tzsp', null);
  f.clearInner();
  f.off = p;
  return Proto.Ethernet;
}

registerDecoder(Proto.Tzsp, decodeTzsp);
registerUdpPort(UDP_PORT_TZSP, Proto.Tzsp);
