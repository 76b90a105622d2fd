/**
 * credit-pull.ts: an iterable or async iterable pulled only as credit allows. One place for
 * the two consumers that pull a stream handler's iterable: the serving side of a remote stream
 * (credit from the wire, serving.ts) and a local `iterate()` (credit from a Demand,
 * src/actors/pull-on-demand.ts).
 *
 * Invariants: one pull at a time (an async iterator is never asked for its next value before
 * the last one settled); nothing is pulled while the sink does not want more; the end and a
 * failure reach the sink at most once, and nothing after them; stop() (or the end) forgets the
 * iterator, and stop() runs its return() once, so its finally blocks run; an error there is
 * the source's own and is swallowed (nobody is left to tell).
 */

/** Where pulled values go. */
export interface PullSink {
  /** Whether one more value may be pulled now (still open, credit left). */
  wants(): boolean;
  value(v: unknown): void;
  complete(): void;
  fail(err: unknown): void;
}

type AnyIterator = Iterator<unknown> | AsyncIterator<unknown>;

function isThenable<T>(v: unknown): v is PromiseLike<T> {
  return typeof (v as PromiseLike<T> | null)?.then === 'function';
}

export class CreditPull {
  private it: AnyIterator | undefined;
  private pulling = false;

  /** @throws what the source's [Symbol.asyncIterator]() or [Symbol.iterator]() throws. */
  constructor(
    source: Iterable<unknown> | AsyncIterable<unknown>,
    private readonly sink: PullSink,
  ) {
    const asyncIt = (source as AsyncIterable<unknown>)[Symbol.asyncIterator];
    this.it = asyncIt ? asyncIt.call(source) : (source as Iterable<unknown>)[Symbol.iterator]();
  }

  /** Pulls while the sink wants more: synchronously for an iterator, one await at a time for an async one. */
  pull(): void {
    const it = this.it;
    if (!it || this.pulling) return;
    this.pulling = true;
    try {
      while (this.it === it && this.sink.wants()) {
        const r = it.next();
        if (isThenable<IteratorResult<unknown>>(r)) {
          r.then(
            (res) => {
              this.pulling = false;
              if (this.it !== it) return;
              if (res.done) this.finish().complete();
              else {
                this.sink.value(res.value);
                this.pull();
              }
            },
            (err: unknown) => {
              this.pulling = false;
              if (this.it === it) this.finish().fail(err);
            },
          );
          return; // `pulling` stays set until the promise settles
        }
        if (r.done) {
          this.finish().complete();
          break;
        }
        this.sink.value(r.value);
      }
    } catch (err) {
      if (this.it === it) this.finish().fail(err);
    }
    this.pulling = false;
  }

  /** Stops early: nothing more is pulled, and the source's return() runs. */
  stop(): void {
    const it = this.it;
    this.it = undefined;
    if (!it?.return) return;
    try {
      const r = it.return();
      if (isThenable(r)) r.then(undefined, () => {});
    } catch {
      // the source failed while closing; nobody is left to tell
    }
  }

  /** The source ended by itself: forget it (its return() is not called). */
  private finish(): PullSink {
    this.it = undefined;
    return this.sink;
  }
}
