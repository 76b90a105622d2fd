/**
 * builtin-actors.ts: the actors `switchyard serve` hosts, so that `call`, `stream` and
 * `channel` (and anyone's own code) have something to talk to: `echo` answers with what it
 * was sent (and has two channels), `counter` counts, `ticker` streams numbers. Arguments come from other processes, so each
 * handler checks them and throws a TypeError (a RemoteError for the caller) rather than
 * computing nonsense.
 */
import { interval, map, scan, take, type Observable } from 'rxjs';
import { defineActor } from '../../index.js';

function check(ok: boolean, what: string, got: unknown): void {
  if (!ok) throw new TypeError(`${what}, got ${JSON.stringify(got) ?? String(got)}`);
}

/**
 * `ask('echo', x)` returns x. Channels: `echo` sends each input value back as it is; `sum`
 * answers each number with the running sum so far (a value that is not a finite number
 * fails the channel with a TypeError).
 */
export const echo = defineActor({
  init: () => ({}),
  receive: {
    echo: (_s, x: unknown) => x,
  },
  channels: {
    echo: (_s, input: Observable<unknown>) => input,
    sum: (_s, input: Observable<unknown>) =>
      input.pipe(
        map((x) => {
          check(typeof x === 'number' && Number.isFinite(x), 'sum takes finite numbers', x);
          return x as number;
        }),
        scan((total, x) => total + x, 0),
      ),
  },
});

/** `inc(by = 1)` adds and returns the new value; `get` returns it. */
export const counter = defineActor({
  init: () => ({ n: 0 }),
  receive: {
    inc: (s, by: number = 1) => {
      check(typeof by === 'number' && Number.isFinite(by), 'inc takes a finite number', by);
      s.n += by;
      return s.n;
    },
    get: (s) => s.n,
  },
});

/** The longest tick period accepted: a day (setInterval's own limit is ~24.8 days). */
const MAX_MS = 86_400_000;

/** `stream('ticks', n, ms = 1000)`: 0, 1, ... n-1, one every `ms`, then complete. */
export const ticker = defineActor({
  init: () => ({}),
  streams: {
    ticks: (_s, n: number, ms: number = 1000) => {
      check(Number.isSafeInteger(n) && n >= 0, 'ticks takes a count n >= 0', n);
      check(Number.isSafeInteger(ms) && ms >= 0 && ms <= MAX_MS, `ticks takes a period ms from 0 to ${MAX_MS}`, ms);
      return interval(ms).pipe(take(n));
    },
  },
});

export const BUILTIN_ACTORS = { echo, counter, ticker } as const;
