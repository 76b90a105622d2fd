/**
 * soak-actor.ts: the actor every soak child hosts (its default export is what system.spawn()
 * runs in the child). It records the sequence numbers of the tells it receives and hands them
 * over on `sync`, so the parent can tell received from lost from in doubt (ledger.ts); it
 * echoes asks, and serves `seq(n)`, 0 .. n-1 pulled by credit, for the in-order stream check.
 *
 * Its state is per incarnation: a SIGKILLed child takes the tells it had not yet reported
 * with it, which is why those count as in doubt, not lost.
 *
 * Test-only: with SWITCHYARD_SOAK_INJECT_LOSS=K in the environment, each incarnation forgets
 * the K-th tell it receives, an acknowledged loss the soak must report (test/bench/soak.test.ts).
 */
import { defineActor } from '../../src/index.js';

/** What `sync` answers: who answered, and the tells it received since its previous sync. */
export interface SyncReply {
  pid: number;
  seqs: number[];
}

interface State {
  seen: number[];
  received: number;
  dropAt: number;
}

export default defineActor({
  init: (): State => ({ seen: [], received: 0, dropAt: Number(process.env.SWITCHYARD_SOAK_INJECT_LOSS ?? 0) || 0 }),
  receive: {
    note: (s: State, seq: number) => {
      s.received++;
      if (s.received === s.dropAt) return;
      s.seen.push(seq);
    },
    sync: (s: State): SyncReply => {
      const seqs = s.seen;
      s.seen = [];
      return { pid: process.pid, seqs };
    },
    echo: (_s: State, x: unknown) => x,
    /**
     * A full collection before a resource checkpoint (the child runs with --expose-gc), so RSS
     * compares like with like; answers the live JS heap after it, to tell heap from native growth.
     */
    gc: () => {
      (globalThis as { gc?: () => void }).gc?.();
      return process.memoryUsage().heapUsed;
    },
  },
  streams: {
    seq: function* (_s: State, n: number) {
      for (let i = 0; i < n; i++) yield i;
    },
  },
});
