import { TCP_ACK, TCP_FIN, TCP_SYN, type Frame } from '../decode/frame.js';

/*
 * Window size and bytes in flight per packet of one TCP connection, as tshark computes
 * tcp.window_size and tcp.analysis.bytes_in_flight (packet-tcp.c, default preferences).
 * Fed the connection's packets in capture order (the connection detail re-reads them).
 *
 * WINDOW: the header's window shifted by the sender's window scale (RFC 7323 §2.3) once
 * both SYNs offered the option; SYN segments are never scaled; without a handshake in the
 * capture the scale is unknown and the raw value is shown, as tshark does by default.
 *
 * BYTES IN FLIGHT ("historical", payload based): every segment with data, SYN or FIN joins
 * its direction's list of unacknowledged segments (retransmissions included, at most
 * 10,000); each packet's ACK removes the peer's segments it covers and trims a partly
 * acknowledged one to the ACK. A segment with data then has in flight the span from the
 * lowest to the highest sequence number of its direction's list, less the bytes of the SACK
 * blocks of the peer's latest packet, less one for a SYN or FIN; none when that is 0 or
 * not below 2,000,000,000 (tshark leaves the field out then).
 */

const MAX_UNACKED = 10_000;
const SCALE_UNKNOWN = -1;
const SCALE_NONE = -2;

const gt = (a: number, b: number): boolean => ((a - b) | 0) > 0;

interface Direction {
  /** Unacknowledged segments: start and end sequence numbers (raw, wrap-safe compares). */
  seq: number[];
  next: number[];
  scale: number;
  /** SACK blocks (bytes) of this direction's latest packet. */
  sacked: number;
}

export interface FlightPoint {
  window: number;
  /** null where tshark shows no tcp.analysis.bytes_in_flight. */
  inFlight: number | null;
}

export class TcpFlight {
  private dirs: [Direction, Direction] = [
    { seq: [], next: [], scale: SCALE_UNKNOWN, sacked: 0 },
    { seq: [], next: [], scale: SCALE_UNKNOWN, sacked: 0 },
  ];

  /** One packet of the connection; `d` is 0 for client → server, 1 for the reverse. */
  feed(f: Frame, d: 0 | 1): FlightPoint {
    const fwd = this.dirs[d];
    const rev = this.dirs[1 - d];
    const flags = f.tcpFlags;
    const syn = (flags & TCP_SYN) !== 0;
    if (syn) {
      fwd.scale = f.tcpWscale >= 0 ? Math.min(f.tcpWscale, 14) : SCALE_NONE;
      // A SYN-ACK without the option turns scaling off for both (RFC 7323 §1.3).
      if (flags & TCP_ACK && fwd.scale === SCALE_NONE) rev.scale = SCALE_NONE;
    }
    const scaled = !syn && fwd.scale >= 0 && rev.scale >= 0;
    const window = scaled ? f.tcpWindow * 2 ** fwd.scale : f.tcpWindow;

    const seq = f.tcpSeq >>> 0;
    const seglen = f.payloadLen;
    const virt = flags & (TCP_SYN | TCP_FIN) ? 1 : 0;
    if ((seglen || virt) && fwd.seq.length < MAX_UNACKED) {
      fwd.seq.push(seq);
      fwd.next.push((seq + seglen + virt) >>> 0);
    }
    fwd.sacked = 0;
    for (let k = 0; k < f.sackCount; k++) fwd.sacked += ((f.sackRight[k] - f.sackLeft[k]) >>> 0);
    // tshark's ack is 0 without the ACK flag; no segment of the peer is removed by it then.
    if (flags & TCP_ACK) this.acknowledge(rev, f.tcpAck >>> 0);

    let inFlight: number | null = null;
    if (seglen !== 0 && fwd.seq.length) {
      let lo = fwd.seq[0];
      let hi = fwd.next[0];
      for (let k = 1; k < fwd.seq.length; k++) {
        if (gt(fwd.next[k], hi)) hi = fwd.next[k];
        if (gt(lo, fwd.seq[k])) lo = fwd.seq[k];
      }
      const span = ((hi - lo) >>> 0) - rev.sacked;
      if (span > 0 && span < 2_000_000_000) inFlight = span - virt;
    }
    return { window, inFlight };
  }

  /** The peer's segments this ACK covers leave its list; one it covers in part keeps the rest. */
  private acknowledge(peer: Direction, ack: number): void {
    let w = 0;
    for (let k = 0; k < peer.seq.length; k++) {
      const n = peer.next[k];
      if (ack === n || !gt(n, ack)) continue;
      peer.seq[w] = gt(ack, peer.seq[k]) ? ack : peer.seq[k];
      peer.next[w] = n;
      w++;
    }
    peer.seq.length = w;
    peer.next.length = w;
  }
}
