/**
 * One direction's segment waiting for the peer's bytes it acknowledges (see CausalHold).
 * The payload is a copy: the decoder reuses its packet buffer.
 */
export interface HeldSegment {
  seq: number;
  bytes: Uint8Array;
  wireLen: number;
  fin: boolean;
  /** The segment's acknowledgment number, or -1 without the ACK flag. */
  ack: number;
  ts: number;
}

/** Packets of a connection, and bytes, a direction may wait before it is let through anyway. */
const MAX_WAIT_PACKETS = 64;
const MAX_HELD_BYTES = 512 * 1024;

/*
 * CROSS-DIRECTION ORDER. A capture can record the two directions of a connection in an order
 * the hosts never saw: a SPAN port or tap merging two links, or a loaded machine's loopback,
 * writes a response before the request it answers, or the server's data before the client
 * bytes it ACKs. Each direction is reassembled on its own, but the application parsers pair
 * requests and responses by arrival, so such a file pairs a response with the wrong request.
 * A segment whose ACK covers peer bytes not yet delivered was sent after those bytes: it (and
 * the rest of its direction) waits until the peer's stream has delivered them. It stops
 * waiting when the peer's next data starts past them (they were lost, not late), after
 * MAX_WAIT_PACKETS packets of the connection or MAX_HELD_BYTES, and at RST or end of input.
 */
export class CausalHold {
  readonly segments: HeldSegment[] = [];
  private bytes = 0;
  private waited = 0;

  get isEmpty(): boolean {
    return this.segments.length === 0;
  }

  hold(seq: number, data: Uint8Array, off: number, capLen: number, wireLen: number, fin: boolean, ack: number, ts: number): void {
    const bytes = data.slice(off, off + capLen);
    this.segments.push({ seq, bytes, wireLen, fin, ack, ts });
    this.bytes += bytes.length;
  }

  /** One more packet of the connection went by; true when the wait is over its bound. */
  tick(): boolean {
    if (this.segments.length === 0) return false;
    return ++this.waited > MAX_WAIT_PACKETS || this.bytes > MAX_HELD_BYTES;
  }

  /** The first held segment, taken out (the wait restarts for the next one). */
  shift(): HeldSegment | undefined {
    const s = this.segments.shift();
    if (s) this.bytes -= s.bytes.length;
    this.waited = 0;
    return s;
  }
}
