/**
 * system.ts: ActorSystem, the user's entry point: it hosts local actors, listens and connects
 * over any registered transport, and resolves refs to local actors or to the bus.
 *
 * Owns: its BusNode (and so every connection), its listeners, its local actors. stop() says
 * goodbye on every connection, closes every listener (removing socket files, FIFOs...), and
 * stops every actor; pending asks and streams end with PeerGoneError rather than hanging.
 */
import { isObservable, Observable, Subject } from 'rxjs';
import { randomBytes } from 'node:crypto';
import { BusNode } from '../bus/node.js';
import type { Connection } from '../bus/connection.js';
import type { LocalHost } from '../bus/host.js';
import { MAX_CREDIT, OVERFLOW_POLICIES } from '../bus/serving.js';
import type { StreamSource } from '../bus/source.js';
import { AskTimeoutError, InsecureListenError, LimitError, MailboxFullError, PeerGoneError, SwitchyardError } from '../errors.js';
import { secretBytes, type AuthConfig, type AuthRole } from '../bus/auth.js';
import { isExposed } from './exposure.js';
import { connect as connectLink, listen as listenLink } from '../transports/core/registry.js';
import type { CloseReason, DiscoveryEvent, Link, LinkOptions, Listener } from '../transports/core/transport.js';
import { LocalActor } from './actor.js';
import { discoverAt } from './discover.js';
import { isActorDefinition, type ActorDefinition, type AnyActorDefinition, type InitArgs } from './define.js';
import { limitOption } from '../bus/limits.js';
import { resolveLimits, type ResolvedLimits, type SystemLimits } from './limits.js';
import { pullOnDemand } from './pull-on-demand.js';
import { RefImpl, type ActorRef, type RefHost } from './ref.js';
import type { SupervisedRef } from './supervision/child-ref.js';
import type { PoolOptions, PoolRef } from './supervision/pool.js';
import { handleSignals, type HandleSignalsOptions } from './supervision/signals.js';
import type { SpawnOptions } from './supervision/spec.js';
import { Supervision, type ChildSpec, type SupervisorRef } from './supervision/supervision.js';
import type { SupervisorOptions } from './supervision/supervisor.js';

export interface ActorSystemOptions {
  /** This system's node id: unique among the systems it links to; no "/" or spaces. Default `node-<pid>-<random>`. */
  name?: string;
  /** Default ask timeout, ms. Default 30000. */
  askTimeoutMs?: number;
  /** Send error stacks to peers that ask. Default false. */
  sendStacks?: boolean;
  /** Heartbeat period on each connection, ms (peer gone after 3 silent periods); 0 disables. Default 5000. */
  heartbeatMs?: number;
  /** How long a new connection may take to say hello, ms. Default 5000. */
  handshakeTimeoutMs?: number;
  /** Deepest nesting accepted in a message from a peer. Default 100. */
  maxDepth?: number;
  /** Link options (maxFrame, highWaterMark...) for links made by listen() and connect(). */
  link?: LinkOptions;
  /** Errors nobody waits for (a tell's handler threw, a tell could not be routed). Default: console.error. */
  onError?: (err: unknown, context: string) => void;
  /**
   * Forward requests between two of this system's peers (a relay: A reaches C's actors
   * through us by a ref we handed it). Default false: a peer reaches only our own actors,
   * so clients of one server cannot call each other (PROTOCOL.md B.8).
   */
  forward?: boolean;
  /**
   * A shared secret (at least 16 bytes; a string is UTF-8): every system that connects to our
   * listeners must prove it holds the same one, and we prove it to every system we connect()
   * to (HMAC-SHA256 challenge-response, PROTOCOL.md B.4; the secret never crosses the wire).
   * A wrong or missing secret fails that connection with AuthError. Default: none.
   */
  secret?: string | Uint8Array;
  /** Bounds on mailboxes and on what one peer may make this system hold (see SystemLimits). */
  limits?: SystemLimits;
}

/** Options for `system.listen()`: the link's options, and the exposure rule's escape hatch. */
export interface ListenOptions extends LinkOptions {
  /**
   * Listen on an address other hosts can reach (tcp, udp or nats off loopback) without a
   * secret. Default false: such a listen() throws InsecureListenError.
   */
  insecure?: boolean;
}

/** Options for `system.attach()`. */
export interface AttachOptions {
  /**
   * With a system secret: `'client'` if this side made the link (connected), `'server'` if it
   * accepted it; the handshake then proves the secret both ways. Absent: the link is not
   * authenticated (a parent/child pair, whose ends nobody else can reach).
   */
  role?: AuthRole;
}

