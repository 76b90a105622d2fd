/**
 * actor.ts: one actor living in this process: its state, its mailbox, and the lookup of
 * handlers by name.
 *
 * Invariants: `init` runs first, through the mailbox, so no message sees a half-made state;
 * messages, stream openings and channel openings run one at a time in arrival order;
 * handler names are looked up as own properties only (a peer cannot call `constructor` or
 * `__proto__`); after stop() nothing new runs, pending asks reject and open streams error.
 * The mailbox is bounded (mailbox.ts): whoever delivers a message that leaves it full is
 * told through the PressureSink it passed (the bus pauses that link); this actor is the
 * Backpressure that relieves it. The local refusal (MailboxFullError) is the system's.
 */
import { from, Observable, isObservable, type Subscriber } from 'rxjs';
import type { Backpressure, PressureSink } from '../bus/host.js';
import { isStreamSource, type StreamSource } from '../bus/source.js';
import { SwitchyardError } from '../errors.js';
import type { AnyActorDefinition } from './define.js';
import { Mailbox } from './mailbox.js';

function own<T>(table: Record<string, T> | undefined, name: string): T | undefined {
  return table !== undefined && Object.prototype.hasOwnProperty.call(table, name) ? table[name] : undefined;
}

/** Where a tell's failure goes: the error, the actor's name, the message's name. */
export type TellErrorReport = (err: unknown, actor: string, message: string) => void;

export class LocalActor implements Backpressure {
  private readonly mailbox: Mailbox;
  private state: unknown;
  private stopped = false;
  private readonly subscribers = new Set<Subscriber<unknown>>();
  private readonly pendingAsks = new Set<(err: unknown) => void>();

  constructor(
    readonly name: string,
    private readonly def: AnyActorDefinition,
    initArgs: unknown[],
    onInitError: (err: unknown) => void,
    mailboxLimit?: number,
  ) {
    this.mailbox = new Mailbox(mailboxLimit);
    this.mailbox.post(
      () => def.spec.init(...initArgs),
      (err, value) => {
        if (err !== undefined) {
          this.stopped = true;
          onInitError(err);
        } else this.state = value;
      },
    );
  }

  /** Tells dropped by stop() are not errors worth reporting one by one. */
  private readonly reportTell = (onError: TellErrorReport, err: unknown, message: string): void => {
    if (!this.stopped) onError(err, this.name, message);
  };

  /** The mailbox holds its limit of waiting messages: a local sender is refused. */
  get full(): boolean {
    return this.mailbox.full;
  }

  /** Messages waiting (not counting the one running). */
  get queued(): number {
    return this.mailbox.size;
  }

  get mailboxLimit(): number {
    return this.mailbox.limit;
  }

  whenRelieved(resume: () => void): void {
    this.mailbox.whenLow(resume);
  }

  /** `onError` is told what a handler threw or rejected with; one function for every tell, so none is made per message. */
  tell(message: string, args: unknown[], onError: TellErrorReport, sink?: PressureSink): void {
    const fn = this.handler(message);
    if (this.mailbox.idle) {
      // handler() threw if stopped; state is current (init, a job, has run when idle)
      this.mailbox.runTell(fn, this.state, args, onError, this.reportTell, message);
      return;
    }
    this.mailbox.post(
      () => (this.stopped ? Promise.reject(this.stoppedError()) : fn(this.state, ...args)),
      (err) => {
        // tells dropped by stop() are not errors worth reporting one by one
        if (err !== undefined && !this.stopped) onError(err, this.name, message);
      },
    );
    if (sink !== undefined && this.mailbox.full) sink.pressed(this);
  }

