/**
 * node.ts: one bus node (one per ActorSystem): its connections, its routes to other nodes,
 * the requests it has made (asks, streams, channels), the requests it serves for its local
 * actors, and the requests it forwards between two of its connections.
 *
 * Routing (PROTOCOL.md B.8): a node knows the peers it is connected to, and learns a route to
 * a node it is not connected to from the connection a ref to an actor on it, or a forwarded
 * message from it, arrived on. Requests travel by route; everything that answers a request
 * (reply, error, next, complete, credit, cancel) travels back over the connection the request
 * came in on. A forwarding node remembers each request it forwarded until its terminal
 * message passes, so that when either side's connection drops it can fail or cancel the other.
 * Forwarding between two peers is off unless the system opts in (`forward`).
 *
 * Who may speak for whom: `routes` maps a node id to the one connection allowed to speak for
 * it. A directly connected node is always bound to its own connection (it replaces whatever
 * was learned); a learned binding is first come while its connection is open, and never
 * names this node or a node connected directly. A forwarded message whose `from` is bound to
 * another connection is refused alone (ERR_BAD_ROUTE), so no peer can pose as another node.
 *
 * Invariants: every ask settles exactly once (reply, error, timeout, abort, or PeerGoneError
 * when its connection closes); every stream subscription ends exactly once; a protocol
 * violation closes only the connection it arrived on. What one peer may make this node hold
 * is bounded per connection: asks and streams by limits.ts, the rest by pausing its reading
 * (inflow.ts: a full mailbox, answers or forwarded requests that do not drain).
 */
import { Observable } from 'rxjs';
import { AskTimeoutError, FrameTooLargeError, LimitError, PeerGoneError, ProtocolError } from '../errors.js';
import type { CloseReason, Link } from '../transports/core/transport.js';
import type { AuthConfig } from './auth.js';
import { watchLoss } from './loss-watch.js';
import { Connection, type ConnectionOptions } from './connection.js';
import { InboundStream } from './consuming.js';
import type { Demand } from './demand.js';
import { MAX_HOPS, MSG_NAMES, MsgType, splitAddress, wireInt, type Envelope } from './envelope.js';
import type { LocalHost } from './host.js';
import type { BusLimits } from './limits.js';
import { MAX_CREDIT, OutboundStream, OVERFLOW_POLICIES, type OverflowPolicy, type SubRequest } from './serving.js';
import type { StreamSource } from './source.js';
import { errorFromWire, errorToWire, type WireError } from './wire-error.js';

export interface BusOptions extends ConnectionOptions {
  /** Send error stacks to peers. Default false: stacks reveal paths and code. */
  sendStacks: boolean;
  /** Forward requests between two peers (B.8). Off: a peer reaches only this node's actors. */
  forward: boolean;
  /** What one peer may make this node hold (limits.ts). */
  limits: BusLimits;
}

export interface AskOptions {
  timeoutMs: number;
  signal?: AbortSignal | undefined;
}

export interface StreamOptions {
  /** Values the producer may send before we return credit. */
  prefetch: number;
  overflow: OverflowPolicy;
  /** Values buffered beyond the credit before the overflow policy applies. */
  bufferSize: number;
  /** Return credit as the consumer takes values (demand.ts), not as they are delivered. */
  demand?: Demand | undefined;
}

interface PendingAsk {
  conn: Connection;
  /** The node the ask went to: only it (or the forwarding peer, with an error) answers. */
  node: string;
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
}

interface Served {
  conn: Connection;
  stream: OutboundStream;
}

interface Forwarded {
  back: Connection;
  fwd: Connection;
  /** Where the request went: `"node/actor"`. */
  to: string;
  requester: string;
  id: number;
  kind: 'ask' | 'sub';
}

const NODE_ID = /^[^/\s]{1,200}$/;

/** Routes one connection may teach (refs and forwarded senders naming nodes behind it). */
export const MAX_LEARNED_ROUTES = 1024;

/** A count from the wire (credit, buffer size) in min .. MAX_CREDIT, or undefined. */
function count(n: unknown, min: number): number | undefined {
  const v = wireInt(n);
  return v !== undefined && v >= min && v <= MAX_CREDIT ? v : undefined;
}

export class BusNode {
  private readonly direct = new Map<string, Connection>();
  /** Every connection not yet closed, including those still in their handshake. */
  private readonly all = new Set<Connection>();
  private readonly routes = new Map<string, Connection>();
  private readonly asks = new Map<number, PendingAsk>();
  private readonly inbound = new Map<number, InboundStream>();
  private readonly outbound = new Map<string, Served>();
  private readonly forwards = new Map<string, Forwarded>();
  private nextId = 1;
  private closing = false;