/** Options for `system.local()`. */
export interface LocalActorOptions<D extends AnyActorDefinition> {
  /** The actor's name on this node (no "/" or spaces). */
  name: string;
  /** Arguments for the definition's `init`. */
  args?: InitArgs<D>;
  /** This actor's mailbox limit (waiting messages). Default: the system's `limits.mailbox` (10,000). */
  mailbox?: number;
}

/** Another system this one is connected to. */
export interface RemoteSystem {
  /** Its node id. */
  readonly node: string;
  /** A ref to one of its actors. */
  ref<D extends AnyActorDefinition = AnyActorDefinition>(actor: string): ActorRef<D>;
  /** Resolves when the connection ends, with why. */
  readonly closed: Promise<CloseReason>;
  /** Resolves when the connection's send queue is under its high-water mark. */
  drain(): Promise<void>;
  /** Says goodbye and closes this connection only. */
  close(): Promise<void>;
}

/** A listening endpoint of a system. */
export interface SystemListener {
  /** The real address, e.g. `'tcp://127.0.0.1:40123'`. */
  readonly address: string;
  /** Stops accepting; connections already made stay open. */
  close(): Promise<void>;
}

const NAME = /^[^/\s]{1,200}$/;
/** The longest delay a Node timer takes (2^31-1 ms, about 24.8 days). */
const MAX_TIMER_MS = 2 ** 31 - 1;

function checkName(kind: string, name: unknown): string {
  if (typeof name !== 'string' || !NAME.test(name)) {
    throw new SwitchyardError('ERR_BAD_NAME', `${kind} name must be 1-200 characters without "/" or spaces, got ${JSON.stringify(name)}`);
  }
  return name;
}

class Remote implements RemoteSystem {
  constructor(
    private readonly system: ActorSystem,
    readonly conn: Connection,
  ) {}
  get node(): string {
    return this.conn.peer;
  }
  get closed(): Promise<CloseReason> {
    return this.conn.closed;
  }
  ref<D extends AnyActorDefinition = AnyActorDefinition>(actor: string): ActorRef<D> {
    return this.system.ref<D>(`${this.conn.peer}/${checkName('actor', actor)}`);
  }
  drain(): Promise<void> {
    return this.conn.link.drain();
  }
  close(): Promise<void> {
    return this.conn.close();
  }
}

export class ActorSystem implements RefHost {
  /** This system's node id. */
  readonly node: string;
  private readonly bus: BusNode;
  private readonly actors = new Map<string, LocalActor>();
  private readonly listeners = new Set<Listener>();
  private readonly pendingLinks = new Set<Promise<unknown>>();
  private readonly remotesByConn = new Map<Connection, Remote>();
  private readonly connected = new Subject<RemoteSystem>();
  private readonly askTimeoutMs: number;
  private readonly linkOptions: LinkOptions;
  private readonly onError: (err: unknown, context: string) => void;
  private stopping: Promise<void> | undefined;
  private supervisionRoot: Supervision | undefined;
  private readonly secret: Buffer | undefined;
  private readonly limits: ResolvedLimits;

  /** Every system that connects to this one (or that this one connects to), as it arrives. */
  readonly connections$: Observable<RemoteSystem> = this.connected.asObservable();

  /** A tell's failure, reported: one function for every tell (none made per message). */
  private readonly tellFailed = (err: unknown, actor: string, message: string): void => this.onError(err, `actor ${actor}, tell ${JSON.stringify(message)}`);

