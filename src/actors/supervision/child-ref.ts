/**
 * child-ref.ts: the refs system.spawn() and system.spawnPool() return: ordinary ActorRefs
 * (tell, ask, stream, channel, with) whose calls go through a CallTarget (a supervised child
 * or a pool) instead of straight to the bus, so that they survive restarts, plus the
 * lifecycle handles (`status$`, `pid`, `restart()`, `stop()`, `resize()`).
 */
import type { Observable } from 'rxjs';
import { WireRef } from '../../bus/wire-ref.js';
import type { AnyActorDefinition } from '../define.js';
import type { ActorRef, RefOptions } from '../ref.js';
import type { CallTarget } from './child.js';
import type { ChildStatus } from './status.js';

/** A ref to an actor in a supervised child process; valid across the child's restarts. */
export interface SupervisedRef<D extends AnyActorDefinition = AnyActorDefinition> extends ActorRef<D> {
  /** Lifecycle events: starting, running (pid), exited (code or signal), restarting (attempt, delay), failed (why), stopped. */
  readonly status$: Observable<ChildStatus>;
  /** The latest lifecycle event. */
  readonly status: ChildStatus;
  /** The running child's pid (undefined while it is down). */
  readonly pid: number | undefined;
  /** Restarts the child on purpose: calls in flight finish first, new ones wait for the new process. */
  restart(): Promise<void>;
  /** Stops the child for good (drain, SIGTERM, SIGKILL); the ref then fails every call. */
  stop(): Promise<void>;
  with(options: RefOptions): SupervisedRef<D>;
}

/** What a SupervisedRef needs beside its CallTarget. */
export interface ChildControl extends CallTarget {
  readonly status$: Observable<ChildStatus>;
  readonly status: ChildStatus;
  readonly pid: number | undefined;
  restart(): Promise<void>;
  stop(): Promise<void>;
}

/** The SupervisedRef behind spawn() and supervise(); sent in a message it travels as (node, actor). */
export class ChildRefImpl extends WireRef {
  constructor(
    private readonly target: ChildControl,
    readonly options: Readonly<RefOptions> = {},
  ) {
    super();
  }

  get node(): string {
    return this.target.node;
  }
  get actor(): string {
    return this.target.actor;
  }
  get path(): string {
    return `${this.node}/${this.actor}`;
  }
  get status$(): Observable<ChildStatus> {
    return this.target.status$;
  }
  get status(): ChildStatus {
    return this.target.status;
  }
  get pid(): number | undefined {
    return this.target.pid;
  }

  tell(message: string, ...args: unknown[]): void {
    this.target.tell(message, args);
  }
  ask(message: string, ...args: unknown[]): Promise<unknown> {
    try {
      return this.target.ask(message, args, this.options);
    } catch (err) {
      return Promise.reject(err);
    }
  }
  stream(name: string, ...args: unknown[]): Observable<unknown> {
    return this.target.stream(name, args, this.options);
  }
  channel(name: string, input: Observable<unknown>, ...args: unknown[]): Observable<unknown> {
    return this.target.stream(name, args, this.options, input);
  }
  with(options: RefOptions): ChildRefImpl {
    return new ChildRefImpl(this.target, { ...this.options, ...options });
  }
  restart(): Promise<void> {
    return this.target.restart();
  }
  stop(): Promise<void> {
    return this.target.stop();
  }
  override toString(): string {
    return `SupervisedRef(${this.path})`;
  }
  toJSON(): string {
    return this.path;
  }
}
