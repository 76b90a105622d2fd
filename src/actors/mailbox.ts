/**
 * mailbox.ts: runs an actor's messages one at a time, in the order they were posted.
 * A handler that returns a promise holds the mailbox until it settles; synchronous handlers
 * run back to back without allocating a promise each (a million tells cost a million calls,
 * not a million microtasks).
 * Invariants: at most one job runs at a time; every job's `done` is called exactly once,
 * with the handler's error (never undefined) or its value.
 */

export type JobDone = (err: unknown, value?: unknown) => void;

interface Job {
  run: () => unknown;
  done: JobDone | undefined;
}

function isThenable(v: unknown): v is PromiseLike<unknown> {
  return typeof v === 'object' && v !== null && typeof (v as { then?: unknown }).then === 'function';
}

export class Mailbox {
  private queue: (Job | undefined)[] = [];
  private head = 0;
  private running = false;

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
      if (this.head > 1024 && this.head * 2 > this.queue.length) {
        this.queue = this.queue.slice(this.head);
        this.head = 0;
      }
      let result: unknown;
      try {
        result = job.run();
      } catch (err) {
        job.done?.(err ?? new Error('handler threw with no reason'));
        continue;
      }
      if (isThenable(result)) {
        // through a real Promise: a hostile or broken `then` (throwing, calling back twice)
        // cannot wedge the mailbox or finish a job twice
        Promise.resolve(result).then(
          (v) => {
            job.done?.(undefined, v);
            this.drain();
          },
          (e: unknown) => {
            job.done?.(e ?? new Error('handler rejected with no reason'));
            this.drain();
          },
        );
        return; // still running: the promise holds the mailbox
      }
      job.done?.(undefined, result);
    }
    this.running = false;
  }
}