  private constructor(options: ActorSystemOptions) {
    this.node = checkName('system', options.name ?? `node-${process.pid}-${randomBytes(3).toString('hex')}`);
    this.askTimeoutMs = options.askTimeoutMs ?? 30_000;
    this.secret = options.secret === undefined ? undefined : secretBytes(options.secret);
    this.linkOptions = options.link ?? {};
    this.onError = options.onError ?? ((err, context) => console.error(`[switchyard ${this.node}] ${context}:`, err));
    this.limits = resolveLimits(options.limits);
    const host: LocalHost = {
      tell: (actor, message, args, sink) => this.local$(actor).tell(message, args, this.tellFailed, sink),
      ask: (actor, message, args, sink) => this.local$(actor).ask(message, args, sink),
      stream: (actor, name, args, sink) => this.local$(actor).stream(name, args, sink),
      channel: (actor, name, input, args, sink) => this.local$(actor).channel(name, input, args, sink),
      makeRef: (node, actor) => new RefImpl(this, node, actor),
      reportError: (err, context) => this.onError(err, context),
    };
    this.bus = new BusNode(this.node, this.node, host, {
      sendStacks: options.sendStacks ?? false,
      forward: options.forward ?? false,
      heartbeatMs: options.heartbeatMs ?? 5000,
      handshakeTimeoutMs: options.handshakeTimeoutMs ?? 5000,
      maxDepth: options.maxDepth ?? 100,
      limits: this.limits,
    });
    this.bus.onConnection = (conn) => {
      const remote = new Remote(this, conn);
      this.remotesByConn.set(conn, remote);
      this.connected.next(remote);
    };
    this.bus.onDisconnect = (conn) => {
      this.remotesByConn.delete(conn);
    };
  }

  /** Starts a system. */
  static async start(options: ActorSystemOptions = {}): Promise<ActorSystem> {
    return new ActorSystem(options);
  }

  /** Hosts an actor in this process, under `name`. */
  local<D extends AnyActorDefinition>(definition: D, options: LocalActorOptions<D>): ActorRef<D> {
    this.checkRunning();
    if (!isActorDefinition(definition)) throw new TypeError('system.local() needs a definition made by defineActor()');
    const name = checkName('actor', options?.name);
    if (this.actors.has(name)) throw new SwitchyardError('ERR_NAME_TAKEN', `an actor named ${JSON.stringify(name)} already runs on ${this.node}`);
    const mailbox = limitOption('mailbox', options.mailbox, this.limits.mailbox);
    const actor = new LocalActor(name, definition, (options.args ?? []) as unknown[], (err) => {
      this.actors.delete(name);
      this.onError(err, `actor ${name}: init failed`);
    }, mailbox);
    this.actors.set(name, actor);
    return new RefImpl(this, this.node, name) as unknown as ActorRef<D>;
  }

  /** A ref by path: `'node/actor'`, or `'actor'` on this node. */
  ref<D extends AnyActorDefinition = AnyActorDefinition>(path: string): ActorRef<D> {
    const slash = typeof path === 'string' ? path.indexOf('/') : -1;
    const node = slash < 0 ? this.node : checkName('node', path.slice(0, slash));
    const actor = checkName('actor', slash < 0 ? path : path.slice(slash + 1));
    return new RefImpl(this, node, actor) as unknown as ActorRef<D>;
  }

  /** Listens at `address` (any registered transport); every system that connects can reach our actors. */
  async listen(address: string, options: ListenOptions = {}): Promise<SystemListener> {
    this.checkRunning();
    const { insecure, ...linkOptions } = options;
    if (this.secret === undefined && insecure !== true && isExposed(address)) throw new InsecureListenError(address);
    const auth = this.auth('server');
    const maxLinks = this.limits.linksPerListener;
    let open = 0;
    const listener = await listenLink(
      address,
      (link) => {
        if (open >= maxLinks) {
          const why = new LimitError('linksPerListener', maxLinks, `${this.node} already holds ${open} connections on ${address}`);
          this.onError(why, `incoming connection on ${address} refused`);
          this.bus.turnAway(link, why).catch((err: unknown) => this.onError(err, `refusing a connection on ${address}`));
          return;
        }
        open++;
        void link.closed.then(() => open--);
        this.track(this.bus.attach(link, auth)).catch((err: unknown) => this.onError(err, `incoming connection on ${address}`));
      },
      { ...this.linkOptions, ...linkOptions },
    );
    this.listeners.add(listener);
    // Where the transport can announce (nats), say who we are and what we host.
    listener.announce?.(() => ({ name: this.node, actors: [...this.actors.keys()] }));
    return {
      address: listener.address.href,
      close: async () => {
        this.listeners.delete(listener);
        await listener.close();
      },
    };
  }

  /**
   * The systems that announce at `address` (nats://host:port/prefix: those listening under that
   * prefix), as they arrive, change their actors and depart (bye, or missed heartbeats); each
   * with its name, actors and the address to connect() to. Not this system itself.
   */
  discover(address: string): Observable<DiscoveryEvent> {
    return discoverAt(address, this.node, this.connections$);
  }

  /** Connects to a system listening at `address`. */
  async connect(address: string, options: LinkOptions = {}): Promise<RemoteSystem> {
    this.checkRunning();
    const link = await connectLink(address, { ...this.linkOptions, ...options });
    return this.attach(link, { role: 'client' });
  }

