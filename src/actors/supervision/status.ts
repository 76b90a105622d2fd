/**
 * status.ts: the lifecycle events of a supervised child, as `ref.status$` emits them.
 *
 * Order for one incarnation: starting, running (once the child answered), exited; then
 * either restarting (and a new starting), or a terminal event: failed (restart intensity
 * exceeded) or stopped (stopped on purpose, or not restarted by its policy). `status$`
 * completes after a terminal event.
 */
import type { ChildFailedError } from '../../errors.js';

/** Why an incarnation ended, as the supervisor saw it. */
export type ExitCause =
  /** The process exited (or was killed) on its own account. */
  | 'exited'
  /** It stopped answering heartbeats and was killed (SIGTERM, then SIGKILL). */
  | 'hung'
  /** Its link ended while the process lived on, so it was killed. */
  | 'link-lost'
  /** It did not answer within `startTimeoutMs`, so it was killed. */
  | 'start-timeout'
  /** The supervisor stopped it on purpose (stop(), a sibling's restart, SIGHUP). */
  | 'stopped';

/** One lifecycle event of a supervised child. */
export type ChildStatus =
  | { readonly type: 'starting'; readonly incarnation: number }
  | { readonly type: 'running'; readonly incarnation: number; readonly pid: number }
  | {
      readonly type: 'exited';
      readonly incarnation: number;
      readonly pid: number;
      readonly code: number | null;
      readonly signal: NodeJS.Signals | null;
      readonly cause: ExitCause;
    }
  | { readonly type: 'restarting'; readonly attempt: number; readonly delayMs: number }
  | { readonly type: 'failed'; readonly why: string; readonly error: ChildFailedError }
  | { readonly type: 'stopped' };

/** What the supervisor needs to know about an exit. */
export interface ExitInfo {
  readonly pid: number;
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly cause: ExitCause;
}

/** True for an exit that is a failure: anything but code 0 on the child's own account or on ours. */
export function isAbnormal(exit: ExitInfo): boolean {
  if (exit.cause === 'stopped') return false;
  if (exit.cause !== 'exited') return true;
  return exit.code !== 0 || exit.signal !== null;
}
