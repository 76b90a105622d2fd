/**
 * gate.ts: where the soak's traffic loops wait while a checkpoint is taken, and how they are
 * told to end. A loop calls `pass()` between two operations: it returns true to go on, waits
 * while the gate is paused, and returns false once the gate is closed for good.
 *
 * Invariant: `pause()` resolves only when every registered loop is parked in `pass()`, so a
 * checkpoint never sees an operation in flight.
 */
export class Gate {
  private loops = 0;
  private parked = 0;
  private paused: Promise<void> | undefined;
  private release: (() => void) | undefined;
  private whenAllParked: (() => void) | undefined;
  private closed = false;

  /** Runs `loop` under the gate; the promise settles when the loop returns. */
  run(loop: () => Promise<void>): Promise<void> {
    this.loops++;
    return loop().finally(() => {
      this.loops--;
      this.check();
    });
  }

  async pass(): Promise<boolean> {
    while (this.paused && !this.closed) {
      this.parked++;
      this.check();
      await this.paused;
      this.parked--;
    }
    return !this.closed;
  }

  /** Stops every loop at its next pass(); resolves once all are parked. */
  pause(): Promise<void> {
    this.paused ??= new Promise<void>((r) => (this.release = r));
    return new Promise<void>((r) => {
      this.whenAllParked = r;
      this.check();
    });
  }

  resume(): void {
    const release = this.release;
    this.paused = undefined;
    this.release = undefined;
    release?.();
  }

  /** Every loop ends at its next pass(). */
  close(): void {
    this.closed = true;
    this.resume();
  }

  private check(): void {
    if (this.whenAllParked && this.parked >= this.loops) {
      const done = this.whenAllParked;
      this.whenAllParked = undefined;
      done();
    }
  }
}
