/**
 * pool.ts: WorkerPool, `size` supervised children running the same actor module, behind one
 * ref. Asks and streams go to the running worker with the fewest calls in flight (ties in
 * turn); a tell goes to one worker. A worker that dies fails only its own calls in flight
 * (PeerGoneError: the caller may retry); new work goes to the others while it restarts.
 * If no worker runs at all, a call waits on the least busy one like a single child's would.
 *
 * Owns: its supervisor (one_for_one) and its workers. resize() adds workers, or stops the
 * newest ones after their calls in flight finish. restart() (SIGHUP) replaces the workers
 * one at a time, each drained first, so no request is lost.
 */
import { availableParallelism } from 'node:os';
import { Observable, Subject } from 'rxjs';
import { PeerGoneError } from '../../errors.js';
import type { AnyActorDefinition } from '../define.js';
import type { ActorRef, RefOptions } from '../ref.js';
import { SupervisedChild, type CallTarget, type ChildHost } from './child.js';
import type { SupervisedRef } from './child-ref.js';
import { ChildRefImpl } from './child-ref.js';
import type { IntensityOptions } from './restart-policy.js';
import { resolveSpec, type SpawnOptions } from './spec.js';
import type { ChildStatus } from './status.js';
import { Supervisor } from './supervisor.js';

/** Options of `system.spawnPool()`. */
export interface PoolOptions extends SpawnOptions {
  /** Number of workers. Default: os.availableParallelism(). */
  size?: number;
  /** Restart intensity for the whole pool. Default 3 x size restarts in 5000 ms. */
  intensity?: IntensityOptions;
}

/** A lifecycle event of one of a pool's workers. */
export interface PoolStatus {
  readonly worker: string;
  readonly status: ChildStatus;
}

/** A ref to a pool of supervised child processes running one actor module. */
export interface PoolRef<D extends AnyActorDefinition = AnyActorDefinition> extends ActorRef<D> {
  /** The number of workers. */
  readonly size: number;
  /** A ref to each worker (its own status$, pid...). */
  readonly workers: readonly SupervisedRef<D>[];
  /** Every worker's lifecycle events, tagged with its name. */
  readonly status$: Observable<PoolStatus>;
  /** Grows or shrinks the pool to `n` workers (shrinking lets calls in flight finish). */
  resize(n: number): Promise<void>;
  /** Replaces every worker, one at a time, with no call lost (what SIGHUP does). */
  restart(): Promise<void>;
  /** Stops every worker. */
  stop(): Promise<void>;
  with(options: RefOptions): PoolRef<D>;
}

function checkSize(n: unknown): number {
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > 1024) throw new RangeError(`pool size must be an integer in 1 .. 1024, got ${String(n)}`);
  return n;
}

/** The workers of one spawnPool() and how calls are spread over them. */
export class WorkerPool implements CallTarget {
  readonly node: string;
  readonly actor: string;
  readonly supervisor: Supervisor;
  private readonly workers: SupervisedChild[] = [];
  private readonly events = new Subject<PoolStatus>();
  private turn = 0;
  private made = 0;
  private stopped = false;
  readonly status$: Observable<PoolStatus> = this.events.asObservable();

  constructor(
    private readonly host: ChildHost,
    private readonly moduleUrl: URL | string,
    private readonly options: PoolOptions,
    readonly name: string,
  ) {
    this.node = 'pool';
    this.actor = name;
    const size = checkSize(options.size ?? availableParallelism());
    this.supervisor = new Supervisor(name, { strategy: 'one_for_one', intensity: options.intensity ?? { maxRestarts: 3 * size } });
    for (let i = 0; i < size; i++) this.add();
  }

  get size(): number {
    return this.workers.length;
  }

  get members(): readonly SupervisedChild[] {
    return this.workers;
  }

  async start(): Promise<void> {
    await Promise.all(this.workers.map((w) => this.supervisor.startChild(w)));
  }

  async resize(n: number): Promise<void> {
    checkSize(n);
    if (this.stopped || !this.supervisor.isRunning) throw new PeerGoneError(`pool ${this.name} is stopped`);
    const added: SupervisedChild[] = [];
    while (this.workers.length < n) added.push(this.add());
    const removed = this.workers.splice(n);
    await Promise.all([
      ...added.map((w) => this.supervisor.startChild(w)),
      ...removed.map(async (w) => {
        await w.stop();
        this.supervisor.remove(w);
      }),
    ]);
  }

