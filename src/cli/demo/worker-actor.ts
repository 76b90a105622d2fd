/**
 * worker-actor.ts: what each demo worker hosts. `values(rate)` streams numbered values at
 * about `rate` per second (in 20 ms batches, so a timer per value is not the bottleneck);
 * `ping` answers at once (the hub times it); `watch(ref)` subscribes to another worker's
 * `values` through whatever route the bus knows (in the demo: via the hub), and `watched`
 * says how many arrived so far.
 */
import { Observable, type Subscription } from 'rxjs';
import { defineActor, type ActorRef } from '../../index.js';

const BATCH_MS = 20;

export interface DemoValue {
  n: number;
  /** Sender's Date.now(), for a rough age at the receiver. */
  at: number;
}

function values(rate: number): Observable<DemoValue> {
  return new Observable<DemoValue>((subscriber) => {
    let n = 0;
    const started = Date.now();
    const timer = setInterval(() => {
      // Catch up to where the rate says we should be: a late timer does not lower the rate.
      const due = Math.floor(((Date.now() - started) * rate) / 1000);
      const at = Date.now();
      while (n < due && !subscriber.closed) subscriber.next({ n: n++, at });
    }, BATCH_MS);
    return () => clearInterval(timer);
  });
}

export const demoWorker = defineActor({
  init: () => ({ watched: 0, from: '', watching: undefined as Subscription | undefined }),
  receive: {
    ping: () => true,
    watch: (s, ref: ActorRef, rate: number) => {
      s.watching?.unsubscribe();
      s.from = ref.node;
      s.watching = ref.stream('values', rate).subscribe({
        next: () => s.watched++,
        error: () => (s.watching = undefined),
      });
    },
    watched: (s) => ({ from: s.from, count: s.watched }),
  },
  streams: {
    values: (_s, rate: number) => values(rate),
  },
});

export const WORKER_ACTOR = 'worker';