  /** Called when a connection completes its handshake. */
  onConnection: ((conn: Connection) => void) | undefined;
  /** Called when a connection that completed its handshake ends. */
  onDisconnect: ((conn: Connection, reason: CloseReason) => void) | undefined;

  constructor(
    readonly id: string,
    readonly name: string,
    private readonly host: LocalHost,
    private readonly options: BusOptions,
  ) {}

  /**
   * Runs the handshake on `link` and adds it as a connection. Closes the link on failure.
   * With `auth`, the peer must prove the shared secret (and we prove it to the peer, B.4).
   */
  async attach(link: Link, auth?: AuthConfig): Promise<Connection> {
    if (this.closing) {
      await link.close();
      throw new PeerGoneError(`system ${this.id} is stopping`);
    }
    // eslint-disable-next-line prefer-const
    let conn: Connection;
    const refs = {
      decodeRef: (node: string, actor: string): unknown => {
        if (node !== this.id) this.learn(node, conn);
        return this.host.makeRef(node, actor);
      },
    };
    conn = new Connection(link, this.id, this.name, refs, (c, e) => this.dispatch(c, e), this.options);
    conn.auth = auth;
    let registered = false;
    this.all.add(conn);
    void conn.closed.then((reason) => {
      this.all.delete(conn);
      this.onClosed(conn, reason, registered);
    });
    // Registered the moment the handshake completes, before the next frame of the same batch
    // is dispatched: a peer whose hello claims a connected node is refused before it can say
    // anything as that node, and a direct connection replaces any route learned for its node.
    conn.onReady = (hello) => {
      const existing = this.direct.get(hello.node);
      if (existing && existing.isOpen) return new ProtocolError(`node ${JSON.stringify(hello.node)} is already connected to ${this.id}`, 'ERR_DUPLICATE_NODE');
      registered = true;
      this.direct.set(hello.node, conn);
      this.routes.set(hello.node, conn);
      this.routesChanged++;
      return undefined;
    };
    try {
      await conn.handshake();
    } catch (err) {
      await link.close();
      throw err;
    }
    conn.startHeartbeat();
    watchLoss(conn, (err) => this.host.reportError(err, `connection to ${conn.peer}`));
    this.onConnection?.(conn);
    return conn;
  }

  /**
   * Refuses a link at once (a limit was reached): the peer gets a `bye` with code ERR_LIMIT
   * and `why` as its message (PROTOCOL.md B.7), then the link closes. Nothing else is touched.
   */
  async turnAway(link: Link, why: LimitError): Promise<void> {
    const conn = new Connection(link, this.id, this.name, { decodeRef: () => null }, () => {}, this.options);
    conn.fail(new ProtocolError(why.message, 'ERR_LIMIT', { cause: why }));
    await link.close();
  }

  /** The direct connection to `node`, if any. */
  connection(node: string): Connection | undefined {
    const c = this.direct.get(node);
    return c && c.isOpen ? c : undefined;
  }

  get connections(): Connection[] {
    return [...this.direct.values()].filter((c) => c.isOpen);
  }

  /** Says goodbye on every connection and closes them. Pending requests fail with PeerGoneError. */
  async close(): Promise<void> {
    this.closing = true;
    await Promise.all([...this.all].map((c) => c.close()));
  }

  // ---- requests this node makes ----

  tell(node: string, actor: string, message: string, args: unknown[]): void {
    this.routeTo(node).send({ type: MsgType.tell, id: 0, to: this.target(node, actor), from: this.id, payload: [message, args], hops: 0 });
  }

  ask(node: string, actor: string, message: string, args: unknown[], opts: AskOptions): Promise<unknown> {
    return new Promise<unknown>((resolve, reject) => {
      const { signal } = opts;
      if (signal?.aborted) {
        reject(signal.reason);
        return;
      }
      let conn: Connection;
      try {
        conn = this.routeTo(node);
      } catch (err) {
        reject(err);
        return;
      }
      const id = this.nextId++;
      const target = this.target(node, actor);
      const done = (): void => {
        this.asks.delete(id);
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
      };
      const onAbort = (): void => {
        done();
        reject(signal!.reason);
      };
      // Infinity: no deadline (the ask still ends if its connection does)
      const timer = Number.isFinite(opts.timeoutMs)
        ? setTimeout(() => {
            done();
            reject(new AskTimeoutError(target, message, opts.timeoutMs));
          }, opts.timeoutMs)
        : undefined;
      signal?.addEventListener('abort', onAbort, { once: true });
      this.asks.set(id, {
        conn,
        node,
        resolve: (v) => {
          done();
          resolve(v);
        },
        reject: (e) => {
          done();
          reject(e);
        },
      });
      try {
        conn.send({ type: MsgType.ask, id, to: target, from: this.id, payload: [message, args], hops: 0 });
      } catch (err) {
        done();
        reject(err);
      }
    });
  }