  /**
   * Runs the bus over a link you made yourself (for example `linkFromParent()` in a child).
   * With a system secret and `options.role`, the handshake proves the secret both ways.
   */
  async attach(link: Link, options: AttachOptions = {}): Promise<RemoteSystem> {
    if (this.stopping) {
      // a link that arrives after stop() began (a connect() in flight, say) is closed, not leaked
      await link.close();
      this.checkRunning();
    }
    const conn = await this.track(this.bus.attach(link, options.role === undefined ? undefined : this.auth(options.role)));
    return this.remotesByConn.get(conn) ?? new Remote(this, conn);
  }

  private auth(role: AuthRole): AuthConfig | undefined {
    return this.secret === undefined ? undefined : { secret: this.secret, role };
  }

  /**
   * Starts a child process that hosts the actor module's default export (a defineActor()
   * definition) and links back over `options.transport` (default socketpair); resolves
   * with a ref, valid across the child's restarts, once the child answers. See SpawnOptions
   * for the restart policy, backoff, heartbeats and output handling.
   */
  spawn<D extends AnyActorDefinition = AnyActorDefinition>(moduleUrl: URL | string, options: SpawnOptions = {}): Promise<SupervisedRef<D>> {
    try {
      return this.supervision().spawn<D>(moduleUrl, options);
    } catch (err) {
      return Promise.reject(err); // stopped: a rejection, like every other failure to spawn
    }
  }

  /** Starts `size` supervised children of one actor module behind one ref (least outstanding calls first). */
  spawnPool<D extends AnyActorDefinition = AnyActorDefinition>(moduleUrl: URL | string, options: PoolOptions = {}): Promise<PoolRef<D>> {
    try {
      return this.supervision().spawnPool<D>(moduleUrl, options);
    } catch (err) {
      return Promise.reject(err); // stopped: a rejection, like every other failure to spawn
    }
  }

  /** Starts children, in order, under one supervisor (strategy one_for_one, one_for_all or rest_for_one). */
  supervise(specs: readonly ChildSpec[], options: SupervisorOptions = {}): Promise<SupervisorRef> {
    try {
      return this.supervision().supervise(specs, options);
    } catch (err) {
      return Promise.reject(err); // stopped: a rejection, like every other failure to spawn
    }
  }

  /**
   * Opts in to signal handling: SIGTERM/SIGINT stop this system (drain, stop children,
   * remove OS objects) and exit 0; SIGHUP restarts the children one by one. Returns a
   * function that removes the handlers.
   */
  handleSignals(options: HandleSignalsOptions = {}): () => void {
    return handleSignals(
      { stop: () => this.stop(), restartChildren: () => this.supervisionRoot?.restartAll() ?? Promise.resolve(), onError: this.onError },
      options,
    );
  }

  /** Messages waiting in a local actor's mailbox (not counting the one running); for monitoring. */
  mailboxLength(actor: string): number {
    return this.local$(actor).queued;
  }

  /** The systems connected right now. */
  get remotes(): RemoteSystem[] {
    return [...this.remotesByConn.values()];
  }

