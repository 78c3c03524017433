import { L4, type Frame } from './frame.js';
import { IPPROTO_TCP, Proto } from './protocols.js';
import { registerDecoder, registerIpProto } from './registry.js';

/*
 * TCP (RFC 9293 §3.1):
 *   src port(16) dst port(16) | seq(32) | ack(32)
 *   data offset(4) reserved(3) flags(9: NS CWR ECE URG ACK PSH RST SYN FIN) | window(16)
 *   checksum(16) urgent(16) | options
 * The payload length comes from the IP header, so header-only (snaplen) captures and
 * MTU-truncating mirrors keep correct sequence space.
 */
const OPT_EOL = 0;
const OPT_NOP = 1;
const OPT_MSS = 2;
const OPT_WSCALE = 3;
const OPT_SACK_PERM = 4;
const OPT_SACK = 5;
const OPT_TIMESTAMP = 8;

export function decodeTcp(f: Frame): Proto {
  const o = f.off;
  if (f.end - o < 20) return f.truncate('tcp');
  const v = f.view;
  const b = f.data;
  const hdrLen = (b[o + 12] >> 4) * 4;
  if (hdrLen < 20) return f.truncate('tcp', `header length ${hdrLen} < 20`);
  f.l4 = L4.Tcp;
  f.srcPort = v.getUint16(o);
  f.dstPort = v.getUint16(o + 2);
  f.tcpSeq = v.getUint32(o + 4);
  f.tcpAck = v.getUint32(o + 8);
  f.tcpFlags = ((b[o + 12] & 1) << 8) | b[o + 13];
  f.tcpWindow = v.getUint16(o + 14);
  f.tcpHdrLen = hdrLen;
  f.top = Proto.Tcp;
  const optEnd = Math.min(o + hdrLen, f.end);
  for (let p = o + 20; p < optEnd;) {
    const kind = b[p];
    if (kind === OPT_EOL) break;
    if (kind === OPT_NOP) { p++; continue; }
    if (p + 1 >= optEnd) break;
    const len = b[p + 1];
    if (len < 2 || p + len > optEnd) break; // malformed options: keep what was read
    if (kind === OPT_MSS && len === 4) f.tcpMss = v.getUint16(p + 2);
    else if (kind === OPT_WSCALE && len === 3) f.tcpWscale = b[p + 2];
    else if (kind === OPT_SACK_PERM) f.tcpSackPerm = true;
    else if (kind === OPT_TIMESTAMP && len === 10) {
      f.tcpHasTs = true;
      f.tcpTsVal = v.getUint32(p + 2);
      f.tcpTsEcr = v.getUint32(p + 6);
    } else if (kind === OPT_SACK) {
      let n = 0;
      for (let q = p + 2; q + 8 <= p + len && n < f.sackLeft.length; q += 8, n++) {
        f.sackLeft[n] = v.getUint32(q);
        f.sackRight[n] = v.getUint32(q + 4);
      }
      f.sackCount = n;
    }
    p += len;
  }
  const payloadLen = f.ipPayloadLen - hdrLen;
  f.payloadOff = o + hdrLen;
  f.payloadLen = payloadLen > 0 ? payloadLen : 0;
  f.payloadCapLen = Math.max(0, Math.min(f.end - f.payloadOff, f.payloadLen));
  if (f.end - o < hdrLen) f.malformed = 'tcp: options cut short';
  return Proto.None;
}

registerDecoder(Proto.Tcp, decodeTcp);
registerIpProto(IPPROTO_TCP, Proto.Tcp);
