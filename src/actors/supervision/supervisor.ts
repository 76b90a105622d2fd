/**
 * supervisor.ts: a supervisor over an ordered list of children, as OTP has it.
 *
 * On a child's exit its restart policy decides whether it is restarted; the strategy
 * decides what else restarts with it:
 * - `one_for_one`: only that child;
 * - `one_for_all`: every child (the others are stopped, last started first, then all are
 *   started again in order);
 * - `rest_for_one`: that child and the children started after it.
 * Restart intensity (default 3 restarts in 5 s) is counted per supervisor; one restart too
 * many stops every child and marks each `failed` with a ChildFailedError (`status$`), which
 * is the event a user acts on. The delay before a restart is the failed child's backoff.
 *
 * Invariants: decisions for one_for_all / rest_for_one run one at a time (a restart of the
 * group is not interleaved with another); one_for_one children restart independently, so
 * one child's backoff never delays another's restart. Exits caused by the supervisor itself
 * (cause `stopped`) never count as failures.
 */
import type { Subscription } from 'rxjs';
import { ChildFailedError } from '../../errors.js';
import type { SupervisedChild } from './child.js';
import { EXIT_BAD_MODULE } from './launch.js';
import { RestartIntensity, wantsRestart, type IntensityOptions } from './restart-policy.js';
import type { ExitInfo } from './status.js';

/** Which children restart with the one that exited (see the file header). */
export type SupervisionStrategy = 'one_for_one' | 'one_for_all' | 'rest_for_one';
/** Every strategy, for validation. */
export const STRATEGIES: readonly SupervisionStrategy[] = ['one_for_one', 'one_for_all', 'rest_for_one'];

/** Options of `system.supervise()`. */
export interface SupervisorOptions {
  /** Default `one_for_one`. */
  strategy?: SupervisionStrategy;
  /** Restart intensity. Default 3 restarts in 5000 ms. */
  intensity?: IntensityOptions;
}

function describeExit(exit: ExitInfo): string {
  if (exit.cause !== 'exited') return exit.cause;
  return exit.signal !== null ? `killed by ${exit.signal}` : `exit code ${exit.code}`;
}

/** One supervisor over an ordered list of children (see the file header). */
export class Supervisor {
  readonly strategy: SupervisionStrategy;
  private readonly intensity: RestartIntensity;
  private readonly children: SupervisedChild[] = [];
  private state: 'running' | 'stopping' | 'stopped' | 'failed' = 'running';
  private chain: Promise<void> = Promise.resolve();
  private readonly sleeps = new Set<() => void>();
  /** Called once when the supervisor gives up. */
  onFailed: ((error: ChildFailedError) => void) | undefined;

  constructor(
    readonly name: string,
    options: SupervisorOptions = {},
  ) {
    this.strategy = options.strategy ?? 'one_for_one';
    if (!STRATEGIES.includes(this.strategy)) throw new TypeError(`strategy must be one of ${STRATEGIES.join(', ')}, got ${JSON.stringify(this.strategy)}`);
    this.intensity = new RestartIntensity(options.intensity);
  }

  get members(): readonly SupervisedChild[] {
    return this.children;
  }

  get isRunning(): boolean {
    return this.state === 'running';
  }

  /** Adds a child (started by start() or startChild()). */
  add(child: SupervisedChild): void {
    this.children.push(child);
    child.onExit = (c, exit, ranMs) => this.onExit(c, exit, ranMs);
  }

  /** Removes a child that has been stopped (a pool shrinking). */
  remove(child: SupervisedChild): void {
    const i = this.children.indexOf(child);
    if (i >= 0) this.children.splice(i, 1);
    child.onExit = undefined;
  }