  /** A cold Observable: each subscription opens its own remote stream (or channel, with `input`). */
  stream(node: string, actor: string, name: string, args: unknown[], opts: StreamOptions, input?: Observable<unknown>): Observable<unknown> {
    return new Observable<unknown>((subscriber) => {
      let conn: Connection;
      try {
        conn = this.routeTo(node);
      } catch (err) {
        subscriber.error(err);
        return;
      }
      const id = this.nextId++;
      const target = this.target(node, actor);
      const s = new InboundStream(
        { conn, id, self: this.id, target, name, prefetch: opts.prefetch, overflow: opts.overflow, bufferSize: opts.bufferSize, sendStacks: this.options.sendStacks, onEnd: () => this.inbound.delete(id), demand: opts.demand },
        subscriber,
        input,
      );
      this.inbound.set(id, s);
      const req = { name, args, credit: opts.prefetch, channel: input !== undefined, overflow: opts.overflow, bufferSize: opts.bufferSize };
      try {
        conn.send({ type: MsgType.sub, id, to: target, from: this.id, payload: req, hops: 0 });
      } catch (err) {
        this.inbound.delete(id);
        subscriber.error(err);
        return;
      }
      s.startInput();
      return () => s.cancel();
    });
  }

  /** `"node/actor"` strings, one object per pair: a new string per message costs a hash per message downstream (AddressBytes). */
  private readonly targets = new Map<string, Map<string, string>>();

  private lastTarget = { node: '', actor: '', to: '' };

  private target(node: string, actor: string): string {
    const last = this.lastTarget;
    if (node === last.node && actor === last.actor) return last.to;
    const to = this.targetOf(node, actor);
    last.node = node;
    last.actor = actor;
    last.to = to;
    return to;
  }

  private targetOf(node: string, actor: string): string {
    let byActor = this.targets.get(node);
    if (byActor === undefined) {
      if (this.targets.size >= 1024) this.targets.clear(); // bounded, like every per-peer cache here
      this.targets.set(node, (byActor = new Map()));
    }
    let t = byActor.get(actor);
    if (t === undefined) {
      if (byActor.size >= 1024) byActor.clear();
      byActor.set(actor, (t = `${node}/${actor}`));
    }
    return t;
  }

  // ---- routing ----

  /** Counts changes to `routes`: the last route found stays good while it is unchanged. */
  private routesChanged = 0;
  private lastRoute: { node: string; conn: Connection; changes: number } | undefined;

  private routeTo(node: string): Connection {
    // a sender repeats one destination: the last route, while no route changed, without a lookup
    const last = this.lastRoute;
    if (last !== undefined && last.node === node && last.changes === this.routesChanged && last.conn.isOpen) return last.conn;
    const c = this.routes.get(node);
    if (c && c.isOpen) {
      this.lastRoute = { node, conn: c, changes: this.routesChanged };
      return c;
    }
    throw new PeerGoneError(this.closing ? `system ${this.id} is stopping` : `no connection to node ${JSON.stringify(node)} from ${this.id}`);
  }

  /** A ref to `node` arrived on `conn`: `conn` becomes its route unless one is bound (B.8). */
  private learn(node: string, conn: Connection): void {
    if (node === this.id || !NODE_ID.test(node) || !conn.isReady) return;
    const known = this.routes.get(node);
    if (!known || !known.isOpen) this.bind(node, conn);
  }

  /**
   * May `conn` carry a forwarded message from `node` toward our actors? Only if `node` is
   * not us and is bound to `conn`, or to nobody yet (then it is bound to `conn`: first come,
   * while `conn` is open). A node connected directly is bound to its own connection.
   */
  private vouch(conn: Connection, node: string): boolean {
    if (node === this.id) return false;
    const bound = this.routes.get(node);
    if (bound !== undefined && bound.isOpen) return bound === conn;
    return this.bind(node, conn);
  }

