/**
 * stop-signals.ts: one way for a CLI command to hear Ctrl-C and SIGTERM while it runs, and
 * to stop hearing them when it is done.
 *
 * Invariant: the handler is added with on(), not once(), and stays until the returned
 * function removes it. The transports' exit cleanup (src/transports/core/cleanup.ts) looks
 * for an application handler when a signal arrives and, finding none, re-raises the signal
 * to kill the process; a once() wrapper is already gone by then. Install it before anything
 * that creates OS objects, so the cleanup defers to the command's own teardown.
 */

/** Calls `handler` on SIGINT and SIGTERM until the returned function is called. */
export function onStopSignals(handler: (signal: NodeJS.Signals) => void): () => void {
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return () => {
    process.off('SIGINT', handler);
    process.off('SIGTERM', handler);
  };
}
