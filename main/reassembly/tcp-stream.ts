/**
 * What a reassembled byte stream is delivered to: contiguous data in sequence order,
 * gaps (bytes the capture never saw), and the end of the stream.
 */
export interface StreamSink {
  /** `len` bytes of `buf` from `off`, in order; `ts` is the packet that made them contiguous. */
  data(buf: Uint8Array, off: number, len: number, ts: number): void;
  /** `len` bytes that were never captured (lost by the tap, or cut by snaplen). */
  gap(len: number, ts: number): void;
  /** No more bytes: FIN reached (all bytes before it delivered), reset, or end of input. */
  end(ts: number, how: StreamEnd): void;
}

export type StreamEnd = 'fin' | 'reset' | 'eof';

interface Pending {
  seq: number;
  bytes: Uint8Array;
  /** Sequence length on the wire (may exceed bytes.length when the capture was truncated). */
  wireLen: number;
}

/** Out-of-order data held per direction before it is declared lost (bytes and segments). */
const MAX_PENDING_BYTES = 256 * 1024;
const MAX_PENDING_SEGMENTS = 256;

/** The held list of a direction that never held a segment (most): shared, replaced on the first hold. */
const NOTHING_HELD: Pending[] = [];

/** Wrap-safe sequence difference a - b (RFC 9293 §3.4 arithmetic modulo 2^32). */
const seqDiff = (a: number, b: number): number => (a - b) | 0;

/*
 * TCP REASSEMBLY (one direction). Bytes are delivered once, in sequence order:
 * - a retransmission or overlap delivers only the bytes not yet delivered (first copy wins);
 * - a segment ahead of the next expected byte is copied and held (bounded), and delivered
 *   when the hole is filled;
 * - a hole becomes a gap when the receiver ACKs past it and this direction has moved on
 *   (the data reached the receiver but not the capture), when the held data exceeds its
 *   bound, or at the end of input;
 * - a capture that starts mid-stream starts at the first byte seen;
 * - bytes cut off by the snaplen are a gap of that length (framing stays right).
 * Nothing is kept once delivered: consumers keep what they need (headers, not bodies).
 */
export class TcpStreamReassembler {
  /** Next sequence number to deliver; -1 until the first SYN or data segment. */
  private next = -1;
  private finSeq = -1;
  /** Highest acknowledgment from the peer, or -1. */
  private peerAck = -1;
  /** The peer's first acknowledgment seen before this direction's first segment, or -1. */
  private firstPeerAck = -1;
  private ended = false;
  private pending: Pending[] = NOTHING_HELD;
  private pendingBytes = 0;
  /** Bytes delivered, and bytes declared lost, so far. */
  delivered = 0;
  gapBytes = 0;
  gaps = 0;

  constructor(private sink: StreamSink) {}

  get isEnded(): boolean {
    return this.ended;
  }

  /** Next sequence number to deliver, or -1 before the first SYN or data segment. */
  get nextSeq(): number {
    return this.next;
  }

  /** A SYN fixes the initial sequence number. */
  syn(seq: number): void {
    if (this.next === -1) this.next = (seq + 1) >>> 0;
  }

  /**
   * One segment of this direction: payload bytes data[off .. off+capLen) of wire length
   * wireLen at sequence seq; fin when the FIN flag is set.
   */
  segment(seq: number, data: Uint8Array, off: number, capLen: number, wireLen: number, fin: boolean, ts: number): void {
    if (this.ended) return;
    if (this.next === -1) {
      if (wireLen === 0 && !fin) return;
      // Without a SYN the stream starts at the first byte seen, unless the peer had already
      // ACKed less: then the bytes from that ACK on reached it but not the capture (a tap that
      // lost the SYN-ACK and a whole response, then saw the FIN), and they are a hole.
      const d = this.firstPeerAck === -1 ? 0 : seqDiff(seq, this.firstPeerAck);
      this.next = (d > 0 && d <= 0x40000000 ? this.firstPeerAck : seq) >>> 0;
      if (d > 0 && d <= 0x40000000) this.peerAck = this.firstPeerAck;
    }
    if (fin) {
      const f = (seq + wireLen) >>> 0;
      if (this.finSeq === -1 || seqDiff(f, this.finSeq) < 0) this.finSeq = f;
    }
    if (wireLen > 0) {
      const rel = seqDiff(seq, this.next);
      if (rel <= 0) {
        if (rel + wireLen > 0) this.deliver(data, off, capLen, wireLen, -rel, ts);
        this.drain(ts);
      } else this.hold(seq, data, off, capLen, wireLen, ts);
    }
    this.skipAckedHole(ts);
    this.checkFin(ts);
  }

