/**
 * pool-worker.ts: the actor module of supervised-pool.ts. Nothing here knows about
 * processes: its default export is the definition system.spawnPool() hosts in each child.
 * `squares` is a generator, so the parent's credit paces it (no buffer, no overflow).
 */
import { defineActor } from '../src/index.js';

export default defineActor({
  init: () => ({ jobs: 0 }),
  receive: {
    pid: () => process.pid,
  },
  streams: {
    /** The squares of from, from+1, ... (count of them), one job's results. */
    squares: function* (s, from: number, count: number) {
      s.jobs++;
      for (let i = from; i < from + count; i++) yield i * i;
    },
  },
});
