/**
 * liveness.ts: heartbeats from parent to child. Every `intervalMs` we ping the child's control
 * actor (it has its own mailbox, so a user actor busy in an async handler still answers; a
 * blocked event loop or a stopped process does not: those
 * are what this finds); a child that has not answered for `hungAfterMs` is declared hung.
 *
 * Invariant: our own stalls are not held against the child: if this process did not run for
 * a while (a long GC, a loaded machine), the clock restarts from the first tick after it.
 */

/** Heartbeat settings of a supervised child. */
export interface LivenessOptions {
  /** Ping period, ms. Default 1000. */
  intervalMs?: number;
  /** Silence after which the child is declared hung, ms. Default 5000. */
  hungAfterMs?: number;
}

/** A ping every second; hung after 5 s of silence. */
export const DEFAULT_LIVENESS: Required<LivenessOptions> = { intervalMs: 1000, hungAfterMs: 5000 };

/** Starts pinging; calls `onHung` once if the child goes silent. Returns a function that stops it. */
export function watchLiveness(ping: (timeoutMs: number) => Promise<unknown>, options: Required<LivenessOptions>, onHung: () => void): () => void {
  let lastAnswer = Date.now();
  let lastTick = Date.now();
  let inFlight = false;
  let stopped = false;
  const timer = setInterval(() => {
    const now = Date.now();
    // we ourselves were late by more than an interval: judge from now on, not from before
    if (now - lastTick > 2 * options.intervalMs) lastAnswer = Math.max(lastAnswer, now - options.intervalMs);
    lastTick = now;
    if (now - lastAnswer > options.hungAfterMs) {
      stop();
      onHung();
      return;
    }
    if (inFlight) return;
    inFlight = true;
    ping(options.hungAfterMs).then(
      () => {
        lastAnswer = Date.now();
        inFlight = false;
      },
      () => {
        inFlight = false;
      },
    );
  }, options.intervalMs);
  timer.unref();
  const stop = (): void => {
    if (stopped) return;
    stopped = true;
    clearInterval(timer);
  };
  return stop;
}
