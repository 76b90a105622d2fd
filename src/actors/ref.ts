/**
 * ref.ts: ActorRef, the handle through which user code talks to an actor wherever it lives.
 *
 * A ref is two names (node, actor) plus per-call options; it holds no connection. Each call
 * asks its system for the current route, so a ref stays valid across reconnects, and a ref
 * can be sent inside a message: the codec writes it as (node, actor), and the receiving
 * system rebuilds a live ref bound to itself (location transparency).
 */
import type { Observable } from 'rxjs';
import { WireRef } from '../bus/wire-ref.js';
import type { OverflowPolicy } from '../bus/serving.js';
import type { Demand } from '../bus/demand.js';
import type {
  AnyActorDefinition,
  ChannelArgs,
  ChannelInput,
  ChannelName,
  ChannelOutput,
  MessageArgs,
  MessageName,
  Reply,
  StreamArgs,
  StreamName,
  StreamValue,
} from './define.js';

/** Options for the calls made through a ref; set with `ref.with(options)`. */
export interface RefOptions {
  /** Ask timeout in ms (1 .. 2^31-1, or Infinity for none). Default: the system's `askTimeoutMs` (30 s). */
  timeout?: number;
  /** Aborts a pending ask (it rejects with the signal's reason). */
  signal?: AbortSignal;
  /** Stream values the producer may send ahead of consumption (1 .. 2^31-1). Default 256. */
  prefetch?: number;
  /** What the producer does when its buffer is full. Default `'error'`. */
  overflow?: OverflowPolicy;
  /** Values the producer buffers beyond the credit before `overflow` applies (0 .. 2^31-1). Default 1024. */
  bufferSize?: number;
  /**
   * Streams return credit as this Demand is told values were taken, not as they are
   * delivered. Set by `iterate()`; rarely useful by hand.
   */
  demand?: Demand;
}

/** A reference to an actor, typed by its definition (`ActorRef<typeof counter>`). */
export interface ActorRef<D extends AnyActorDefinition = AnyActorDefinition> {
  /** The node (system) the actor lives on. */
  readonly node: string;
  /** The actor's name on its node. */
  readonly actor: string;
  /** `node/actor`. */
  readonly path: string;
  /**
   * Fire-and-forget. Throws at once if the message cannot leave: PeerGoneError when the
   * actor's node is unreachable, and for an actor in this process a SwitchyardError with code
   * ERR_NO_ACTOR or ERR_NO_HANDLER. A remote actor reports those on its own node (`onError`).
   */
  tell<K extends MessageName<D>>(message: K, ...args: MessageArgs<D, K>): void;
  /** Request-response: resolves with the handler's return value. */
  ask<K extends MessageName<D>>(message: K, ...args: MessageArgs<D, K>): Promise<Reply<D, K>>;
  /** Request-stream: a cold Observable; each subscription opens a flow-controlled stream. */
  stream<K extends StreamName<D>>(name: K, ...args: StreamArgs<D, K>): Observable<StreamValue<D, K>>;
  /** Request-channel: `input` flows to the actor, the result flows back, both flow-controlled. */
  channel<K extends ChannelName<D>>(name: K, input: Observable<ChannelInput<D, K>>, ...args: ChannelArgs<D, K>): Observable<ChannelOutput<D, K>>;
  /** The same ref with other call options (options never mix with message arguments). */
  with(options: RefOptions): ActorRef<D>;
}

/** What a ref needs from its system. Implemented by ActorSystem. */
export interface RefHost {
  refTell(ref: RefImpl, message: string, args: unknown[]): void;
  refAsk(ref: RefImpl, message: string, args: unknown[]): Promise<unknown>;
  refStream(ref: RefImpl, name: string, args: unknown[], input?: Observable<unknown>): Observable<unknown>;
}

export class RefImpl extends WireRef {
  constructor(
    readonly host: RefHost,
    readonly node: string,
    readonly actor: string,
    readonly options: Readonly<RefOptions> = {},
  ) {
    super();
  }

  get path(): string {
    return `${this.node}/${this.actor}`;
  }

  tell(message: string, ...args: unknown[]): void {
    this.host.refTell(this, message, args);
  }

  ask(message: string, ...args: unknown[]): Promise<unknown> {
    return this.host.refAsk(this, message, args);
  }

  stream(name: string, ...args: unknown[]): Observable<unknown> {
    return this.host.refStream(this, name, args);
  }

  channel(name: string, input: Observable<unknown>, ...args: unknown[]): Observable<unknown> {
    return this.host.refStream(this, name, args, input);
  }

  with(options: RefOptions): RefImpl {
    return new RefImpl(this.host, this.node, this.actor, { ...this.options, ...options });
  }

  override toString(): string {
    return `ActorRef(${this.path})`;
  }

  toJSON(): string {
    return this.path;
  }
}
