/**
 * pull-on-demand.ts: a local stream whose handler returned an iterable or async iterable,
 * consumed through a Demand (`iterate()` on an actor in this process): the source is pulled
 * only as the consumer takes values, as the bus pulls it for a remote consumer by credit.
 * Invariants: at most `prefetch` values pulled ahead of the consumer; one pull at a time
 * (an async iterator is never asked for its next value before the last settled); after
 * teardown nothing is pulled and the iterator's return() runs (its finally blocks).
 */
import { Observable } from 'rxjs';
import type { Demand } from '../bus/demand.js';

export function pullOnDemand(source: Iterable<unknown> | AsyncIterable<unknown>, demand: Demand, prefetch: number): Observable<unknown> {
  return new Observable<unknown>((subscriber) => {
    const asyncIt = (source as AsyncIterable<unknown>)[Symbol.asyncIterator];
    let it: Iterator<unknown> | AsyncIterator<unknown>;
    try {
      it = asyncIt ? asyncIt.call(source) : (source as Iterable<unknown>)[Symbol.iterator]();
    } catch (err) {
      subscriber.error(err);
      return;
    }
    let credit = prefetch;
    let pulling = false;
    let done = false;
    const fail = (err: unknown): void => {
      if (done) return;
      done = true;
      subscriber.error(err);
    };
    const step = (): void => {
      while (credit > 0 && !done) {
        let r: IteratorResult<unknown> | Promise<IteratorResult<unknown>>;
        try {
          r = it.next();
        } catch (err) {
          fail(err);
          return;
        }
        if (typeof (r as Promise<IteratorResult<unknown>>).then === 'function') {
          (r as Promise<IteratorResult<unknown>>).then((res) => {
            if (done) return;
            if (res.done) {
              done = true;
              subscriber.complete();
              return;
            }
            credit--;
            subscriber.next(res.value);
            step();
          }, fail);
          return; // `pulling` stays set until this settles
        }
        const res = r as IteratorResult<unknown>;
        if (res.done) {
          done = true;
          subscriber.complete();
          return;
        }
        credit--;
        subscriber.next(res.value);
      }
      pulling = false;
    };
    const pull = (): void => {
      if (pulling || done) return;
      pulling = true;
      step();
    };
    demand.attach((n) => {
      credit += n;
      pull();
    });
    pull();
    return () => {
      if (done) return;
      done = true;
      try {
        const r = it.return?.();
        if (r && typeof (r as Promise<unknown>).then === 'function') (r as Promise<unknown>).then(undefined, () => {});
      } catch {
        // the source failed while closing; nobody is left to tell
      }
    };
  });
}