  /** Bindings a connection made without being that node: bounded, so a peer cannot grow `routes` at will. */
  private readonly learned = new Map<Connection, number>();

  private bind(node: string, conn: Connection): boolean {
    const n = this.learned.get(conn) ?? 0;
    if (n >= MAX_LEARNED_ROUTES) return false;
    this.learned.set(conn, n + 1);
    this.routes.set(node, conn);
    this.routesChanged++;
    return true;
  }

  /** A forwarded message whose `from` `conn` may not speak for: refused alone (ERR_BAD_ROUTE). */
  private refuseFrom(conn: Connection, env: Envelope): void {
    const why = `${conn.peer} forwarded ${MSG_NAMES[env.type]} ${env.id} from ${JSON.stringify(env.from)}, a node it does not route for`;
    if (env.type === MsgType.ask || env.type === MsgType.sub) this.answer(conn, env, MsgType.error, { name: 'ProtocolError', message: why, code: 'ERR_BAD_ROUTE' });
    else if (env.type === MsgType.tell) this.host.reportError(new ProtocolError(why, 'ERR_BAD_ROUTE'), `tell to ${env.to}`);
    // anything else (credit, cancel, channel input) is about a request conn never made: dropped
  }

  private dispatch(conn: Connection, env: Envelope): void {
    try {
      // the peer's own id was checked at its hello: only another node's id needs the check
      const foreign = env.from !== conn.peer;
      if (foreign && !NODE_ID.test(env.from)) throw new ProtocolError(`bad "from" ${JSON.stringify(env.from)}`, 'ERR_BAD_MESSAGE');
      if (env.to === '') throw new ProtocolError(`message type ${env.type} needs a "to"`, 'ERR_BAD_MESSAGE');
      // A message that was not forwarded must come from the peer that sent it: a peer may not
      // speak for another node.
      if (foreign && env.hops === 0) {
        throw new ProtocolError(`${conn.peer} sent a message claiming to be from ${JSON.stringify(env.from)}`, 'ERR_BAD_MESSAGE');
      }
      // request ids (B.1): a tell has none, an ask or sub has one of 1 .. 2^53-1
      if (env.type === MsgType.tell ? env.id !== 0 : env.id === 0 && (env.type === MsgType.ask || env.type === MsgType.sub)) {
        throw new ProtocolError(`${MSG_NAMES[env.type]} with id ${env.id}: a tell has id 0, an ask or sub an id from 1`, 'ERR_BAD_MESSAGE');
      }
      const { node, actor } = this.address(env.to);
      // A forwarded message toward an actor speaks for its `from`: only the connection bound to
      // that node may carry it (answers toward a node are checked against their request instead).
      // Unforwarded traffic, the hot path, never gets here: the one string compare above decided it.
      if (foreign && actor !== undefined && !this.vouch(conn, env.from)) {
        this.refuseFrom(conn, env);
        return;
      }
      if (env.refused !== undefined) this.refuse(conn, env, node, actor);
      else if (node !== this.id) this.forward(conn, env, node, actor);
      else if (actor !== undefined) this.serve(conn, env, actor);
      else this.settle(conn, env);
    } catch (err) {
      if (err instanceof ProtocolError) conn.fail(err);
      // anything else is our own failure handling one message: report it, keep the link
      else this.host.reportError(err, `handling message type ${env.type} id ${env.id} from ${env.from}`);
    }
  }

  /** The last `to` split (the same string object arrives again and again: EnvelopeReader caches address strings). */
  private lastTo = '';
  private lastSplit: { node: string; actor: string | undefined } = { node: '', actor: undefined };

  private address(to: string): { node: string; actor: string | undefined } {
    if (to !== this.lastTo) {
      this.lastSplit = splitAddress(to);
      this.lastTo = to;
    }
    return this.lastSplit;
  }