  restart(): Promise<void> {
    return this.supervisor.restartAll();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.supervisor.stop();
    this.events.complete();
  }

  // ---- calls ----

  tell(message: string, args: unknown[]): void {
    this.pick().tell(message, args);
  }

  ask(message: string, args: unknown[], options: RefOptions): Promise<unknown> {
    return this.pick().ask(message, args, options);
  }

  stream(name: string, args: unknown[], options: RefOptions, input?: Observable<unknown>): Observable<unknown> {
    return new Observable<unknown>((subscriber) => {
      let worker: SupervisedChild;
      try {
        worker = this.pick();
      } catch (err) {
        subscriber.error(err);
        return;
      }
      return worker.stream(name, args, options, input).subscribe(subscriber);
    });
  }

  /** A ref per worker. */
  refs<D extends AnyActorDefinition>(): SupervisedRef<D>[] {
    return this.workers.map((w) => new ChildRefImpl(w) as unknown as SupervisedRef<D>);
  }

  /** The running worker with the fewest calls in flight; if none runs, the least busy live one. */
  private pick(): SupervisedChild {
    if (this.stopped) throw new PeerGoneError(`pool ${this.name} is stopped`);
    const n = this.workers.length;
    let best: SupervisedChild | undefined;
    let fallback: SupervisedChild | undefined;
    for (let k = 0; k < n; k++) {
      const w = this.workers[(this.turn + k) % n]!;
      if (w.isTerminal) continue;
      if (w.isReady && (!best || w.outstanding < best.outstanding)) best = w;
      if (!fallback || w.outstanding < fallback.outstanding) fallback = w;
    }
    this.turn = (this.turn + 1) % Math.max(1, n);
    const w = best ?? fallback ?? this.workers[0];
    if (!w) throw new PeerGoneError(`pool ${this.name} has no workers`);
    return w;
  }

  private add(): SupervisedChild {
    const name = `${this.name}-${++this.made}`;
    const w = new SupervisedChild(resolveSpec(this.moduleUrl, { ...this.options, name }), this.host);
    w.status$.subscribe((status) => this.events.next({ worker: name, status }));
    this.workers.push(w);
    this.supervisor.add(w);
    return w;
  }
}

/** The ref spawnPool() returns. */
export class PoolRefImpl {
  readonly #pool: WorkerPool;
  readonly #options: Readonly<RefOptions>;

  constructor(pool: WorkerPool, options: Readonly<RefOptions> = {}) {
    this.#pool = pool;
    this.#options = options;
  }
  get node(): string {
    return this.#pool.node;
  }
  get actor(): string {
    return this.#pool.actor;
  }
  get path(): string {
    return `${this.node}/${this.actor}`;
  }
  get size(): number {
    return this.#pool.size;
  }
  get workers(): SupervisedRef[] {
    return this.#pool.refs();
  }
  get status$(): Observable<PoolStatus> {
    return this.#pool.status$;
  }
  tell(message: string, ...args: unknown[]): void {
    this.#pool.tell(message, args);
  }
  ask(message: string, ...args: unknown[]): Promise<unknown> {
    try {
      return this.#pool.ask(message, args, this.#options);
    } catch (err) {
      return Promise.reject(err);
    }
  }
  stream(name: string, ...args: unknown[]): Observable<unknown> {
    return this.#pool.stream(name, args, this.#options);
  }
  channel(name: string, input: Observable<unknown>, ...args: unknown[]): Observable<unknown> {
    return this.#pool.stream(name, args, this.#options, input);
  }
  with(options: RefOptions): PoolRefImpl {
    return new PoolRefImpl(this.#pool, { ...this.#options, ...options });
  }
  resize(n: number): Promise<void> {
    return this.#pool.resize(n);
  }
  restart(): Promise<void> {
    return this.#pool.restart();
  }
  stop(): Promise<void> {
    return this.#pool.stop();
  }
  toString(): string {
    return `PoolRef(${this.actor}, ${this.size} workers)`;
  }
}
