/**
 * child.ts: SupervisedChild, one supervised child process across all its incarnations: it
 * starts an incarnation, watches it (exit, link, heartbeats), reports each exit to its
 * supervisor, and carries the calls made through the child's ref across restarts.
 *
 * Owns: the current incarnation's process (every exit is reaped: we hold the ChildProcess
 * until its 'exit', and SIGKILL follows SIGTERM after `killAfterMs`), its link (closed on
 * exit, which rejects in-flight asks and errors open streams with PeerGoneError), its
 * private temp dir (removed on exit), and the held tells.
 *
 * Invariants:
 * - The child's node id is the same in every incarnation, so refs (also those sent in
 *   messages) stay valid; a new incarnation links only after the old link is closed.
 * - While the child is not running: tells are held (at most `maxQueued`, then
 *   ChildQueueFullError) and sent in order once it runs; asks and stream subscriptions wait
 *   for it (asks up to their timeout). Once it is failed or stopped, they fail at once.
 * - The supervisor decides about restarts; this class never restarts itself.
 */
import { Observable, ReplaySubject, type Subscription } from 'rxjs';
import { AskTimeoutError, PeerGoneError, TransportError, type ChildFailedError, ChildQueueFullError } from '../../errors.js';
import type { Link } from '../../transports/core/transport.js';
import type { ActorRef, RefOptions } from '../ref.js';
import type { RemoteSystem } from '../system.js';
import { Backoff } from './backoff.js';
import { CONTROL_ACTOR, launch, type Launched } from './launch.js';
import { watchLiveness } from './liveness.js';
import type { ResolvedSpec } from './spec.js';
import type { ChildStatus, ExitCause, ExitInfo } from './status.js';

/** What a child needs from its actor system. */
export interface ChildHost {
  attach(link: Link): Promise<RemoteSystem>;
  ref(path: string): ActorRef;
  readonly askTimeoutMs: number;
  onError(err: unknown, context: string): void;
}

/** Where the calls of a supervised ref go: a child, or a pool of them. */
export interface CallTarget {
  readonly node: string;
  readonly actor: string;
  tell(message: string, args: unknown[]): void;
  ask(message: string, args: unknown[], options: RefOptions): Promise<unknown>;
  stream(name: string, args: unknown[], options: RefOptions, input?: Observable<unknown>): Observable<unknown>;
}

type State = 'idle' | 'starting' | 'running' | 'draining' | 'down' | 'stopping' | 'stopped' | 'failed';

/** After the link ends, how long the process may take to exit by itself before we kill it. */
const LINK_LOST_GRACE_MS = 1000;
const MAX_TIMER_MS = 2 ** 31 - 1;

interface Incarnation {
  readonly n: number;
  readonly launched: Launched;
  readonly pid: number;
  remote: RemoteSystem | undefined;
  linkOpen: boolean;
  runningSince: number;
  cause: ExitCause | undefined;
  stopLiveness: (() => void) | undefined;
  readonly timers: NodeJS.Timeout[];
  killing: boolean;
  exited: boolean;
  /** Resolves once the exit is handled (link closed, dir removed, supervisor told). */
  readonly ended: Promise<void>;
  end(): void;
}

interface Waiter {
  resolve(): void;
  reject(err: unknown): void;
}

/**
 * A send refused because the link had already ended, before the bus noticed (the bus then
 * passes the transport's ERR_LINK_CLOSED up instead of PeerGoneError). Nothing was sent.
 */