  /**
   * A message whose payload holds a value we refuse (PROTOCOL.md B.3): that message fails,
   * not the connection. A request is answered with an error ERR_BAD_VALUE (so exactly one
   * answer still ends an ask); an answer to our own request fails that request; a stream
   * value ends that stream (cancelled at the producer). Link-level messages (hello, ping,
   * bye, credit...) never carry such values honestly: those still close the connection.
   */
  private refuse(conn: Connection, env: Envelope, node: string, actor: string | undefined): void {
    const why = `${env.refused!} (in ${MSG_NAMES[env.type]} ${env.id} from ${env.from})`;
    const err = new ProtocolError(why, 'ERR_BAD_VALUE');
    const wire: WireError = { name: 'ProtocolError', message: why, code: 'ERR_BAD_VALUE' };
    if (actor !== undefined) {
      switch (env.type) {
        case MsgType.ask:
        case MsgType.sub:
          this.answer(conn, env, MsgType.error, wire);
          return;
        case MsgType.tell:
          this.host.reportError(err, `tell to ${env.to} from ${env.from}`);
          return;
        case MsgType.next:
        case MsgType.error:
          if (node === this.id) {
            // channel input we cannot read: the input errors, as if the consumer had failed it
            const served = this.outbound.get(`${env.from}\u0000${env.id}`);
            if (served && served.conn === conn) served.stream.input?.error(err);
            return;
          }
          break;
      }
    } else if (node === this.id) {
      const ask = this.asks.get(env.id);
      if (ask && ask.conn === conn && (env.type === MsgType.reply || env.type === MsgType.error)) {
        ask.reject(err);
        return;
      }
      const s = this.inbound.get(env.id);
      if (s && s.connection === conn && (env.type === MsgType.next || env.type === MsgType.error)) {
        s.refuse(err);
        return;
      }
      if (env.type === MsgType.reply || env.type === MsgType.next || env.type === MsgType.error) return; // for a request that has ended: ignored, as its valid answers would be
    } else if (env.type === MsgType.reply || env.type === MsgType.error) {
      // an answer passing through: it still answers, as an error the requester can read
      this.forwardAnswer(conn, { ...env, type: MsgType.error, payload: wire, refused: undefined }, false);
      return;
    }
    throw new ProtocolError(why, 'ERR_BAD_MESSAGE');
  }

  /** Sends without throwing; false if the connection is gone or the message cannot be sent. */
  private trySend(conn: Connection, env: Envelope): boolean {
    if (!conn.isOpen) return false;
    try {
      conn.send(env);
      return true;
    } catch {
      return false;
    }
  }

  // ---- requests this node serves (to = "self/actor") ----

  private serve(conn: Connection, env: Envelope, actor: string): void {
    switch (env.type) {
      case MsgType.tell: {
        const [message, args] = this.call(env);
        try {
          this.host.tell(actor, message, args, conn.inflow);
        } catch (err) {
          this.host.reportError(err, `tell ${JSON.stringify(message)} to ${actor} from ${env.from}`);
        }
        return;
      }
      case MsgType.ask: {
        const [message, args] = this.call(env);
        const inflow = conn.inflow;
        const limit = this.options.limits.pendingAsksPerPeer;
        if (inflow.asks >= limit) {
          this.answer(conn, env, MsgType.error, errorToWire(new LimitError('pendingAsksPerPeer', limit, `${env.from} has ${inflow.asks} asks unanswered at ${this.id}`), false));
          return;
        }
        inflow.asks++;
        let p: Promise<unknown>;
        try {
          p = this.host.ask(actor, message, args, inflow);
        } catch (err) {
          p = Promise.reject(err);
        }
        p.then(
          (v) => {
            inflow.asks--;
            this.answer(conn, env, MsgType.reply, v);
          },
          (e: unknown) => {
            inflow.asks--;
            this.answer(conn, env, MsgType.error, errorToWire(e, this.options.sendStacks));
          },
        );
        return;
      }
      case MsgType.sub: {
        const req = this.subRequest(env);
        const key = `${env.from}\u0000${env.id}`;
        if (this.outbound.has(key)) throw new ProtocolError(`duplicate stream id ${env.id} from ${env.from}`, 'ERR_BAD_MESSAGE');
        const inflow = conn.inflow;
        const limit = this.options.limits.streamsPerPeer;
        if (inflow.streams >= limit) {
          this.answer(conn, env, MsgType.error, errorToWire(new LimitError('streamsPerPeer', limit, `${env.from} has ${inflow.streams} streams open at ${this.id}`), false));
          return;
        }
        inflow.streams++;
        const stream = new OutboundStream(
          { conn, requester: env.from, id: env.id, self: this.id, sendStacks: this.options.sendStacks, onEnd: () => { inflow.streams--; this.outbound.delete(key); } },
          req,
        );
        this.outbound.set(key, { conn, stream });
        let p: Promise<StreamSource>;
        try {
          p = req.channel ? this.host.channel(actor, req.name, stream.input!.observable, req.args, inflow) : this.host.stream(actor, req.name, req.args, inflow);
        } catch (err) {
          p = Promise.reject(err);
        }
        p.then(
          (source) => stream.start(source),
          (e: unknown) => stream.fail(e),
        );
        return;
      }
    }
    // only messages about a stream need its key: a tell or ask never builds it
    const served = this.outbound.get(`${env.from}\u0000${env.id}`);
    if (served && served.conn !== conn) throw new ProtocolError(`stream ${env.id} of ${env.from} belongs to another connection`, 'ERR_BAD_MESSAGE');
    const s = served?.stream;
    switch (env.type) {
      case MsgType.credit: {
        const n = count(env.payload, 1);
        if (n === undefined) throw new ProtocolError(`credit must be an integer 1 .. ${MAX_CREDIT}`, 'ERR_BAD_MESSAGE');
        s?.addCredit(n);
        return;
      }
      case MsgType.cancel:
        s?.cancel();
        return;
      case MsgType.next:
        s?.input?.push(env.payload);
        return;
      case MsgType.complete:
        s?.input?.complete();
        return;
      case MsgType.error:
        s?.input?.error(errorFromWire(env.payload));
        return;
      default:
        throw new ProtocolError(`message type ${env.type} cannot be sent to an actor`, 'ERR_BAD_MESSAGE');
    }
  }

