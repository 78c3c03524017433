import type { Frame } from './frame.js';
import { Proto, UDP_PORT_VXLAN, UDP_PORT_VXLAN_LINUX } from './protocols.js';
import { registerDecoder, registerUdpPort } from './registry.js';

/*
 * VXLAN (RFC 7348 §5): flags(8, I bit 0x08) reserved(24) | VNI(24) reserved(8), then an
 * Ethernet frame without FCS. Azure virtual network TAP and Linux vxlan devices send it;
 * Linux's historical default port is 8472.
 */
export function decodeVxlan(f: Frame): Proto {
  if (f.end - f.off < 8) return f.truncate('vxlan');
  const vni = f.view.getUint32(f.off + 4) >>> 8;
  f.pushTunnel('vxlan', vni);
  f.clearInner();
  f.off += 8;
  return Proto.Ethernet;
}

registerDecoder(Proto.Vxlan, decodeVxlan);
registerUdpPort(UDP_PORT_VXLAN, Proto.Vxlan);
registerUdpPort(UDP_PORT_VXLAN_LINUX, Proto.Vxlan);
