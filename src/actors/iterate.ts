/**
 * iterate.ts: `iterate(ref, name, ...args)`, a remote (or local) stream as an AsyncIterable
 * with end-to-end backpressure (issue 14): `for await (const v of iterate(ref, 'ticks'))`.
 *
 * Credit goes back to the producer only as the loop takes values (a Demand), so a slow loop
 * body holds the producer back: between the producer and the loop there are at most the
 * ref's `prefetch` values (plus its `bufferSize` at the producer, for an Observable source).
 * Leaving the loop early (break, return, throw) cancels the stream: the producer's source is
 * torn down. Works on every ref (plain, supervised, pool): it goes through `ref.with()`.
 * Invariants: the stream is opened by the first next(), once; each value is handed out once,
 * in order, to the next() calls in the order they were made (several may wait at once);
 * after the terminal value (done, or the stream's error, thrown once) every next() is done;
 * return() unsubscribes at most once and settles every waiting next() as done.
 */
import type { Observable, Subscription } from 'rxjs';
import { Demand } from '../bus/demand.js';
import { StreamOverflowError } from '../errors.js';
import type { AnyActorDefinition, StreamArgs, StreamName, StreamValue } from './define.js';
import type { ActorRef } from './ref.js';

/** Opens stream `name` of the actor behind `ref`, as an AsyncIterable with backpressure. */
export function iterate<D extends AnyActorDefinition, K extends StreamName<D>>(ref: ActorRef<D>, name: K, ...args: StreamArgs<D, K>): AsyncIterableIterator<StreamValue<D, K>> {
  const demand = new Demand();
  const open = (): Observable<StreamValue<D, K>> => ref.with({ demand }).stream(name, ...args);
  return new StreamIterator<StreamValue<D, K>>(open, demand, String(name));
}

class StreamIterator<T> implements AsyncIterableIterator<T> {
  private readonly queue: T[] = [];
  private readonly waiters: { resolve: (r: IteratorResult<T>) => void; reject: (e: unknown) => void }[] = [];
  private terminal: { error?: unknown } | undefined;
  private sub: Subscription | undefined;
  private started = false;
  private finished = false;

  constructor(
    private readonly open: () => Observable<T>,
    private readonly demand: Demand,
    private readonly name: string,
  ) {}

  [Symbol.asyncIterator](): AsyncIterableIterator<T> {
    return this;
  }

  next(): Promise<IteratorResult<T>> {
    if (!this.started) this.start();
    if (this.queue.length > 0) {
      const value = this.queue.shift()!;
      this.demand.took(1);
      return Promise.resolve({ value, done: false });
    }
    if (this.terminal !== undefined) return this.finish();
    if (this.finished) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve, reject) => void this.waiters.push({ resolve, reject }));
  }

  return(): Promise<IteratorResult<T>> {
    this.finished = true;
    this.queue.length = 0;
    const sub = this.sub;
    this.sub = undefined;
    sub?.unsubscribe();
    for (const w of this.waiters.splice(0)) w.resolve({ value: undefined, done: true });
    return Promise.resolve({ value: undefined, done: true });
  }

  throw(err?: unknown): Promise<IteratorResult<T>> {
    void this.return();
    return Promise.reject(err);
  }

  private start(): void {
    this.started = true;
    const sub = this.open().subscribe({
      next: (v) => this.push(v),
      error: (e: unknown) => this.end({ error: e }),
      complete: () => this.end({}),
    });
    if (this.finished) sub.unsubscribe();
    else this.sub = sub;
  }

  private push(v: T): void {
    if (this.finished) return;
    const w = this.waiters.shift();
    if (w !== undefined) {
      this.demand.took(1);
      w.resolve({ value: v, done: false });
      return;
    }
    const bound = this.demand.bound;
    if (bound !== undefined && this.queue.length >= bound.capacity) {
      // a source in this process that cannot be slowed down (an Observable): its overflow policy
      if (bound.overflow === 'drop-newest') return;
      if (bound.overflow === 'drop-oldest') this.queue.shift();
      else {
        this.sub?.unsubscribe();
        this.end({ error: new StreamOverflowError(this.name, bound.capacity) });
        return;
      }
    }
    this.queue.push(v);
  }

  private end(t: { error?: unknown }): void {
    if (this.terminal !== undefined || this.finished) return;
    this.terminal = t;
    this.sub = undefined;
    // the first waiting next() gets the terminal (the error, once); the others are done
    for (const w of this.waiters.splice(0)) this.finish().then(w.resolve, w.reject);
  }

  /** The terminal after the last value: the error once, then done. */
  private finish(): Promise<IteratorResult<T>> {
    const t = this.terminal!;
    this.finished = true;
    this.terminal = {};
    if ('error' in t) return Promise.reject(t.error);
    return Promise.resolve({ value: undefined, done: true });
  }
}
