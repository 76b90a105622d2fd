/**
 * restart-policy.ts: OTP's restart policies and restart intensity.
 *
 * - `permanent`: restarted whenever it exits (except when stopped on purpose).
 * - `transient`: restarted only after an abnormal exit (non-zero code, a signal, hung...).
 * - `temporary`: never restarted.
 * Intensity: at most `maxRestarts` restarts within `periodMs`; the next one is refused and
 * the child (or supervisor) is `failed`. Default 3 in 5 s, as Elixir's Supervisor.
 */
import { isAbnormal, type ExitInfo } from './status.js';

/** When a child is restarted (see the file header). */
export type RestartPolicy = 'permanent' | 'transient' | 'temporary';
/** Every restart policy, for validation. */
export const RESTART_POLICIES: readonly RestartPolicy[] = ['permanent', 'transient', 'temporary'];

/** Restart intensity: at most `maxRestarts` in `periodMs`. */
export interface IntensityOptions {
  /** Default 3. */
  maxRestarts?: number;
  /** Default 5000 ms. */
  periodMs?: number;
}

/** Default restart intensity: 3 restarts within 5000 ms, as Elixir's Supervisor. */
export const DEFAULT_MAX_RESTARTS = 3;
export const DEFAULT_INTENSITY_PERIOD_MS = 5000;

/** Whether `policy` restarts a child after `exit`. */
export function wantsRestart(policy: RestartPolicy, exit: ExitInfo): boolean {
  if (exit.cause === 'stopped') return false;
  if (policy === 'permanent') return true;
  if (policy === 'transient') return isAbnormal(exit);
  return false;
}

/** A sliding window of restart times. */
export class RestartIntensity {
  private readonly times: number[] = [];
  readonly maxRestarts: number;
  readonly periodMs: number;

  constructor(options: IntensityOptions = {}) {
    this.maxRestarts = options.maxRestarts ?? DEFAULT_MAX_RESTARTS;
    this.periodMs = options.periodMs ?? DEFAULT_INTENSITY_PERIOD_MS;
    if (!Number.isInteger(this.maxRestarts) || this.maxRestarts < 0) throw new RangeError(`intensity.maxRestarts must be an integer >= 0, got ${String(this.maxRestarts)}`);
    if (!Number.isInteger(this.periodMs) || this.periodMs < 1) throw new RangeError(`intensity.periodMs must be an integer >= 1, got ${String(this.periodMs)}`);
  }

  /** Records a restart at `now`; false if it is one too many (the caller then gives up). */
  allow(now = Date.now()): boolean {
    while (this.times.length > 0 && now - this.times[0]! > this.periodMs) this.times.shift();
    if (this.times.length >= this.maxRestarts) return false;
    this.times.push(now);
    return true;
  }

  describe(): string {
    return `more than ${this.maxRestarts} restart(s) within ${this.periodMs} ms`;
  }
}
