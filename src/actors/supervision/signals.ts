/**
 * signals.ts: system.handleSignals(), the opt-in process signal policy of perlipc's daemon
 * chapter ("Handling the SIGHUP Signal in Daemons"):
 * - SIGTERM, SIGINT: stop accepting work, drain, stop the children (SIGTERM, then SIGKILL),
 *   close every link, remove every OS object, then exit 0. A second such signal while
 *   stopping exits at once (code 128 + n), for the impatient operator.
 * - SIGHUP: restart the children one at a time, so new code is picked up (pools lose no request).
 *
 * Owns: the handlers it installs, removed by the function it returns. Because our handlers
 * are the application's, the transports' own signal cleanup (cleanup.ts) stands aside and
 * runs at exit instead.
 */
import { constants } from 'node:os';

/** What handleSignals() needs from the system. */
export interface SignalTarget {
  stop(): Promise<void>;
  restartChildren(): Promise<void>;
  onError(err: unknown, context: string): void;
}

/** Options of `system.handleSignals()`. */
export interface HandleSignalsOptions {
  /** Exit once stopped on SIGTERM/SIGINT. Default true (exit code 0). */
  exit?: boolean;
}

/** Installs the handlers; returns a function that removes them. */
export function handleSignals(target: SignalTarget, options: HandleSignalsOptions = {}): () => void {
  const exit = options.exit ?? true;
  let stopping = false;
  const onStop = (signal: NodeJS.Signals): void => {
    if (stopping) {
      if (exit) process.exit(128 + (constants.signals[signal] ?? 0));
      return;
    }
    stopping = true;
    target.stop().then(
      () => {
        if (exit) process.exit(0);
      },
      (err: unknown) => {
        target.onError(err, `stopping on ${signal}`);
        if (exit) process.exit(1);
      },
    );
  };
  const onHup = (): void => {
    if (stopping) return;
    target.restartChildren().catch((err: unknown) => target.onError(err, 'restarting children on SIGHUP'));
  };
  process.on('SIGTERM', onStop);
  process.on('SIGINT', onStop);
  process.on('SIGHUP', onHup);
  return () => {
    process.off('SIGTERM', onStop);
    process.off('SIGINT', onStop);
    process.off('SIGHUP', onHup);
  };
}
