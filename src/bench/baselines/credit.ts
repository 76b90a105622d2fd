/**
 * credit.ts: flow control for carriers with no backpressure of their own (a worker's
 * postMessage, node-ipc's emit): the peer ACKs every `ackEvery` sinks of a phase with the
 * cumulative count, and the sender keeps at most max(highWater bytes, 2 x ackEvery messages)
 * unacknowledged, as a careful user would, so neither side's memory grows without bound.
 */
export class Credit {
  private inFlight = 0;
  private window = Infinity;
  private readonly acked = new Map<number, number>();
  private waiters: Array<() => void> = [];

  constructor(
    private readonly ackEvery: number,
    private readonly highWater: number,
  ) {}

  /** Counts one sink of `size` bytes out; false = the window is full. */
  sent(size: number): boolean {
    this.window = Math.max(2 * this.ackEvery, Math.ceil(this.highWater / size));
    this.inFlight++;
    return this.open;
  }

  ack(phase: number, count: number): void {
    this.inFlight -= count - (this.acked.get(phase) ?? 0);
    this.acked.set(phase, count);
    if (this.open) for (const w of this.waiters.splice(0)) w();
  }

  get open(): boolean {
    return this.inFlight < this.window;
  }

  drain(): Promise<void> {
    return this.open ? Promise.resolve() : new Promise((r) => this.waiters.push(r));
  }
}