function refusedByClosedLink(err: unknown): boolean {
  return err instanceof TransportError && err.code === 'ERR_LINK_CLOSED';
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** One supervised child across its incarnations (see the file header). */
export class SupervisedChild implements CallTarget {
  readonly name: string;
  readonly node: string;
  readonly actor: string;
  readonly backoff: Backoff;
  /** Set by the supervisor: told of every exit, with how long the incarnation had been running. */
  onExit: ((child: SupervisedChild, exit: ExitInfo, ranMs: number) => void) | undefined;
  /** Whether any incarnation ever answered (a module that never loads is not worth restarting). */
  everRan = false;

  private state: State = 'idle';
  private incarnations = 0;
  private current: Incarnation | undefined;
  private starting: Promise<boolean> | undefined;
  private pendingStop = false;
  private readonly statuses = new ReplaySubject<ChildStatus>(1);
  private lastStatus: ChildStatus = { type: 'starting', incarnation: 0 };
  private readonly held: Array<[string, unknown[]]> = [];
  private readonly waiters = new Set<Waiter>();
  private readonly idleWaiters = new Set<() => void>();
  private inFlight = 0;
  private terminalError: Error | undefined;
  /** Links of past incarnations still releasing their OS objects. */
  private readonly releasing = new Set<Promise<void>>();

  /** Lifecycle events; replays the latest to a new subscriber; completes after failed or stopped. */
  readonly status$: Observable<ChildStatus> = this.statuses.asObservable();

  constructor(
    readonly spec: ResolvedSpec,
    private readonly host: ChildHost,
  ) {
    this.name = spec.name;
    this.node = spec.node;
    this.actor = spec.name;
    this.backoff = new Backoff(spec.backoff);
  }

  get status(): ChildStatus {
    return this.lastStatus;
  }

  /** The running incarnation's pid. */
  get pid(): number | undefined {
    return this.state === 'running' || this.state === 'draining' || this.state === 'stopping' ? this.current?.pid : undefined;
  }

  /** Asks and streams in flight through this child. */
  get outstanding(): number {
    return this.inFlight;
  }

  get isTerminal(): boolean {
    return this.state === 'stopped' || this.state === 'failed';
  }

  /** Running, linked and taking new work. */
  get isReady(): boolean {
    return this.state === 'running' && this.current?.linkOpen === true;
  }

  /** Starts an incarnation; true once it runs, false if it ended first (its exit went to the supervisor). */
  start(): Promise<boolean> {
    if (this.isReady) return Promise.resolve(true);
    if (this.isTerminal || this.state === 'stopping') return Promise.resolve(false);
    this.starting ??= this.incarnate().finally(() => (this.starting = undefined));
    return this.starting;
  }

  /** Emits `restarting` (the supervisor's decision). */
  restarting(attempt: number, delayMs: number): void {
    if (!this.isTerminal) this.emit({ type: 'restarting', attempt, delayMs });
  }

  /**
   * Stops taking new work and waits (up to `ms`) for calls in flight to finish. With
   * `rejectNew`, new calls fail (shutdown); without, they wait for the next incarnation.
   */
  async drain(ms: number, rejectNew: boolean): Promise<void> {
    if (this.isTerminal) return;
    if (rejectNew) {
      this.state = 'stopping';
      this.rejectWaiters(new PeerGoneError(`child ${this.name} is stopping`));
    } else if (this.state === 'running') this.state = 'draining';
    if (this.inFlight === 0 || ms === 0) return;
    await new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.idleWaiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.idleWaiters.add(done);
    });
  }

  /**
   * Ends the current incarnation on purpose (SIGTERM, then SIGKILL); resolves once its exit
   * is handled and the links of every past incarnation have released their OS objects.
   */
  async terminate(): Promise<void> {
    const inc = this.current;
    if (inc) {
      this.kill(inc, 'stopped');
      await inc.ended;
    } else if (this.starting) {
      this.pendingStop = true;
      await this.starting;
    }
    await Promise.all([...this.releasing]);
  }

  /** Restarts on purpose: calls in flight finish (up to `drainMs`), new ones wait for the next incarnation. */
  async restart(): Promise<void> {
    if (this.isTerminal || this.state === 'stopping') throw this.goneError();
    await this.drain(this.spec.drainMs, false);
    await this.terminate();
    await this.start();
  }

  /** Stops for good: new calls fail, calls in flight get `drainMs`, then SIGTERM, then SIGKILL. */
  async stop(): Promise<void> {
    if (this.isTerminal) return;
    await this.drain(this.spec.drainMs, true);
    await this.terminate();
    this.finish();
  }

  /** Terminal: the supervisor gave up. */
  fail(error: ChildFailedError): void {
    if (this.isTerminal) return;
    this.state = 'failed';
    this.terminalError = error;
    this.rejectWaiters(error);
    this.held.length = 0;
    this.emit({ type: 'failed', why: error.message, error });
    this.statuses.complete();
  }

  /** Terminal: stopped on purpose, or not restarted by its policy. */
  finish(): void {
    if (this.isTerminal) return;
    this.state = 'stopped';
    this.rejectWaiters(this.goneError());
    this.held.length = 0;
    this.emit({ type: 'stopped' });
    this.statuses.complete();
  }

  // ---- calls ----

  tell(message: string, args: unknown[]): void {
    if (this.isReady) {
      try {
        this.ref({}).tell(message, ...args);
        return;
      } catch (err) {
        if (!(err instanceof PeerGoneError) && !refusedByClosedLink(err)) throw err;
        // the link went just now: hold it for the next incarnation
        this.linkDown();
      }
    }
    if (this.isTerminal || this.state === 'stopping') throw this.goneError();
    if (this.held.length >= this.spec.maxQueued) throw new ChildQueueFullError(this.name, this.spec.maxQueued);
    this.held.push([message, args]);
  }

  async ask(message: string, args: unknown[], options: RefOptions): Promise<unknown> {
    const timeout = options.timeout ?? this.host.askTimeoutMs;
    if (!(timeout === Number.POSITIVE_INFINITY || (Number.isInteger(timeout) && timeout >= 1 && timeout <= MAX_TIMER_MS))) {
      throw new RangeError(`ask timeout must be an integer number of ms in 1 .. ${MAX_TIMER_MS}, or Infinity for none; got ${String(timeout)}`);
    }
    const deadline = Date.now() + timeout;
    for (;;) {
      if (!this.isReady) await this.whenReady(deadline, timeout, options.signal, message);
      const remaining = Number.isFinite(deadline) ? Math.max(1, Math.ceil(deadline - Date.now())) : Number.POSITIVE_INFINITY;
      this.inFlight++;
      try {
        return await this.ref({ ...options, timeout: remaining }).ask(message, ...args);
      } catch (err) {
        // never sent: like any ask made while the child is down, it waits for the next one
        if (!refusedByClosedLink(err)) throw err;
        this.linkDown();
      } finally {
        this.release();
      }
    }
  }

  stream(name: string, args: unknown[], options: RefOptions, input?: Observable<unknown>): Observable<unknown> {
    return new Observable<unknown>((subscriber) => {
      let inner: Subscription | undefined;
      let closed = false;
      const open = (): void => {
        if (closed) return;
        this.inFlight++;
        let counted = true;
        const done = (): void => {
          if (counted) {
            counted = false;
            this.release();
          }
        };
        const ref = this.ref(options);
        const source = input ? ref.channel(name, input, ...args) : ref.stream(name, ...args);
        inner = source.subscribe({
          next: (v) => subscriber.next(v),
          error: (e: unknown) => {
            done();
            if (refusedByClosedLink(e)) {
              this.linkDown();
              subscriber.error(new PeerGoneError(`the link to child ${this.name} is closed`, { cause: e }));
            } else subscriber.error(e);
          },
          complete: () => {
            done();
            subscriber.complete();
          },
        });
        inner.add(done);
      };
      if (this.isReady) open();
      else this.whenReady(Number.POSITIVE_INFINITY, Number.POSITIVE_INFINITY, undefined, name).then(open, (e: unknown) => subscriber.error(e));
      return () => {
        closed = true;
        inner?.unsubscribe();
      };
    });
  }

  // ---- one incarnation ----

  private async incarnate(): Promise<boolean> {
    const n = ++this.incarnations;
    this.state = 'starting';
    this.emit({ type: 'starting', incarnation: n });
    const s = this.spec;
    let launched: Launched;
    try {
      launched = await launch(
        {
          name: s.name,
          transport: s.transport,
          instructions: { module: s.module, node: s.node, actor: s.name, args: s.args, incarnation: n },
          env: s.env,
          execArgv: s.execArgv,
          cwd: s.cwd,
          stdio: s.stdio,
          link: s.link,
        },
        (link) => this.host.attach(link),
      );
    } catch (err) {
      // could not even spawn: an abnormal exit as far as the policy goes
      this.host.onError(err, `starting child ${s.name}`);
      if (this.state === 'starting') this.state = 'down';
      this.emit({ type: 'exited', incarnation: n, pid: 0, code: null, signal: null, cause: 'exited' });
      this.onExit?.(this, { pid: 0, code: null, signal: null, cause: 'exited' }, 0);
      return false;
    }
    let end!: () => void;
    const inc: Incarnation = {
      n,
      launched,
      pid: launched.proc.pid!,
      remote: undefined,
      linkOpen: false,
      runningSince: 0,
      cause: undefined,
      stopLiveness: undefined,
      timers: [],
      killing: false,
      exited: false,
      ended: new Promise<void>((r) => (end = r)),
      end: () => end(),
    };
    this.current = inc;
    const exitSeen = new Promise<'exit'>((resolve) =>
      launched.proc.once('exit', (code, signal) => {
        inc.exited = true;
        resolve('exit');
        void this.onProcessExit(inc, code, signal);
      }),
    );
    if (this.pendingStop) {
      this.pendingStop = false;
      this.kill(inc, 'stopped');
    }
    const ready = (async (): Promise<RemoteSystem> => {
      const remote = await launched.remote;
      await this.control().with({ timeout: s.startTimeoutMs }).ask('ready');
      return remote;
    })();
    let timer: NodeJS.Timeout | undefined;
    const outcome = await Promise.race([
      ready.then(
        (remote) => ({ remote }),
        () => 'link-lost' as const,
      ),
      exitSeen,
      new Promise<'start-timeout'>((r) => (timer = setTimeout(() => r('start-timeout'), s.startTimeoutMs))),
    ]);
    clearTimeout(timer);
    if (typeof outcome === 'string' || inc.exited || inc.cause !== undefined) {
      // a child that dies while starting breaks its link first: let its own exit speak
      if (outcome === 'link-lost') await Promise.race([exitSeen, sleep(LINK_LOST_GRACE_MS)]);
      this.kill(inc, outcome === 'start-timeout' ? 'start-timeout' : 'link-lost');
      await inc.ended;
      return false;
    }
    const remote = outcome.remote;
    inc.remote = remote;
    inc.linkOpen = true;
    inc.runningSince = Date.now();
    this.everRan = true;
    if (this.state === 'starting') this.state = 'running';
    this.emit({ type: 'running', incarnation: n, pid: inc.pid });
    if (s.liveness) {
      inc.stopLiveness = watchLiveness((t) => this.control().with({ timeout: t }).ask('ping'), s.liveness, () => this.kill(inc, 'hung'));
    }
    void remote.closed.then(() => {
      inc.linkOpen = false;
      if (!inc.exited) inc.timers.push(setTimeout(() => this.kill(inc, 'link-lost'), LINK_LOST_GRACE_MS));
    });
    this.flushHeld();
    this.wake();
    return true;
  }

  private kill(inc: Incarnation, cause: ExitCause): void {
    if (inc.exited) return;
    inc.cause ??= cause;
    if (inc.killing) return;
    inc.killing = true;
    inc.stopLiveness?.();
    const send = (sig: NodeJS.Signals): void => {
      if (inc.exited) return;
      try {
        inc.launched.proc.kill(sig);
      } catch {
        // gone already: its 'exit' is on its way
      }
    };
    send('SIGTERM');
    inc.timers.push(setTimeout(() => send('SIGKILL'), this.spec.killAfterMs));
  }

  private async onProcessExit(inc: Incarnation, code: number | null, signal: NodeJS.Signals | null): Promise<void> {
    for (const t of inc.timers) clearTimeout(t);
    inc.stopLiveness?.();
    inc.linkOpen = false;
    const cause = inc.cause ?? 'exited';
    // Closing our side rejects the asks in flight and errors the open streams with
    // PeerGoneError, and lets the next incarnation link under the same node id: that is
    // done once the connection has ended. Releasing the link's OS objects may take longer
    // (a datagram link lingers for a peer that is gone): the next incarnation need not wait
    // for it, but terminate() (and so every stop) does.
    const remote = inc.remote ?? (await Promise.race([inc.launched.remote.catch(() => undefined), sleep(1000).then(() => undefined)]));
    const released = (async () => {
      await remote?.close().catch(() => {});
      await inc.launched.dispose().catch((err: unknown) => this.host.onError(err, `removing the link objects of child ${this.name}`));
    })();
    this.releasing.add(released);
    void released.finally(() => this.releasing.delete(released));
    if (remote) await remote.closed;
    if (this.current === inc) this.current = undefined;
    if (this.state === 'running' || this.state === 'starting' || this.state === 'draining') this.state = 'down';
    const exit: ExitInfo = { pid: inc.pid, code, signal, cause };
    this.emit({ type: 'exited', incarnation: inc.n, ...exit });
    inc.end();
    this.onExit?.(this, exit, inc.runningSince ? Date.now() - inc.runningSince : 0);
  }

  // ---- helpers ----

  private ref(options: RefOptions): ActorRef {
    return this.host.ref(`${this.node}/${this.actor}`).with(options);
  }

  private control(): ActorRef {
    return this.host.ref(`${this.node}/${CONTROL_ACTOR}`);
  }

  private emit(status: ChildStatus): void {
    this.lastStatus = status;
    this.statuses.next(status);
  }

  private goneError(): Error {
    return this.terminalError ?? new PeerGoneError(`child ${this.name} is ${this.state}`);
  }

  private whenReady(deadline: number, timeout: number, signal: AbortSignal | undefined, what: string): Promise<void> {
    if (this.isTerminal || this.state === 'stopping') return Promise.reject(this.goneError());
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise<void>((resolve, reject) => {
      const timer = Number.isFinite(deadline)
        ? setTimeout(() => w.reject(new AskTimeoutError(`${this.node}/${this.actor}`, what, timeout)), Math.max(0, deadline - Date.now()))
        : undefined;
      const onAbort = (): void => w.reject(signal!.reason);
      signal?.addEventListener('abort', onAbort, { once: true });
      const w: Waiter = {
        resolve: () => {
          cleanup();
          resolve();
        },
        reject: (e) => {
          cleanup();
          reject(e);
        },
      };
      const cleanup = (): void => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        this.waiters.delete(w);
      };
      this.waiters.add(w);
    });
  }

  private wake(): void {
    for (const w of [...this.waiters]) w.resolve();
  }

  private rejectWaiters(err: unknown): void {
    for (const w of [...this.waiters]) w.reject(err);
  }

  /** The current link ended before its `closed` reached us: stop routing calls to it. */
  private linkDown(): void {
    if (this.current) this.current.linkOpen = false;
  }

  private release(): void {
    this.inFlight--;
    if (this.inFlight === 0) for (const done of [...this.idleWaiters]) done();
  }

  private flushHeld(): void {
    while (this.held.length > 0 && this.isReady) {
      const [message, args] = this.held[0]!;
      try {
        this.ref({}).tell(message, ...args);
      } catch (err) {
        if (err instanceof PeerGoneError || refusedByClosedLink(err)) return; // gone again: keep the rest for the next one
        this.host.onError(err, `held tell ${JSON.stringify(message)} to child ${this.name}`);
      }
      this.held.shift();
    }
  }
}
