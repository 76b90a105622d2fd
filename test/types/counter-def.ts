/**
 * counter-def.ts: the actor definition the type-level tests type their refs with: the
 * DESIGN.md counter, plus a stream and a channel with distinct argument and value types.
 */
import { interval, map, type Observable } from 'rxjs';
import { defineActor } from '../../src/index.js';

export const counter = defineActor({
  init: (start = 0) => ({ n: start }),
  receive: {
    inc: (s, by: number) => {
      s.n += by;
    },
    get: (s) => s.n,
    label: async (s, prefix: string, upper?: boolean) => (upper ? prefix.toUpperCase() : prefix) + s.n,
  },
  streams: {
    ticks: (s, ms: number) => interval(ms).pipe(map(() => s.n)),
    upTo: function* (s, n: number) {
      for (let i = s.n; i < n; i++) yield `#${i}`;
    },
  },
  channels: { lengths: (_s, input: Observable<string>) => input.pipe(map((x) => x.length)) },
});
