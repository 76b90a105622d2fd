/**
 * backoff.ts: the delay before a restart: exponential, capped, and reset once the child has
 * run long enough to count as stable (so a child that crashes once a day restarts at once).
 *
 * Defaults: 100 ms, x2 per consecutive restart, at most 10 s, reset after 10 s of running.
 */

/** Backoff between restarts (see DEFAULT_BACKOFF). */
export interface BackoffOptions {
  /** First delay, ms. Default 100. */
  initialMs?: number;
  /** Growth per consecutive restart. Default 2. */
  factor?: number;
  /** Largest delay, ms. Default 10000. */
  maxMs?: number;
  /** A child that ran this long (ms) before it exited starts again from `initialMs`. Default 10000. */
  resetAfterMs?: number;
}

/** The documented defaults: 100 ms, x2, at most 10 s, reset after 10 s of running. */
export const DEFAULT_BACKOFF: Required<BackoffOptions> = { initialMs: 100, factor: 2, maxMs: 10_000, resetAfterMs: 10_000 };

/** The restart delays of one child: exponential, capped, reset after a stable run. */
export class Backoff {
  private readonly o: Required<BackoffOptions>;
  private consecutive = 0;

  constructor(options: BackoffOptions = {}) {
    this.o = { ...DEFAULT_BACKOFF, ...options };
    for (const [k, v] of Object.entries(this.o)) {
      if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new RangeError(`backoff.${k} must be a finite number >= 0, got ${String(v)}`);
    }
    if (this.o.factor < 1) throw new RangeError(`backoff.factor must be >= 1, got ${this.o.factor}`);
  }

  /** The attempt number and delay of the next restart, for a child that ran `ranMs` before it exited. */
  next(ranMs: number): { attempt: number; delayMs: number } {
    if (ranMs >= this.o.resetAfterMs) this.consecutive = 0;
    this.consecutive++;
    const delayMs = Math.min(this.o.maxMs, Math.round(this.o.initialMs * this.o.factor ** (this.consecutive - 1)));
    return { attempt: this.consecutive, delayMs };
  }
}
