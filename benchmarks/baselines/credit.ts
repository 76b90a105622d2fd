/**
 * credit.ts: flow control for carriers with no backpressure of their own (a worker's
 * postMessage, node-ipc's emit): the peer ACKs every `ackEvery` sinks of a phase with the
 * cumulative count, and the sender keeps at most max(highWater bytes, 2 x ackEvery messages)
 * unacknowledged, as a careful user would, so neither side's memory grows without bound.
 */
export class Credit {
  private inFlight = 0;
  private window = Infinity;
  private phase = -1;
  private acked = 0;
  private waiters: Array<() => void> = [];

  constructor(
    private readonly ackEvery: number,
    private readonly highWater: number,
  ) {}

  /**
   * Counts one sink of `size` bytes of `phase` out; false = the window is full. A new phase
   * starts from zero: the previous one ended with the receiver's report, so its unacked tail
   * (fewer than ackEvery) has arrived and must not shrink the new window.
   */
  sent(phase: number, size: number): boolean {
    if (phase !== this.phase) {
      this.phase = phase;
      this.inFlight = 0;
      this.acked = 0;
      this.window = Math.max(2 * this.ackEvery, Math.ceil(this.highWater / size));
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