  /** Stops: closes listeners, says goodbye on every connection, stops every local actor. Idempotent. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      // children first: they drain while our links are still up
      await this.supervisionRoot?.stop();
      await Promise.allSettled([...this.listeners].map((l) => l.close()));
      this.listeners.clear();
      await this.bus.close();
      await Promise.allSettled([...this.pendingLinks]);
      for (const a of this.actors.values()) a.stop();
      this.actors.clear();
      this.connected.complete();
    })();
    return this.stopping;
  }

  // ---- RefHost ----

  refTell(ref: RefImpl, message: string, args: unknown[]): void {
    if (ref.node === this.node) {
      const actor = this.local$(ref.actor);
      if (actor.full) throw new MailboxFullError(ref.actor, actor.mailboxLimit);
      actor.tell(message, args, this.tellFailed);
      return;
    }
    this.bus.tell(ref.node, ref.actor, message, args);
  }

  refAsk(ref: RefImpl, message: string, args: unknown[]): Promise<unknown> {
    const timeoutMs = ref.options.timeout ?? this.askTimeoutMs;
    if (!(timeoutMs === Number.POSITIVE_INFINITY || (Number.isInteger(timeoutMs) && timeoutMs >= 1 && timeoutMs <= MAX_TIMER_MS))) {
      return Promise.reject(new RangeError(`ask timeout must be an integer number of ms in 1 .. ${MAX_TIMER_MS}, or Infinity for none; got ${String(timeoutMs)}`));
    }
    const signal = ref.options.signal;
    if (ref.node !== this.node) return this.bus.ask(ref.node, ref.actor, message, args, { timeoutMs, signal });
    let actor: LocalActor;
    try {
      actor = this.local$(ref.actor);
    } catch (err) {
      return Promise.reject(err);
    }
    if (actor.full) return Promise.reject(new MailboxFullError(ref.actor, actor.mailboxLimit));
    return withDeadline(actor.ask(message, args), `${ref.path}`, message, timeoutMs, signal);
  }

  refStream(ref: RefImpl, name: string, args: unknown[], input?: Observable<unknown>): Observable<unknown> {
    const o = ref.options;
    const overflow = o.overflow ?? 'error';
    if (!OVERFLOW_POLICIES.includes(overflow)) throw new TypeError(`overflow must be one of ${OVERFLOW_POLICIES.join(', ')}`);
    const prefetch = o.prefetch ?? 256;
    const bufferSize = o.bufferSize ?? 1024;
    if (!Number.isInteger(prefetch) || prefetch < 1 || prefetch > MAX_CREDIT) throw new RangeError(`prefetch must be an integer in 1 .. ${MAX_CREDIT}`);
    if (!Number.isInteger(bufferSize) || bufferSize < 0 || bufferSize > MAX_CREDIT) throw new RangeError(`bufferSize must be an integer in 0 .. ${MAX_CREDIT}`);
    const demand = o.demand;
    if (ref.node !== this.node) return this.bus.stream(ref.node, ref.actor, name, args, { prefetch, overflow, bufferSize, demand }, input);
    // a local Observable cannot be slowed down: a Demand bounds what waits for the consumer
    if (demand) demand.bound = { capacity: prefetch + bufferSize, overflow };
    return new Observable<unknown>((subscriber) => {
      let inner: { unsubscribe(): void } | undefined;
      let done = false;
      let opened: Promise<StreamSource>;
      let actor: LocalActor;
      try {
        actor = this.local$(ref.actor);
        if (actor.full) throw new MailboxFullError(ref.actor, actor.mailboxLimit);
        opened = input ? actor.channel(name, input, args) : actor.stream(name, args);
      } catch (err) {
        subscriber.error(err);
        return;
      }
      opened.then(
        (source) => {
          if (done) return;
          const values = demand && !isObservable(source) ? pullOnDemand(source, demand, prefetch) : actor.observe(source);
          inner = values.subscribe(subscriber);
        },
        (err: unknown) => subscriber.error(err),
      );
      return () => {
        done = true;
        inner?.unsubscribe();
      };
    });
  }

  private supervision(): Supervision {
    this.checkRunning();
    this.supervisionRoot ??= new Supervision({
      attach: (link) => this.attach(link),
      ref: (path) => this.ref(path),
      askTimeoutMs: this.askTimeoutMs,
      onError: (err, context) => this.onError(err, context),
    });
    return this.supervisionRoot;
  }

  private local$(actor: string): LocalActor {
    const a = this.actors.get(actor);
    if (!a) throw new SwitchyardError('ERR_NO_ACTOR', `no actor named ${JSON.stringify(actor)} on ${this.node}`);
    return a;
  }

  private checkRunning(): void {
    if (this.stopping) throw new PeerGoneError(`system ${this.node} is stopped`);
  }

  private track<T>(p: Promise<T>): Promise<T> {
    this.pendingLinks.add(p);
    const forget = (): void => {
      this.pendingLinks.delete(p);
    };
    p.then(forget, forget);
    return p;
  }
}

function withDeadline(p: Promise<unknown>, target: string, message: string, timeoutMs: number, signal?: AbortSignal): Promise<unknown> {
  if (signal?.aborted) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    const timer = Number.isFinite(timeoutMs) ? setTimeout(() => finish(() => reject(new AskTimeoutError(target, message, timeoutMs))), timeoutMs) : undefined;
    const onAbort = (): void => finish(() => reject(signal!.reason));
    signal?.addEventListener('abort', onAbort, { once: true });
    const finish = (f: () => void): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      f();
    };
    p.then(
      (v) => finish(() => resolve(v)),
      (e: unknown) => finish(() => reject(e)),
    );
  });
}

export type { ActorDefinition };
