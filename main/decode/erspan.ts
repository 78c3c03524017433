import type { Frame } from './frame.js';
import { Proto } from './protocols.js';
import { registerDecoder } from './registry.js';

/*
 * ERSPAN (draft-foschiano-erspan), after GRE:
 * Type II (8 bytes):  ver(4) VLAN(12) | COS(3) En(2) T(1) session id(10) | reserved(12) index(20)
 * Type III (12 bytes): ver(4) VLAN(12) | COS(3) BSO(2) T(1) session id(10) | timestamp(32)
 *                      SGT(16) | P(1) FT(5) HW id(6) D(1) Gra(2) O(1)
 *                      [platform-specific sub-header (8) when O is set]
 * Type III frame type (FT) 0 is Ethernet; 2 is bare IP.
 */
export function decodeErspan2(f: Frame): Proto {
  if (f.end - f.off < 8) return f.truncate('erspan');
  const session = f.view.getUint16(f.off + 2) & 0x03ff;
  f.pushTunnel('erspan2', session);
  f.clearInner();
  f.off += 8;
  return Proto.Ethernet;
}

export function decodeErspan3(f: Frame): Proto {
  const o = f.off;
  if (f.end - o < 12) return f.truncate('erspan');
  const v = f.view;
  const session = v.getUint16(o + 2) & 0x03ff;
  const last = v.getUint16(o + 10);
  const frameType = (last >> 10) & 0x1f;
  const hasPlatform = (last & 1) !== 0;
  let p = o + 12;
  if (hasPlatform) p += 8;
  if (p > f.end) return f.truncate('erspan', 'platform sub-header cut short');
  f.pushTunnel('erspan3', session);
  f.clearInner();
  f.off = p;
  if (frameType === 0) return Proto.Ethernet;
  if (frameType === 2) return Proto.RawIp;
  return Proto.None;
}

registerDecoder(Proto.Erspan2, decodeErspan2);
registerDecoder(Proto.Erspan3, decodeErspan3);