  private call(env: Envelope): [string, unknown[]] {
    const p = env.payload;
    if (!Array.isArray(p) || p.length !== 2 || typeof p[0] !== 'string' || !Array.isArray(p[1])) {
      throw new ProtocolError('tell/ask payload must be [message, args[]]', 'ERR_BAD_MESSAGE');
    }
    // checked to be exactly [message, args[]]: handed on as it is, no new pair per message
    return p as [string, unknown[]];
  }

  private subRequest(env: Envelope): SubRequest {
    const p = env.payload as Record<string, unknown> | null;
    const credit = p ? count(p.credit, 1) : undefined;
    const bufferSize = p ? count(p.bufferSize, 0) : undefined;
    if (
      typeof p !== 'object' || p === null || typeof p.name !== 'string' || !Array.isArray(p.args) || credit === undefined ||
      typeof p.channel !== 'boolean' || !OVERFLOW_POLICIES.includes(p.overflow as OverflowPolicy) || bufferSize === undefined
    ) {
      throw new ProtocolError(`sub payload must be {name, args[], credit 1..${MAX_CREDIT}, channel, overflow, bufferSize 0..${MAX_CREDIT}}`, 'ERR_BAD_MESSAGE');
    }
    return { name: p.name, args: p.args as unknown[], credit, channel: p.channel, overflow: p.overflow as OverflowPolicy, bufferSize };
  }

  /**
   * Sends a reply or error back over the connection the request came in on. Exactly one
   * answer leaves: if this one cannot be sent (it cannot be encoded, or it is larger than
   * the peer's maxFrame), the requester gets an error saying so (ERR_FRAME_TOO_LARGE with the
   * size, for a size), cut down until it fits: the peer's maxFrame is at least
   * MIN_PEER_MAX_FRAME, which holds the shortest error whatever the node ids.
   */
  private answer(conn: Connection, env: Envelope, type: MsgType, payload: unknown): void {
    if (!conn.isOpen) return;
    let failure: unknown;
    const reply = (p: unknown, t: MsgType): boolean => {
      try {
        // above the high-water mark: the peer is not reading its answers (inflow.ts)
        if (!conn.send({ type: t, id: env.id, to: env.from, from: this.id, payload: p, hops: 0 })) conn.inflow.backedUp();
        return true;
      } catch (err) {
        failure ??= err;
        return false;
      }
    };
    if (reply(payload, type)) return;
    const code = failure instanceof FrameTooLargeError ? 'ERR_FRAME_TOO_LARGE' : typeof (failure as { code?: unknown })?.code === 'string' ? (failure as { code: string }).code : 'ERR_BAD_VALUE';
    const what = type === MsgType.reply ? 'the answer' : 'the error answering it';
    const message =
      failure instanceof FrameTooLargeError
        ? `${what} to ${MSG_NAMES[env.type]} ${env.id} is ${failure.size} bytes, above the maxFrame of ${failure.maxFrame}`
        : `${what} to ${MSG_NAMES[env.type]} ${env.id} cannot be sent: ${failure instanceof Error ? failure.message : String(failure)}`;
    // no stack: what must fit is the error, not its provenance
    const name = failure instanceof Error ? failure.name : 'Error';
    if (reply({ name, message: message.slice(0, 1024), code }, MsgType.error)) return;
    if (reply({ name: 'Error', message: '', code }, MsgType.error)) return;
    // the connection is closing under us (or our own link's maxFrame is below the shortest error)
    this.host.reportError(failure, `answering ${MSG_NAMES[env.type]} ${env.id} from ${env.from}`);
  }

