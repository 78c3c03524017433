/**
 * Messages from another thread, taken one at a time in arrival order: `deliver` is the
 * port's listener, `next()` resolves with the oldest message not yet taken (at once when one
 * is waiting). The split analysis's two threads each read the other's messages this way.
 */
export class MessageQueue<T> {
  private readonly queue: T[] = [];
  private waiter: ((m: T) => void) | null = null;

  readonly deliver = (m: T): void => {
    const w = this.waiter;
    if (w) {
      this.waiter = null;
      w(m);
    } else this.queue.push(m);
  };

  next(): Promise<T> {
    if (this.queue.length > 0) return Promise.resolve(this.queue.shift()!);
    return new Promise((resolve) => { this.waiter = resolve; });
  }
}
