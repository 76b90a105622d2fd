/**
 * worker-actor.ts: what each demo worker hosts (the module's default export, so the hub
 * starts it with system.spawn()). `values(rate)` streams numbered values at up to `rate`
 * per second from an async generator: the consumer's credit pulls it, so a consumer that
 * falls behind slows the producer down instead of overflowing its buffer (flow control, not
 * StreamOverflowError); `ping` answers at once (the hub times it); `watch(ref)` subscribes
 * to another worker's `values` through whatever route the bus knows (in the demo: via the
 * hub), resubscribing after an error (the neighbour may be restarted), and `watched` says how
 * many arrived so far and the last error seen, so the hub can show it.
 */
import { retry, type Subscription } from 'rxjs';
import { defineActor, type ActorRef } from '../../index.js';

const BATCH_MS = 20;
/** Values a late consumer may take at once after a pause: 100 ms worth, not a burst of the whole backlog. */
const BURST_S = 0.1;
const RESUBSCRIBE_MS = 250;

export interface DemoValue {
  n: number;
  /** Sender's Date.now(), for a rough age at the receiver. */
  at: number;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Up to `rate` values a second (a token bucket), and never more than the consumer asks for. */
async function* values(rate: number): AsyncGenerator<DemoValue> {
  let n = 0;
  let tokens = 0;
  let last = Date.now();
  for (;;) {
    const now = Date.now();
    tokens = Math.min(Math.max(1, rate * BURST_S), tokens + ((now - last) * rate) / 1000);
    last = now;
    if (tokens < 1) {
      await sleep(BATCH_MS);
      continue;
    }
    tokens--;
    yield { n: n++, at: now };
  }
}

function describe(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}

export const demoWorker = defineActor({
  init: () => ({ watched: 0, from: '', error: '', watching: undefined as Subscription | undefined }),
  receive: {
    ping: () => true,
    watch: (s, ref: ActorRef, rate: number) => {
      s.watching?.unsubscribe();
      s.from = ref.actor;
      s.watching = ref
        .stream('values', rate)
        .pipe(
          retry({
            delay: (err: unknown) => {
              s.error = describe(err);
              return sleep(RESUBSCRIBE_MS);
            },
          }),
        )
        .subscribe({ next: () => s.watched++ });
    },
    /** What arrived from the watched worker, and the last error its stream ended with ('' if none). */
    watched: (s) => ({ from: s.from, count: s.watched, error: s.error }),
  },
  streams: {
    values: (_s, rate: number) => values(rate),
  },
});

export default demoWorker;
