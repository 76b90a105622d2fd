/**
 * counter.ts: an actor module, as in DESIGN.md: its default export is the definition.
 * The state is `{ n }`; `inc` and `get` are messages, `ticks` a stream, `scale` a channel.
 */
import { interval, map, take, type Observable } from 'rxjs';
import { defineActor } from '../src/index.js';

export default defineActor({
  init: (start = 0) => ({ n: start }),
  receive: {
    inc: (s, by: number) => {
      s.n += by;
    },
    get: (s) => s.n,
  },
  streams: {
    /** `count` values, one every `ms`: the counter's value at that moment. */
    ticks: (s, ms: number, count: number) => interval(ms).pipe(take(count), map(() => s.n)),
  },
  channels: {
    /** Multiplies every number that comes in by the counter's value. */
    scale: (s, input: Observable<number>) => input.pipe(map((x) => x * s.n)),
  },
});
