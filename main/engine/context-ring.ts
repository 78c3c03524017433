/*
 * THE CONTEXT RING: how the split analysis (engine/split-analysis.ts) hands each packet's
 * connection context from the transport thread to the application thread, with no message
 * per packet. Both threads read the same file; the transport thread looks every packet up
 * (and runs the TCP analyser) and writes two 32-bit words per packet here:
 *
 *   word 0  connection number (-1: no TCP/UDP conversation)
 *   word 1  tcp.analysis flag bits (low 16) | TO_SERVER
 *
 * Layout of the SharedArrayBuffer: a 16-byte header of Int32 cells (WRITTEN, READ, DONE,
 * ABORTED) and `capacity` (a power of two) slots of two Int32. Positions are packet counts
 * that wrap at 2^32 (differences taken with `| 0`). The writer publishes WRITTEN every
 * PUBLISH_EVERY packets and at the end; the reader publishes READ as often. A reader that
 * has caught up, and a writer whose ring is full, sleep on the other side's cell
 * (Atomics.wait, woken by Atomics.notify; 1 s time-outs recheck ABORTED). Memory is fixed:
 * 8 bytes a slot (1 M slots: 8 MB), however long the capture.
 */

export const TO_SERVER = 1 << 16;
const TCP_FLAG_BITS = 0xffff;

const WRITTEN = 0;
const READ = 1;
const DONE = 2;
const ABORTED = 3;
const HEADER_CELLS = 4;
const PUBLISH_EVERY = 4096;
const WAIT_MS = 1000;

export class RingAborted extends Error {
  override name = 'RingAborted';
}

/** Shared memory for a ring of `capacity` packets (rounded up to a power of two ≥ 2 × PUBLISH_EVERY). */
export function contextRingBuffer(capacity = 1 << 20): SharedArrayBuffer {
  let n = PUBLISH_EVERY * 2;
  while (n < capacity) n *= 2;
  return new SharedArrayBuffer((HEADER_CELLS + n * 2) * 4);
}

abstract class RingSide {
  protected readonly head: Int32Array;
  protected readonly slots: Int32Array;
  protected readonly mask: number;
  protected pos = 0;

  constructor(sab: SharedArrayBuffer) {
    this.head = new Int32Array(sab, 0, HEADER_CELLS);
    this.slots = new Int32Array(sab, HEADER_CELLS * 4);
    this.mask = this.slots.length / 2 - 1;
  }

  /** Tells the other side to give up (an error on this side); its waits end with RingAborted. */
  abort(): void {
    Atomics.store(this.head, ABORTED, 1);
    Atomics.notify(this.head, WRITTEN);
    Atomics.notify(this.head, READ);
  }

  protected checkAborted(): void {
    if (Atomics.load(this.head, ABORTED) !== 0) throw new RingAborted('the other analysis thread stopped');
  }
}

/** The transport thread's end: push() each packet's context in order, then end(). */
export class ContextRingWriter extends RingSide {
  /** The reader's position as last read (refreshed only when the ring looks full). */
  private readSeen = 0;

  push(connId: number, tcpFlags: number, toServer: boolean): void {
    if (((this.pos - this.readSeen) | 0) > this.mask) this.waitForRoom();
    const i = (this.pos & this.mask) * 2;
    this.slots[i] = connId;
    this.slots[i + 1] = (tcpFlags & TCP_FLAG_BITS) | (toServer ? TO_SERVER : 0);
    this.pos = (this.pos + 1) | 0;
    if ((this.pos & (PUBLISH_EVERY - 1)) === 0) this.publish();
  }

  /** No more packets: the reader sees the rest and then the end. */
  end(): void {
    this.publish();
    Atomics.store(this.head, DONE, 1);
    Atomics.notify(this.head, WRITTEN);
  }

  private publish(): void {
    Atomics.store(this.head, WRITTEN, this.pos);
    Atomics.notify(this.head, WRITTEN);
  }

  private waitForRoom(): void {
    this.publish();
    for (;;) {
      this.checkAborted();
      const r = Atomics.load(this.head, READ);
      this.readSeen = r;
      if (((this.pos - r) | 0) <= this.mask) return;
      Atomics.wait(this.head, READ, r, WAIT_MS);
    }
  }
}

/** The application thread's end: next() moves to the next packet's context (false at the end). */
export class ContextRingReader extends RingSide {
  connId = -1;
  tcpFlags = 0;
  toServer = false;
  private available = 0;

  next(): boolean {
    if (this.pos === this.available && !this.waitForData()) return false;
    const i = (this.pos & this.mask) * 2;
    this.connId = this.slots[i];
    const w = this.slots[i + 1];
    this.tcpFlags = w & TCP_FLAG_BITS;
    this.toServer = (w & TO_SERVER) !== 0;
    this.pos = (this.pos + 1) | 0;
    if ((this.pos & (PUBLISH_EVERY - 1)) === 0) this.publishRead();
    return true;
  }

  /** Packets read so far. */
  get position(): number {
    return this.pos >>> 0;
  }

  private publishRead(): void {
    Atomics.store(this.head, READ, this.pos);
    Atomics.notify(this.head, READ);
  }

  private waitForData(): boolean {
    this.publishRead();
    for (;;) {
      this.checkAborted();
      const w = Atomics.load(this.head, WRITTEN);
      if (w !== this.pos) {
        this.available = w;
        return true;
      }
      if (Atomics.load(this.head, DONE) !== 0) {
        // DONE is stored after the last WRITTEN: read WRITTEN again before calling it the end.
        const last = Atomics.load(this.head, WRITTEN);
        if (last === this.pos) return false;
        this.available = last;
        return true;
      }
      Atomics.wait(this.head, WRITTEN, w, WAIT_MS);
    }
  }
}
