/**
 * mailbox.ts: runs an actor's messages one at a time, in the order they were posted.
 * A handler that returns a promise holds the mailbox until it settles; synchronous handlers
 * run back to back without allocating a promise each (a million tells cost a million calls,
 * not a million microtasks).
 * An idle mailbox runs a tell's handler at once (runTell), with no job, closure or queue
 * slot: the receiving side of a tell loop allocated three objects per message for nothing.
 * Bounded (issue 14): `full` says the waiting messages reached `limit`. The mailbox never
 * refuses a post itself (a remote batch already read must land somewhere); its callers keep
 * it bounded: a local sender is refused (MailboxFullError), a link feeding it is paused and
 * resumed through whenLow() once the queue has drained to `lowWater`.
 * Invariants: at most one job runs at a time, in the order posted (runTell runs only when
 * nothing is queued or running); every job's `done` is called exactly once, with the
 * handler's error (never undefined) or its value; runTell's `onError` only on an error;
 * every whenLow() callback runs exactly once (at the low-water mark, or when drop() empties
 * the queue), on a microtask of its own, never inside a handler.
 */

export type JobDone = (err: unknown, value?: unknown) => void;

interface Job {
  run: () => unknown;
  done: JobDone | undefined;
}

function isThenable(v: unknown): v is PromiseLike<unknown> {
  return typeof v === 'object' && v !== null && typeof (v as { then?: unknown }).then === 'function';
}

/**
 * Messages an actor's mailbox holds before it is full. 10,000 absorbs any burst a well-behaved
 * sender makes (at a million small tells a second it is 10 ms of work) while bounding what a
 * flood can pin: about 10 MB at 1 KiB a message, instead of the 1 GB issue 14 measured.
 */
export const DEFAULT_MAILBOX_LIMIT = 10_000;

export class Mailbox {
  private queue: (Job | undefined)[] = [];
  private head = 0;
  private running = false;
  /** Callbacks waiting for the queue to fall to lowWater; undefined when none (the common case). */
  private lowWaiters: (() => void)[] | undefined;
  /**
   * Where a paused sender is let go again: half the limit, so the actor still has half a
   * mailbox of work while the link refills it, and a sender is not paused and resumed per message.
   */
  readonly lowWater: number;

  constructor(readonly limit: number = DEFAULT_MAILBOX_LIMIT) {
    if (!Number.isSafeInteger(limit) || limit < 1) throw new RangeError(`mailbox limit must be a positive integer, got ${String(limit)}`);
    this.lowWater = limit >> 1;
  }

  /** The waiting messages reached the limit: a sender should stop until whenLow(). */
  get full(): boolean {
    return this.queue.length - this.head >= this.limit;
  }

  /** Runs `fn` once, when the waiting messages have fallen to lowWater (at once, on a microtask, if they have). */
  whenLow(fn: () => void): void {
    (this.lowWaiters ??= []).push(fn);
    if (this.queue.length - this.head <= this.lowWater) this.releaseWaiters();
  }

  private releaseWaiters(): void {
    const waiters = this.lowWaiters;
    this.lowWaiters = undefined;
    // not inside the drain loop: a resumed link hands up frames synchronously
    if (waiters !== undefined) queueMicrotask(() => {
      for (const w of waiters) settle(w);
    });
  }

  /** Number of messages waiting (not counting the one running). */
  get size(): number {
    return this.queue.length - this.head;
  }

  /** Ends every job still waiting (not the one running) with `err`, and empties the queue. */
  drop(err: unknown): void {
    const waiting = this.queue.slice(this.head);
    this.queue = [];
    this.head = 0;
    for (const job of waiting) job?.done?.(err);
    this.releaseWaiters();
  }

  /** Nothing runs and nothing waits: a message posted now would run at once. */
  get idle(): boolean {
    return !this.running && this.head === this.queue.length;
  }

  /**
   * Runs `fn(state, ...args)` now; only when `idle`. A promise it returns holds the mailbox
   * as a posted job's would. What it throws or rejects with goes to
   * `report(onError, err, context)` (its own arguments, so a caller needs no closure per message).
   */
  runTell<E>(
    fn: (state: unknown, ...args: unknown[]) => unknown,
    state: unknown,
    args: unknown[],
    onError: E,
    report: (onError: E, err: unknown, context: string) => void,
    context = '',
  ): void {
    this.running = true;
    let result: unknown;
    try {
      result = fn(state, ...args);
    } catch (err) {
      settle(() => report(onError, err ?? new Error('handler threw with no reason'), context));
      this.drain();
      return;
    }
    if (isThenable(result)) {
      Promise.resolve(result).then(
        () => this.drain(),
        (e: unknown) => {
          settle(() => report(onError, e ?? new Error('handler rejected with no reason'), context));
          this.drain();
        },
      );
      return;
    }
    // what the handler posted to this mailbox meanwhile runs now, in order
    this.drain();
  }

  post(run: () => unknown, done?: JobDone): void {
    this.queue.push({ run, done });
    if (!this.running) this.drain();
  }

  private drain(): void {
    this.running = true;
    while (this.head < this.queue.length) {
      const job = this.queue[this.head]!;
      this.queue[this.head++] = undefined;
      // one comparison per message, and only while a sender waits
      if (this.lowWaiters !== undefined && this.queue.length - this.head <= this.lowWater) this.releaseWaiters();
      if (this.head > 1024 && this.head * 2 > this.queue.length) {
        this.queue = this.queue.slice(this.head);
        this.head = 0;
      }
      let result: unknown;
      try {
        result = job.run();
      } catch (err) {
        if (job.done) settle(() => job.done!(err ?? new Error('handler threw with no reason')));
        continue;
      }
      if (isThenable(result)) {
        // through a real Promise: a hostile or broken `then` (throwing, calling back twice)
        // cannot wedge the mailbox or finish a job twice
        Promise.resolve(result).then(
          (v) => {
            if (job.done) settle(() => job.done!(undefined, v));
            this.drain();
          },
          (e: unknown) => {
            if (job.done) settle(() => job.done!(e ?? new Error('handler rejected with no reason')));
            this.drain();
          },
        );
        return; // still running: the promise holds the mailbox
      }
      if (job.done) settle(() => job.done!(undefined, result));
    }
    this.running = false;
  }
}

/**
 * Runs a completion callback (the caller's onError, an ask's answer) so that what it throws
 * cannot leave the mailbox `running` with nobody to drain it: the throw is rethrown on its
 * own microtask, as Node does for a throwing listener, and the mailbox goes on.
 */
function settle(fn: () => void): void {
  try {
    fn();
  } catch (err) {
    queueMicrotask(() => {
      throw err;
    });
  }
}
