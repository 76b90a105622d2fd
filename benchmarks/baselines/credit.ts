/**
 * credit.ts: flow control for carriers with no backpressure of their own (a worker's
 * postMessage, node-ipc's emit): the peer ACKs every `ackInterval(size)` sinks of a phase
 * with the cumulative count, and the sender keeps at most max(highWater bytes, 2 intervals)
 * unacknowledged, as a careful user would, so neither side's memory grows without bound.
 *
 * The interval scales with the message size: a quarter of the window. A fixed interval is
 * wrong at one end or the other: every 8 sinks made the peer send one ack per 8 messages at
 * 64 B (a message back for every 8 measured, which held the worker baseline to a third of a
 * plain postMessage loop), and a large fixed one lets megabytes of big messages pile up.
 */

/** Acks that answer one full window: enough that the sender rarely idles waiting for one. */
export const ACKS_PER_WINDOW = 4;

/** Sinks of `size` bytes the peer counts between two acks, for a window of `highWater` bytes. */
export function ackInterval(size: number, highWater: number): number {
  return Math.max(1, Math.floor(highWater / Math.max(1, size) / ACKS_PER_WINDOW));
}

export class Credit {
  private inFlight = 0;
  private window = Infinity;
  private phase = -1;
  private acked = 0;
  private waiters: Array<() => void> = [];

  constructor(private readonly highWater: number) {}

  /**
   * Counts one sink of `size` bytes of `phase` out; false = the window is full. A new phase
   * starts from zero: the previous one ended with the receiver's report, so its unacked tail
   * (less than one interval) has arrived and must not shrink the new window.
   */
  sent(phase: number, size: number): boolean {
    if (phase !== this.phase) {
      this.phase = phase;
      this.inFlight = 0;
      this.acked = 0;
      // At least two intervals: the sender can always reach the next ack point while the
      // previous ack is on its way back.
      this.window = Math.max(2 * ackInterval(size, this.highWater), Math.ceil(this.highWater / size));
    }
    this.inFlight++;
    return this.open;
  }

  /** The receiver has counted `count` sinks of `phase` (cumulative). */
  ack(phase: number, count: number): void {
    if (phase !== this.phase || count <= this.acked) return;
    this.inFlight -= count - this.acked;
    this.acked = count;
    if (this.open) for (const w of this.waiters.splice(0)) w();
  }

  get open(): boolean {
    return this.inFlight < this.window;
  }

  drain(): Promise<void> {
    return this.open ? Promise.resolve() : new Promise((r) => this.waiters.push(r));
  }
}