  /** Starts `child` and resolves once it runs; rejects if it ends failed or stopped first. */
  async startChild(child: SupervisedChild): Promise<void> {
    if (await child.start()) return;
    // its first incarnation ended: its exit went through onExit, which restarts it or gives up
    await new Promise<void>((resolve, reject) => {
      // status$ replays the latest event inside subscribe(), before `sub` is assigned
      let done = false;
      let sub: Subscription | undefined = undefined;
      const settle = (f: () => void): void => {
        done = true;
        sub?.unsubscribe();
        f();
      };
      sub = child.status$.subscribe({
        next: (s) => {
          if (done) return;
          if (s.type === 'running') settle(resolve);
          else if (s.type === 'failed') settle(() => reject(s.error));
        },
        complete: () => {
          if (!done) settle(() => reject(new ChildFailedError(child.name, 'it stopped before it ever ran')));
        },
      });
      if (done) sub.unsubscribe();
    });
  }

  /** Starts every child, in order, each once the one before runs. */
  async start(): Promise<void> {
    for (const c of this.children) await this.startChild(c);
  }

  /**
   * Stops every child, last started first: new calls fail, calls in flight get `drainMs`,
   * then SIGTERM, then SIGKILL. Idempotent.
   */
  async stop(): Promise<void> {
    if (this.state === 'stopped' || this.state === 'failed') return;
    this.state = 'stopping';
    for (const wake of [...this.sleeps]) wake();
    await Promise.all(this.children.map((c) => c.drain(c.spec.drainMs, true)));
    for (const c of [...this.children].reverse()) {
      await c.terminate();
      c.finish();
    }
    this.state = 'stopped';
  }

  /**
   * Restarts every child, one at a time, to pick up new code (SIGHUP): each is drained (new
   * calls wait for its next incarnation), stopped and started again before the next one.
   */
  async restartAll(): Promise<void> {
    for (const c of [...this.children]) {
      if (this.state !== 'running' || c.isTerminal) continue;
      await c.drain(c.spec.drainMs, false);
      await c.terminate();
      if (this.state !== 'running') return;
      await c.start();
    }
  }

  private onExit(child: SupervisedChild, exit: ExitInfo, ranMs: number): void {
    if (this.state !== 'running' || exit.cause === 'stopped' || child.isTerminal) return;
    if (!wantsRestart(child.spec.restart, exit)) {
      child.finish();
      return;
    }
    if (!child.everRan && exit.cause === 'exited' && exit.code === EXIT_BAD_MODULE) {
      void this.fail(`${child.name} could not load ${child.spec.module} (see its stderr)`);
      return;
    }
    if (!this.intensity.allow()) {
      void this.fail(`${child.name} exited (${describeExit(exit)}), ${this.intensity.describe()}`);
      return;
    }
    const { attempt, delayMs } = child.backoff.next(ranMs);
    if (this.strategy === 'one_for_one') {
      void this.restart([child], child, attempt, delayMs);
      return;
    }
    this.chain = this.chain.then(() => {
      const live = this.children.filter((c) => !c.isTerminal);
      const set = this.strategy === 'one_for_all' ? live : live.slice(Math.max(0, live.indexOf(child)));
      return this.restart(set, child, attempt, delayMs);
    });
  }

  private async restart(set: SupervisedChild[], failed: SupervisedChild, attempt: number, delayMs: number): Promise<void> {
    for (const c of [...set].reverse()) if (c !== failed) await c.terminate();
    if (this.state !== 'running') return;
    for (const c of set) c.restarting(attempt, delayMs);
    await this.sleep(delayMs);
    for (const c of set) {
      if (this.state !== 'running') return;
      if (!c.isTerminal) await c.start();
    }
  }

  private async fail(why: string): Promise<void> {
    if (this.state !== 'running') return;
    this.state = 'failed';
    for (const wake of [...this.sleeps]) wake();
    const error = new ChildFailedError(this.children.length === 1 ? this.children[0]!.name : this.name, why);
    for (const c of [...this.children].reverse()) await c.terminate();
    for (const c of this.children) c.fail(error);
    this.onFailed?.(error);
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = (): void => {
        clearTimeout(timer);
        this.sleeps.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      this.sleeps.add(wake);
    });
  }
}
