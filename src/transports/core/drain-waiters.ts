/**
 * drain-waiters.ts: the callers of a Link's `drain()`, kept once for the stream, datagram and
 * shm links.
 *
 * Invariants: a waiter settles exactly once, resolved by `wake()` (its link is back under the
 * high-water mark) or rejected by `fail()` (its link ended); `wake()` and `fail()` settle
 * every waiter present when they run, and none added later.
 */
export class DrainWaiters {
  private waiters: Array<{ resolve: () => void; reject: (e: Error) => void }> = [];

  get waiting(): boolean {
    return this.waiters.length > 0;
  }

  /** A promise for the next wake() or fail(). */
  wait(): Promise<void> {
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
  }

  wake(): void {
    if (this.waiters.length === 0) return;
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w.resolve();
  }

  fail(error: Error): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w.reject(error);
  }
}
