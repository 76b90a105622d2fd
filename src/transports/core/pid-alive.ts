/**
 * pid-alive.ts: whether a process still exists, for the transports that judge a peer or a
 * name left behind by its pid (msgq's peer probe and stale queues, fifo's stale client FIFOs).
 *
 * Invariant: never throws, and never signals: `kill(pid, 0)` only asks the kernel.
 */

/**
 * True if a process with `pid` exists. EPERM means it exists but belongs to another user,
 * which is alive for every caller here. A reused pid reads as alive: where that matters
 * (msgq's owner record) the caller also compares the process's start time.
 */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