  ask(message: string, args: unknown[], sink?: PressureSink): Promise<unknown> {
    let fn: (state: unknown, ...args: unknown[]) => unknown;
    try {
      fn = this.handler(message);
    } catch (err) {
      return Promise.reject(err);
    }
    return new Promise((resolve, reject) => {
      // stop() rejects what is still pending, so a local ask ends as promptly as a remote one
      this.pendingAsks.add(reject);
      this.mailbox.post(
        () => (this.stopped ? Promise.reject(this.stoppedError()) : fn(this.state, ...args)),
        (err, value) => {
          this.pendingAsks.delete(reject);
          if (err !== undefined) reject(err);
          else resolve(value);
        },
      );
      if (sink !== undefined && this.mailbox.full) sink.pressed(this);
    });
  }

  /** Opens a stream: the factory runs in mailbox order; the Observable it returns is the source. */
  stream(name: string, args: unknown[], sink?: PressureSink): Promise<StreamSource> {
    return this.open('streams', name, (fn) => fn(this.state, ...args), sink);
  }

  channel(name: string, input: Observable<unknown>, args: unknown[], sink?: PressureSink): Promise<StreamSource> {
    return this.open('channels', name, (fn) => fn(this.state, input, ...args), sink);
  }

  /**
   * Stops taking messages: queued messages are dropped, pending asks reject and open streams
   * error, all with ERR_ACTOR_STOPPED (a handler already running is not interrupted, but its
   * result is no longer delivered).
   */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    const err = this.stoppedError();
    this.mailbox.drop(err);
    for (const reject of [...this.pendingAsks]) reject(err);
    this.pendingAsks.clear();
    for (const s of [...this.subscribers]) s.error(err);
  }

  private open(
    table: 'streams' | 'channels',
    name: string,
    call: (fn: (...a: unknown[]) => unknown) => unknown,
    sink?: PressureSink,
  ): Promise<StreamSource> {
    const fn = own(this.def.spec[table] as Record<string, (...a: unknown[]) => unknown> | undefined, name);
    if (!fn) {
      const what = table === 'streams' ? 'stream' : 'channel';
      return Promise.reject(new SwitchyardError('ERR_NO_HANDLER', `actor ${JSON.stringify(this.name)} has no ${what} ${JSON.stringify(name)}`));
    }
    return new Promise((resolve, reject) => {
      this.mailbox.post(
        () => {
          if (this.stopped) throw this.stoppedError();
          const out = call(fn);
          if (!isStreamSource(out)) throw new TypeError(`${table}.${name} of actor ${this.name} did not return an Observable or an iterable`);
          // iterables stay raw: the bus pulls them by credit (observe() wraps them for local use)
          return { source: isObservable(out) ? this.track(out) : out };
        },
        (err, value) => (err !== undefined ? reject(err) : resolve((value as { source: StreamSource }).source)),
      );
      if (sink !== undefined && this.mailbox.full) sink.pressed(this);
    });
  }

  /** A source as an Observable for a consumer in this process (iterables are simply iterated). */
  observe(source: StreamSource): Observable<unknown> {
    return isObservable(source) ? source : this.track(from(source));
  }

  /** Wraps a source so that stop() can end every subscription to it with an error. */
  private track(source: Observable<unknown>): Observable<unknown> {
    return new Observable<unknown>((subscriber) => {
      if (this.stopped) {
        subscriber.error(this.stoppedError());
        return;
      }
      this.subscribers.add(subscriber);
      const sub = source.subscribe(subscriber);
      return () => {
        this.subscribers.delete(subscriber);
        sub.unsubscribe();
      };
    });
  }

  private handler(message: string): (state: unknown, ...args: unknown[]) => unknown {
    if (this.stopped) throw this.stoppedError();
    const fn = own(this.def.spec.receive as Record<string, (state: unknown, ...args: unknown[]) => unknown> | undefined, message);
    if (!fn) throw new SwitchyardError('ERR_NO_HANDLER', `actor ${JSON.stringify(this.name)} has no message ${JSON.stringify(message)}`);
    return fn;
  }

  private stoppedError(): SwitchyardError {
    return new SwitchyardError('ERR_ACTOR_STOPPED', `actor ${JSON.stringify(this.name)} is stopped`);
  }
}
