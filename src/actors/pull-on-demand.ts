/**
 * pull-on-demand.ts: a local stream whose handler returned an iterable or async iterable,
 * consumed through a Demand (`iterate()` on an actor in this process): the source is pulled
 * only as the consumer takes values, as the bus pulls it for a remote consumer by credit.
 * Invariants: at most `prefetch` values pulled ahead of the consumer; one pull at a time
 * (an async iterator is never asked for its next value before the last settled); after
 * teardown nothing is pulled and the iterator's return() runs (its finally blocks).
 */
import { Observable } from 'rxjs';
import { CreditPull } from '../bus/credit-pull.js';
import type { Demand } from '../bus/demand.js';

export function pullOnDemand(source: Iterable<unknown> | AsyncIterable<unknown>, demand: Demand, prefetch: number): Observable<unknown> {
  return new Observable<unknown>((subscriber) => {
    let credit = prefetch;
    let done = false;
    let puller: CreditPull;
    try {
      puller = new CreditPull(source, {
        wants: () => credit > 0 && !done,
        value: (v) => {
          credit--;
          subscriber.next(v);
        },
        complete: () => {
          done = true;
          subscriber.complete();
        },
        fail: (err) => {
          done = true;
          subscriber.error(err);
        },
      });
    } catch (err) {
      subscriber.error(err);
      return;
    }
    demand.attach((n) => {
      credit += n;
      puller.pull();
    });
    puller.pull();
    return () => {
      if (done) return;
      done = true;
      puller.stop();
    };
  });
}
