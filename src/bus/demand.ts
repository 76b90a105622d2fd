/**
 * demand.ts: a consumer's demand for stream values, for end-to-end backpressure (issue 14).
 *
 * A stream normally returns credit as each value reaches its subscriber, so an operator
 * downstream that holds values (`concatMap` onto something slow) buffers without bound. A
 * stream opened with a Demand returns credit only as the consumer says it has taken values
 * (`took()`): the values between the producer and the consumer's code are then at most the
 * credit (plus the producer's bufferSize, for an Observable source). `iterate()` makes one.
 * Invariants: the stream that governs it is the last one attached (a resubscription replaces
 * it); `took()` before any attach is remembered and handed to the first.
 */
import type { OverflowPolicy } from './serving.js';

export class Demand {
  private request: ((n: number) => void) | undefined;
  private early = 0;
  /**
   * Set when the values come from a source nobody can slow down (an Observable in this
   * process): the consumer's queue holds at most `capacity`, then `overflow` applies.
   */
  bound: { capacity: number; overflow: OverflowPolicy } | undefined;

  /** The stream hands over how it grants more credit. */
  attach(request: (n: number) => void): void {
    this.request = request;
    if (this.early > 0) {
      const n = this.early;
      this.early = 0;
      request(n);
    }
  }

  /** The consumer has taken `n` values: that much credit may go back. */
  took(n: number): void {
    if (this.request !== undefined) this.request(n);
    else this.early += n;
  }
}
