import type { Frame } from '../decode/frame.js';

/**
 * The segment's data length from the IP header's length, or -1 when unknown (an IP
 * fragment, or a header longer than the segment). An IP length beyond the packet's wire
 * length is cut to it, as tshark does ("IPv4 total length exceeds packet length"), so
 * snaplen-truncated packets keep their real length and bogus lengths stay bounded.
 */
export function tcpSegmentLength(f: Frame): number {
  if (f.isFragment) return -1;
  const tcpOff = f.payloadOff - f.tcpHdrLen;
  const wire = f.origLen - (tcpOff - (f.end - f.caplen));
  const l4 = f.ipPayloadLen < wire ? f.ipPayloadLen : wire;
  return l4 >= f.tcpHdrLen ? l4 - f.tcpHdrLen : -1;
}