  // ---- answers to requests this node made (to = "self") ----

  private settle(conn: Connection, env: Envelope): void {
    // only the connection a request went out on may answer it
    // ... and only the node it went to (an error may come from a node on the way)
    const ask = this.asks.get(env.id);
    const ownAsk = ask && ask.conn === conn && (env.from === ask.node || env.type === MsgType.error) ? ask : undefined;
    const stream = ownAsk ? undefined : this.inbound.get(env.id);
    const s = stream && stream.connection === conn && this.answersFor(stream.target, env) ? stream : undefined;
    switch (env.type) {
      case MsgType.reply:
        ownAsk?.resolve(env.payload);
        return;
      case MsgType.error:
        if (ownAsk) ownAsk.reject(errorFromWire(env.payload));
        else s?.onError(errorFromWire(env.payload));
        return;
      case MsgType.next:
        s?.onNext(env.payload);
        return;
      case MsgType.complete:
        s?.onComplete();
        return;
      case MsgType.credit: {
        const n = count(env.payload, 1);
        if (n === undefined) throw new ProtocolError(`credit must be an integer 1 .. ${MAX_CREDIT}`, 'ERR_BAD_MESSAGE');
        s?.onInputCredit(n);
        return;
      }
      case MsgType.cancel:
        s?.onInputCancel();
        return;
      default:
        throw new ProtocolError(`message type ${env.type} cannot be sent to a node`, 'ERR_BAD_MESSAGE');
    }
  }

  /**
   * Is `env` (travelling back toward a requester, on the request's own connection) from the
   * node of `target` ("node/actor")? An `error` may come from any node on the path (a
   * forwarding node answers for a request it could not pass on). A string compare, no
   * allocation: stream values run through here.
   */
  private answersFor(target: string, env: Envelope): boolean {
    const from = env.from;
    return (target.length > from.length && target.charCodeAt(from.length) === 0x2f && target.startsWith(from)) || env.type === MsgType.error;
  }

  // ---- forwarding (to = another node) ----

  private forward(conn: Connection, env: Envelope, node: string, actor: string | undefined): void {
    const towardActor = actor !== undefined;
    const isRequest = env.type === MsgType.ask || env.type === MsgType.sub || env.type === MsgType.tell;
    if (!towardActor || !isRequest) {
      this.forwardAnswer(conn, env, towardActor);
      return;
    }
    const tracked = env.type !== MsgType.tell;
    if (!this.options.forward) {
      // policy (B.8): a peer reaches this node's actors, not those of its other peers
      const refused = `${this.id} does not forward: ${MSG_NAMES[env.type]} from ${env.from} to ${env.to} refused`;
      if (tracked) this.answer(conn, env, MsgType.error, { name: 'ProtocolError', message: refused, code: 'ERR_FORWARD_REFUSED' });
      else this.host.reportError(new ProtocolError(refused, 'ERR_FORWARD_REFUSED'), `forwarding a tell to ${env.to}`);
      return;
    }
    const key = `${env.from}\u0000${env.id}`;
    const target = this.routes.get(node);
    let why: string | undefined;
    if (env.hops + 1 > MAX_HOPS) why = `hop limit ${MAX_HOPS} reached`;
    else if (!target || !target.isOpen || target === conn) why = `no route from ${this.id} to node ${JSON.stringify(node)}`;
    else if (tracked && this.forwards.has(key)) why = `request ${env.id} of ${env.from} is already being forwarded`;
    if (why !== undefined || !target) {
      if (tracked) this.answer(conn, env, MsgType.error, { name: 'PeerGoneError', message: why, code: 'ERR_PEER_GONE' });
      else this.host.reportError(new PeerGoneError(why), `forwarding a tell to ${env.to}`);
      return;
    }
    if (tracked) this.forwards.set(key, { back: conn, fwd: target, to: env.to, requester: env.from, id: env.id, kind: env.type === MsgType.ask ? 'ask' : 'sub' });
    try {
      // the next hop is not taking what we forward: stop reading the peer that sends it
      if (!target.send({ ...env, hops: env.hops + 1 })) conn.inflow.backedUp(target.link);
    } catch (err) {
      // too big for the next hop's peer, say: fail this request, not the link it came on
      this.forwards.delete(key);
      if (tracked) this.answer(conn, env, MsgType.error, errorToWire(err, this.options.sendStacks));
      else this.host.reportError(err, `forwarding a tell to ${env.to}`);
    }
  }