  /**
   * The peer acknowledged up to `ack`. Bytes below it that the capture has not seen reached
   * the receiver but not the capture. They are declared lost once this direction has moved
   * past them (a later segment or the FIN was seen): until then the ACK may simply have been
   * captured before the data (taps that capture each direction separately reorder them).
   */
  acked(ack: number, ts: number): void {
    if (this.ended) return;
    if (this.next === -1) {
      if (this.firstPeerAck === -1) this.firstPeerAck = ack >>> 0;
      return;
    }
    const d = seqDiff(ack, this.next);
    if (d <= 0 || d > 0x40000000) return;
    if (this.peerAck === -1 || seqDiff(ack, this.peerAck) > 0) this.peerAck = ack >>> 0;
    this.skipAckedHole(ts);
  }

  /** Skips the hole before the first held segment (or the FIN) when the peer ACKed past it. */
  private skipAckedHole(ts: number): void {
    if (this.peerAck === -1) return;
    const limit = this.pending.length > 0 ? this.pending[0].seq : this.finSeq;
    if (limit === -1 || seqDiff(this.peerAck, limit) < 0) return;
    const d = seqDiff(limit, this.next);
    if (d > 0) this.skip(d, ts);
    this.drain(ts);
    this.checkFin(ts);
  }

  /**
   * The connection was reset, or the input ended: flush held data across gaps, then end.
   * Bytes the peer ACKed that were never seen are a gap too: they reached the receiver, and
   * no later packet can bring them to the capture now (a tap that lost a response's last
   * segments before the capture ended; docs/protocols.md "TCP reassembly").
   */
  close(ts: number, how: StreamEnd): void {
    if (this.ended) return;
    while (this.pending.length > 0) {
      const p = this.pending[0];
      const d = seqDiff(p.seq, this.next);
      if (d > 0) this.skip(d, ts);
      this.drain(ts);
    }
    if (this.peerAck !== -1 && this.next !== -1) {
      const end = this.finSeq !== -1 && seqDiff(this.peerAck, this.finSeq) > 0 ? this.finSeq : this.peerAck;
      const d = seqDiff(end, this.next);
      if (d > 0 && d <= 0x40000000) this.skip(d, ts);
    }
    this.ended = true;
    this.sink.end(ts, how);
  }

  private deliver(data: Uint8Array, off: number, capLen: number, wireLen: number, trim: number, ts: number): void {
    const n = wireLen - trim;
    const cap = capLen - trim;
    if (cap > 0) {
      this.sink.data(data, off + trim, cap, ts);
      this.delivered += cap;
    }
    const lost = cap > 0 ? n - cap : n;
    if (lost > 0) {
      this.gaps++;
      this.gapBytes += lost;
      this.sink.gap(lost, ts);
    }
    this.next = (this.next + n) >>> 0;
  }

  private skip(n: number, ts: number): void {
    this.gaps++;
    this.gapBytes += n;
    this.sink.gap(n, ts);
    this.next = (this.next + n) >>> 0;
  }

  private hold(seq: number, data: Uint8Array, off: number, capLen: number, wireLen: number, ts: number): void {
    const p: Pending = { seq: seq >>> 0, bytes: data.slice(off, off + capLen), wireLen };
    if (this.pending === NOTHING_HELD) this.pending = [];
    // Keep pending sorted by sequence; a duplicate start keeps the longer copy.
    let i = this.pending.length;
    while (i > 0 && seqDiff(this.pending[i - 1].seq, p.seq) > 0) i--;
    if (i > 0 && this.pending[i - 1].seq === p.seq) {
      const q = this.pending[i - 1];
      if (q.wireLen >= p.wireLen) return;
      this.pendingBytes -= q.bytes.length;
      this.pending[i - 1] = p;
    } else this.pending.splice(i, 0, p);
    this.pendingBytes += p.bytes.length;
    // Over the bound: give up on the hole before the oldest held segment.
    while (this.pending.length > MAX_PENDING_SEGMENTS || this.pendingBytes > MAX_PENDING_BYTES) {
      const d = seqDiff(this.pending[0].seq, this.next);
      if (d > 0) this.skip(d, ts);
      this.drain(ts);
    }
  }

  /** Delivers held segments that are now contiguous (or overlap what was delivered). */
  private drain(ts: number): void {
    while (this.pending.length > 0) {
      const p = this.pending[0];
      const rel = seqDiff(p.seq, this.next);
      if (rel > 0) return;
      this.pending.shift();
      this.pendingBytes -= p.bytes.length;
      if (rel + p.wireLen > 0) this.deliver(p.bytes, 0, p.bytes.length, p.wireLen, -rel, ts);
    }
  }

  private checkFin(ts: number): void {
    if (this.ended) return;
    if (this.finSeq !== -1 && this.next !== -1 && seqDiff(this.next, this.finSeq) >= 0 && this.pending.length === 0) {
      this.ended = true;
      this.sink.end(ts, 'fin');
    }
  }
}
