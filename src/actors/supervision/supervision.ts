/**
 * supervision.ts: everything one ActorSystem supervises: the supervisors made by spawn()
 * and supervise(), and the pools made by spawnPool(). The system delegates to it and calls
 * stop() before it closes its own links, so children are drained and stopped first.
 *
 * Invariants: after stop() begins nothing new is spawned; stop() and restartAll() are safe
 * to call at any time (restartAll() runs one restart at a time across everything).
 */
import { ChildFailedError, PeerGoneError } from '../../errors.js';
import type { AnyActorDefinition } from '../define.js';
import { SupervisedChild, type ChildHost } from './child.js';
import { ChildRefImpl, type SupervisedRef } from './child-ref.js';
import { PoolRefImpl, WorkerPool, type PoolOptions, type PoolRef } from './pool.js';
import { resolveSpec, type SpawnOptions } from './spec.js';
import { Supervisor, type SupervisorOptions } from './supervisor.js';

/** One child of system.supervise(): its module and its spawn options. */
export interface ChildSpec extends SpawnOptions {
  /** The actor module: a URL (`new URL('./worker.js', import.meta.url)`) or an absolute path. */
  module: URL | string;
}

/** What system.supervise() returns. */
export interface SupervisorRef {
  /** A ref per child, in the order of the specs. */
  readonly children: readonly SupervisedRef[];
  /** Resolves if the supervisor gives up (restart intensity exceeded); every child is then `failed`. */
  readonly failed: Promise<ChildFailedError>;
  /** Stops every child, last started first. */
  stop(): Promise<void>;
}

/** The supervisors and pools of one ActorSystem. */
export class Supervision {
  private readonly supervisors = new Set<Supervisor>();
  private readonly pools = new Set<WorkerPool>();
  private stopping: Promise<void> | undefined;
  private seq = 0;
  private restarting: Promise<void> = Promise.resolve();

  constructor(private readonly host: ChildHost) {}

  async spawn<D extends AnyActorDefinition>(moduleUrl: URL | string, options: SpawnOptions = {}): Promise<SupervisedRef<D>> {
    this.checkRunning();
    const child = new SupervisedChild(resolveSpec(moduleUrl, options), this.host);
    const sup = new Supervisor(child.name, { strategy: 'one_for_one' });
    sup.add(child);
    this.supervisors.add(sup);
    await sup.start();
    return new ChildRefImpl(child) as unknown as SupervisedRef<D>;
  }

  async supervise(specs: readonly ChildSpec[], options: SupervisorOptions = {}): Promise<SupervisorRef> {
    this.checkRunning();
    if (!Array.isArray(specs) || specs.length === 0) throw new TypeError('supervise needs a non-empty array of child specs');
    const children = specs.map((s) => {
      const { module, ...rest } = s;
      return new SupervisedChild(resolveSpec(module, rest), this.host);
    });
    const names = new Set(children.map((c) => c.name));
    if (names.size !== children.length) throw new TypeError('supervise: every child needs its own name');
    const sup = new Supervisor(`supervisor-${++this.seq}`, options);
    let failed!: (e: ChildFailedError) => void;
    const failure = new Promise<ChildFailedError>((r) => (failed = r));
    sup.onFailed = failed;
    for (const c of children) sup.add(c);
    this.supervisors.add(sup);
    try {
      await sup.start();
    } catch (err) {
      await sup.stop();
      throw err;
    }
    return {
      children: children.map((c) => new ChildRefImpl(c) as unknown as SupervisedRef),
      failed: failure,
      stop: () => sup.stop(),
    };
  }

  async spawnPool<D extends AnyActorDefinition>(moduleUrl: URL | string, options: PoolOptions = {}): Promise<PoolRef<D>> {
    this.checkRunning();
    const pool = new WorkerPool(this.host, moduleUrl, options, options.name ?? `pool-${++this.seq}`);
    this.pools.add(pool);
    try {
      await pool.start();
    } catch (err) {
      await pool.stop();
      throw err;
    }
    return new PoolRefImpl(pool) as unknown as PoolRef<D>;
  }

  /** Restarts every child one at a time (SIGHUP). */
  restartAll(): Promise<void> {
    this.restarting = this.restarting.then(async () => {
      for (const s of this.supervisors) if (!this.stopping) await s.restartAll();
      for (const p of this.pools) if (!this.stopping) await p.restart();
    });
    return this.restarting;
  }

  /** Drains and stops every child. Idempotent. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      await Promise.all([...[...this.supervisors].map((s) => s.stop()), ...[...this.pools].map((p) => p.stop())]);
    })();
    return this.stopping;
  }

  private checkRunning(): void {
    if (this.stopping) throw new PeerGoneError('the actor system is stopping: nothing new is spawned');
  }
}