  /**
   * Forwards a message about a request we forwarded: only along that request's path (toward
   * the actor if it came from the requester's side, back if it came from the actor's side),
   * so no other peer can answer, credit or cancel it. Anything else is dropped.
   */
  private forwardAnswer(conn: Connection, env: Envelope, towardActor: boolean): void {
    const requester = towardActor ? env.from : splitAddress(env.to).node;
    const key = `${requester}\u0000${env.id}`;
    const f = this.forwards.get(key);
    if (!f || (towardActor ? f.back : f.fwd) !== conn) return;
    if (!towardActor && !this.answersFor(f.to, env)) return;
    const ends = towardActor ? env.type === MsgType.cancel : env.type === MsgType.reply || env.type === MsgType.error || env.type === MsgType.complete;
    if (ends) this.forwards.delete(key);
    const next = { ...env, hops: env.hops + 1 };
    const out = towardActor ? f.fwd : f.back;
    if (towardActor || env.type === MsgType.complete) {
      this.trySend(out, next);
      return;
    }
    // An answer toward the requester that cannot pass (larger than the requester's maxFrame,
    // which the responder could not know): the requester still gets exactly one answer, an
    // error saying so; a stream value that cannot pass ends that stream (cancelled upstream).
    try {
      // a requester not reading its answers: stop reading the side that sends them
      if (out.isOpen && !out.send(next)) conn.inflow.backedUp(out.link);
    } catch (err) {
      if (env.type === MsgType.next) {
        this.forwards.delete(key);
        this.trySend(f.fwd, { type: MsgType.cancel, id: f.id, to: f.to, from: f.requester, payload: null, hops: 1 });
      }
      const code = err instanceof FrameTooLargeError ? 'ERR_FRAME_TOO_LARGE' : 'ERR_BAD_VALUE';
      const message =
        err instanceof FrameTooLargeError
          ? `${this.id} cannot forward ${MSG_NAMES[env.type]} ${env.id} from ${env.from}: ${err.size} bytes, above the maxFrame of ${err.maxFrame}`
          : `${this.id} cannot forward ${MSG_NAMES[env.type]} ${env.id} from ${env.from}: ${err instanceof Error ? err.message : String(err)}`;
      this.trySend(out, { type: MsgType.error, id: env.id, to: env.to, from: this.id, payload: { name: err instanceof FrameTooLargeError ? 'FrameTooLargeError' : 'Error', message, code }, hops: 1 });
    }
  }

  // ---- connection loss ----

  private onClosed(conn: Connection, reason: CloseReason, registered: boolean): void {
    if (registered && this.direct.get(conn.peer) === conn) this.direct.delete(conn.peer);
    for (const [node, c] of this.routes) if (c === conn) this.routes.delete(node);
    this.routesChanged++;
    this.learned.delete(conn);
    const peer = conn.peer || conn.link.remote;
    const gone = (): PeerGoneError =>
      new PeerGoneError(`connection from ${this.id} to ${peer} closed (${reason.kind}${reason.error ? `: ${reason.error.message}` : ''})`, { cause: reason.error });
    for (const a of [...this.asks.values()]) if (a.conn === conn) a.reject(gone());
    for (const s of [...this.inbound.values()]) if (s.connection === conn) s.onError(gone());
    for (const served of [...this.outbound.values()]) if (served.conn === conn) served.stream.cancel(gone());
    for (const [key, f] of [...this.forwards]) {
      if (f.fwd === conn) {
        this.forwards.delete(key);
        this.trySend(f.back, { type: MsgType.error, id: f.id, to: f.requester, from: this.id, payload: { name: 'PeerGoneError', message: `${this.id} lost its link toward ${f.to}`, code: 'ERR_PEER_GONE' }, hops: 1 });
      } else if (f.back === conn) {
        this.forwards.delete(key);
        if (f.kind === 'sub') this.trySend(f.fwd, { type: MsgType.cancel, id: f.id, to: f.to, from: f.requester, hops: 1, payload: null });
      }
    }
    // a peer that broke the protocol is worth a line in the operator's log (onError), not only
    // a rejected promise on our side: the refusal is the listener's to report (B.9)
    if (registered && reason.kind === 'protocol-error' && reason.error) this.host.reportError(reason.error, `connection to ${peer} closed`);
    if (registered) this.onDisconnect?.(conn, reason);
  }
}
