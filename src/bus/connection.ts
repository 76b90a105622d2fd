/**
 * connection.ts: one bus connection over one Link: the hello handshake and version choice,
 * the shared-secret proofs when either side has a secret (auth.ts, protocol version 2),
 * envelope encoding and checked decoding, heartbeats (ping/pong), and the goodbye (bye).
 *
 * Owns its Link: the link is closed exactly once, by close() or fail() or when the peer goes.
 * Invariants:
 * - Nothing but `hello` (and `auth`, ping, pong, bye) is accepted before the handshake
 *   completes; anything else, or a malformed frame at any time, is a ProtocolError that
 *   closes this connection only. With a secret on either side, the handshake completes only
 *   once both sides proved it; a side without one never talks to a side that has one.
 * - `closed` resolves once, with the reason the connection ended (never rejects).
 * - A peer that sends nothing for 3 heartbeat periods is treated as gone (not while we
 *   hold its reading paused: that silence is ours; see inflow.ts). Over a link with its own
 *   liveness (`link.ownLiveness`, both ends say the same) neither side pings: the link ends.
 */
import { AuthError, BrokerQueueFullError, PeerGoneError, ProtocolError, TransportError } from '../errors.js';
import { AUTH_NONCE_BYTES, authProof, newNonce, proofMatches, type AuthConfig } from './auth.js';
import type { CloseReason, Link } from '../transports/core/transport.js';
import { badMessage, type RefDecoder } from './codec.js';
import { AddressBytes, EnvelopeReader, sendEnvelope, type SendLimits } from './envelope-frame.js';
import { MSG_NAMES, MsgType, PROTOCOL_VERSIONS, type Envelope } from './envelope.js';
import { Inflow } from './inflow.js';

export interface ConnectionOptions {
  /** Ping period; the peer is gone after 3 silent periods. 0 disables. Default 5000 ms. */
  heartbeatMs: number;
  /** How long to wait for the peer's hello. Default 5000 ms. */
  handshakeTimeoutMs: number;
  /** Bound on nesting in decoded messages. */
  maxDepth: number;
}

/** What a peer says about itself in its hello. */
export interface PeerHello {
  node: string;
  name: string;
  version: number;
}

const NODE_ID = /^[^/\s]{1,200}$/;

/** The smallest maxFrame a hello may announce: room for the longest header and a short error. */
export const MIN_PEER_MAX_FRAME = 4096;

export class Connection {
  readonly link: Link;
  /** The peer's node id, known once handshake() resolves. */
  peer = '';
  /** The protocol version both sides speak. */
  version = 0;
  readonly closed: Promise<CloseReason>;
  private resolveClosed!: (r: CloseReason) => void;
  private ended = false;
  private helloSeen = false;
  private lastRx = Date.now();
  private heartbeat: NodeJS.Timeout | undefined;
  private handshakeWaiter: { resolve: (h: PeerHello) => void; reject: (e: Error) => void } | undefined;
  private pingSeq = 0;
  private peerHello: PeerHello | undefined;
  /**
   * Called once, synchronously, when the handshake completes and before any later frame is
   * handled: the owner registers the peer there, or returns why it refuses it (sent as bye).
   */
  onReady: ((hello: PeerHello) => ProtocolError | undefined) | undefined;
  /** Set before handshake() to require (and present) the shared secret on this connection. */
  auth: AuthConfig | undefined;
  /** Our hello's nonce (version 2), fresh per connection. */
  private readonly nonce = newNonce();
  /** The peer's accepted hello and nonce while the proofs are exchanged. */
  private proving: { hello: PeerHello; peerNonce: Buffer; peerProof: Buffer } | undefined;
  /** The largest frame the peer accepts (from its hello); sending more would close the link. */
  private readonly limits: SendLimits;
  /** Our own control messages (hello, ping, pong, bye) are not held to the peer's maxFrame. */
  private readonly rawLimits: SendLimits;
  private readonly addresses = new AddressBytes();
  private readonly reader: EnvelopeReader;
  /** The Buffer view of the last batch's memory (a Uint8Array on shm), made once per memory. */
  private batchSource: Uint8Array | undefined;
  private batchBuffer: Buffer | undefined;
  /** What this peer has made us hold, and the pause of its reading that bounds it. */
  readonly inflow: Inflow;

  constructor(
    link: Link,
    private readonly self: string,
    private readonly selfName: string,
    private readonly refs: RefDecoder,
    private readonly onEnvelope: (conn: Connection, env: Envelope) => void,
    private readonly options: ConnectionOptions,
  ) {
    this.link = link;
    this.inflow = new Inflow(link, () => (this.lastRx = Date.now()));
    this.limits = { maxDepth: options.maxDepth, peerMaxFrame: Number.POSITIVE_INFINITY };
    this.rawLimits = { maxDepth: options.maxDepth, peerMaxFrame: Number.POSITIVE_INFINITY };
    this.reader = new EnvelopeReader(refs, options.maxDepth);
    this.closed = new Promise((r) => (this.resolveClosed = r));
    link.closed.then((reason) => this.finish(reason.kind === 'closed' ? reason : { kind: reason.kind, error: reason.error ?? new PeerGoneError(`link to ${link.remote} ended (${reason.kind})`) }));
  }

  /**
   * Starts reading the link. Not in the constructor: a link may hand over frames it holds the
   * moment a handler is set (a datagram link that got the peer's hello first), and the owner
   * must have set `auth` and `onReady` before the peer's hello is handled, or a hello could be
   * accepted without the secret's proof or without registering the peer. handshake() calls it.
   */
  private startReading(): void {
    const link = this.link;
    if (link.onFrames !== undefined) {
      // a batch per callback: one call and no view object per frame
      link.onFrames((batch) => {
        // a sign of life per batch, not a clock read per frame
        this.lastRx = Date.now();
        const src = this.bufferOf(batch.bytes);
        const { starts, lengths, count } = batch;
        for (let i = 0; i < count && !this.ended; i++) {
          const at = starts[i]!;
          this.receive(src, at, at + lengths[i]!);
        }
      });
    } else
      link.onFrame((frame) => {
        this.lastRx = Date.now();
        this.receive(this.bufferOf(frame), 0, frame.length);
      });
  }

  /** Sends our hello and resolves with the peer's, or rejects (and closes) on failure. */
  handshake(): Promise<PeerHello> {
    return new Promise<PeerHello>((resolve, reject) => {
      if (this.ended) {
        reject(new PeerGoneError(`connection to ${this.link.remote} closed before the handshake`));
        return;
      }
      const timer = setTimeout(() => {
        const err = new ProtocolError(`no hello from ${this.link.remote} within ${this.options.handshakeTimeoutMs} ms`, 'ERR_HANDSHAKE_TIMEOUT');
        this.fail(err);
      }, this.options.handshakeTimeoutMs);
      this.handshakeWaiter = {
        resolve: (h) => {
          clearTimeout(timer);
          resolve(h);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      try {
        const hello: Record<string, unknown> = { versions: PROTOCOL_VERSIONS, node: this.self, name: this.selfName, maxFrame: this.link.capabilities.maxFrame, nonce: this.nonce };
        if (this.auth) hello.auth = true;
        this.sendRaw({ type: MsgType.hello, id: 0, to: '', from: this.self, payload: hello, hops: 0 });
      } catch (err) {
        this.handshakeWaiter.reject(err as Error);
        this.abort({ kind: 'error', error: err as Error });
        return;
      }
      // after our hello: what the peer sent first (its hello, its proof) is answered in order
      this.startReading();
      if (this.peerHello) this.handshakeWaiter?.resolve(this.peerHello);
    });
  }

  /** Starts pings once the connection is in use. */
  startHeartbeat(): void {
    // A link with liveness of its own (nats: one message per process, not per link) tells us
    // of a gone peer itself; pinging over it would put traffic on every idle link.
    if (this.options.heartbeatMs <= 0 || this.ended || this.link.ownLiveness === true) return;
    this.heartbeat = setInterval(() => {
      if (!this.inflow.held && Date.now() - this.lastRx > 3 * this.options.heartbeatMs) {
        this.abort({ kind: 'peer-gone', error: new PeerGoneError(`no message from ${this.peer} for ${3 * this.options.heartbeatMs} ms (missed heartbeats)`) });
        return;
      }
      try {
        this.sendRaw({ type: MsgType.ping, id: ++this.pingSeq, to: '', from: this.self, payload: null, hops: 0 });
      } catch (err) {
        // The link holds all it may while its broker is away (nats): skip this ping; the
        // silence check above, and the link's own failover wait, still bound the outage.
        if (err instanceof BrokerQueueFullError) return;
        // A link that refuses even a ping (a user transport's own failure) ends this
        // connection; nothing may escape a timer.
        this.abort({ kind: 'error', error: err instanceof Error ? err : new Error(String(err)) });
      }
    }, this.options.heartbeatMs);
    this.heartbeat.unref();
  }

  get isOpen(): boolean {
    return !this.ended;
  }

  /** The handshake completed and the connection is open: the peer's node id is known. */
  get isReady(): boolean {
    return this.peerHello !== undefined && !this.ended;
  }

  /**
   * Encodes and sends one envelope. Returns the link's backpressure signal. Throws what the
   * codec throws for a value that cannot be encoded (nothing is sent then); sending on a
   * closed connection throws PeerGoneError.
   */
  send(env: Envelope): boolean {
    if (this.ended) throw new PeerGoneError(`connection to ${this.peer || this.link.remote} is closed`);
    try {
      return sendEnvelope(this.link, env, this.limits, this.addresses);
    } catch (err) {
      // The link ended a moment before its `closed` reached us: to a caller that is the
      // peer going, as it will be once `closed` arrives.
      if (err instanceof TransportError && err.code === 'ERR_LINK_CLOSED') {
        throw new PeerGoneError(`connection to ${this.peer || this.link.remote} is closed`, { cause: err });
      }
      throw err;
    }
  }

  /** Says goodbye and closes the link, flushing what is queued. */
  async close(): Promise<void> {
    if (!this.ended) {
      try {
        this.sendRaw({ type: MsgType.bye, id: 0, to: '', from: this.self, payload: null, hops: 0 });
      } catch {
        // the link is already going; closing is all that is left
      }
      this.finish({ kind: 'closed' });
    }
    await this.link.close();
  }

  /** Closes this connection because the peer broke the protocol. */
  fail(err: ProtocolError): void {
    if (this.ended) return;
    try {
      this.sendRaw({ type: MsgType.bye, id: 0, to: '', from: this.self, payload: { code: err.code, message: err.message }, hops: 0 });
    } catch {
      // nothing more to tell a link that is already closing
    }
    this.abort({ kind: 'protocol-error', error: err });
  }

  private abort(reason: CloseReason): void {
    this.finish(reason);
    void this.link.close();
  }

  private finish(reason: CloseReason): void {
    if (this.ended) return;
    this.ended = true;
    this.inflow.end();
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.handshakeWaiter?.reject(reason.error ?? new PeerGoneError(`connection to ${this.link.remote} closed during the handshake`));
    this.handshakeWaiter = undefined;
    this.resolveClosed(reason);
  }

  private sendRaw(env: Envelope): void {
    if (this.ended) return;
    try {
      sendEnvelope(this.link, env, this.rawLimits, this.addresses);
    } catch (err) {
      // The link ended a moment before its `closed` reaches us (a release takes a few ms):
      // `closed` tells this connection; a ping or pong from a timer has nowhere to go.
      if (!(err instanceof TransportError && err.code === 'ERR_LINK_CLOSED')) throw err;
    }
  }

  /**
   * msgpackr gives byte arrays the class of its source: a Buffer over the frame's memory
   * makes them Buffers on every transport (no copy; one view per memory, not per frame).
   */
  private bufferOf(bytes: Uint8Array): Buffer {
    if (Buffer.isBuffer(bytes)) return bytes;
    if (this.batchSource !== bytes) {
      this.batchSource = bytes;
      this.batchBuffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    }
    return this.batchBuffer!;
  }

  private receive(src: Buffer, start: number, end: number): void {
    if (this.ended) return;
    let env: Envelope;
    try {
      env = this.reader.read(src, start, end);
    } catch (err) {
      this.fail(err instanceof ProtocolError ? err : badMessage(err));
      return;
    }
    if (env.type === MsgType.hello || env.type === MsgType.ping || env.type === MsgType.pong || env.type === MsgType.bye || env.type === MsgType.auth) {
      // about this link only: never addressed, never forwarded (PROTOCOL.md B.2)
      if (env.to !== '' || env.hops !== 0) {
        this.fail(new ProtocolError(`${MSG_NAMES[env.type]} must have "to" "" and no hops`, env.type === MsgType.hello ? 'ERR_BAD_HELLO' : 'ERR_BAD_MESSAGE'));
        return;
      }
    }
    switch (env.type) {
      case MsgType.hello:
        this.onHello(env);
        return;
      case MsgType.ping:
        this.sendRaw({ type: MsgType.pong, id: env.id, to: '', from: this.self, payload: null, hops: 0 });
        return;
      case MsgType.pong:
        return;
      case MsgType.bye:
        this.onBye(env);
        return;
      case MsgType.auth:
        this.onAuth(env);
        return;
    }
    if (this.peerHello === undefined) {
      this.fail(new ProtocolError(this.helloSeen ? 'message before the authentication completed' : 'message before hello', 'ERR_BAD_MESSAGE'));
      return;
    }
    this.onEnvelope(this, env);
  }

  private onHello(env: Envelope): void {
    if (this.helloSeen) {
      this.fail(new ProtocolError('second hello on one connection', 'ERR_BAD_MESSAGE'));
      return;
    }
    const p = env.payload as { versions?: unknown; node?: unknown; name?: unknown; maxFrame?: unknown } | null;
    const versions = p && Array.isArray(p.versions) ? p.versions.filter((v): v is number => typeof v === 'number') : [];
    if (!p || typeof p.node !== 'string' || !NODE_ID.test(p.node)) {
      this.fail(new ProtocolError('hello must carry a node id of 1-200 characters without "/" or spaces', 'ERR_BAD_HELLO'));
      return;
    }
    if (env.id !== 0 || env.from !== p.node) {
      // one node id per hello, and it is the one the envelope names (PROTOCOL.md B.4)
      this.fail(new ProtocolError(`hello must have id 0 and "from" equal to its "node" (got id ${env.id}, from ${JSON.stringify(env.from)}, node ${JSON.stringify(p.node)})`, 'ERR_BAD_HELLO'));
      return;
    }
    const common = versions.filter((v) => PROTOCOL_VERSIONS.includes(v));
    if (common.length === 0) {
      this.fail(new ProtocolError(`no common protocol version: peer speaks [${versions.join(', ')}], we speak [${PROTOCOL_VERSIONS.join(', ')}]`, 'ERR_VERSION'));
      return;
    }
    if (p.node === this.self) {
      this.fail(new ProtocolError(`peer claims our own node id ${JSON.stringify(this.self)}`, 'ERR_DUPLICATE_NODE'));
      return;
    }
    this.helloSeen = true;
    if (p.maxFrame !== undefined) {
      // below this even the shortest error answering an ask might not fit, and an ask would
      // go unanswered (PROTOCOL.md B.4)
      if (typeof p.maxFrame !== 'number' || !Number.isSafeInteger(p.maxFrame) || p.maxFrame < MIN_PEER_MAX_FRAME) {
        this.fail(new ProtocolError(`hello "maxFrame" must be an integer of at least ${MIN_PEER_MAX_FRAME}, got ${String(p.maxFrame)}`, 'ERR_BAD_HELLO'));
        return;
      }
      this.limits.peerMaxFrame = p.maxFrame;
    }
    this.peer = p.node;
    this.version = Math.max(...common);
    const hello = { node: p.node, name: typeof p.name === 'string' ? p.name : p.node, version: this.version };
    const pp = p as { nonce?: unknown; auth?: unknown };
    if (this.version >= 2 && !(pp.nonce instanceof Uint8Array && pp.nonce.length === AUTH_NONCE_BYTES)) {
      this.fail(new ProtocolError(`a version 2 hello must carry a "nonce" of ${AUTH_NONCE_BYTES} bytes (bin)`, 'ERR_BAD_HELLO'));
      return;
    }
    if (pp.auth !== undefined && typeof pp.auth !== 'boolean') {
      this.fail(new ProtocolError('hello "auth" must be a boolean', 'ERR_BAD_HELLO'));
      return;
    }
    const peerAuth = pp.auth === true;
    if (this.auth || peerAuth) {
      this.startProofs(hello, peerAuth, pp.nonce as Uint8Array | undefined, versions);
      return;
    }
    this.ready(hello);
  }

  /**
   * Both sides must hold the secret if either does (B.4). The client proves first, as soon as
   * it has the server's nonce; the server answers with its own proof only after checking the
   * client's, so it never proves anything to a side that has not.
   */
  private startProofs(hello: PeerHello, peerAuth: boolean, peerNonce: Uint8Array | undefined, versions: number[]): void {
    const auth = this.auth;
    if (auth === undefined) {
      this.fail(new AuthError(`${hello.node} requires a shared secret, and this side has none`));
      return;
    }
    if (this.version < 2 || peerNonce === undefined) {
      this.fail(new ProtocolError(`this side requires authentication, which needs protocol version 2; ${hello.node} speaks [${versions.join(', ')}]`, 'ERR_VERSION'));
      return;
    }
    if (!peerAuth) {
      this.fail(new AuthError(`${hello.node} did not authenticate: this side requires the shared secret`));
      return;
    }
    const nonce = Buffer.from(peerNonce);
    const client = auth.role === 'client';
    const [cn, sn, cNode, sNode] = client ? [this.nonce, nonce, this.self, hello.node] : [nonce, this.nonce, hello.node, this.self];
    this.proving = { hello, peerNonce: nonce, peerProof: authProof(auth.secret, client ? 'server' : 'client', cn, sn, cNode, sNode) };
    if (client) this.sendProof(authProof(auth.secret, 'client', cn, sn, cNode, sNode));
  }

  private sendProof(proof: Buffer): void {
    this.sendRaw({ type: MsgType.auth, id: 0, to: '', from: this.self, payload: { proof }, hops: 0 });
  }

  private onAuth(env: Envelope): void {
    const proving = this.proving;
    if (proving === undefined || this.auth === undefined) {
      this.fail(new ProtocolError(this.peerHello ? 'a second auth on one connection' : 'auth out of place: before hello, or on a connection without a secret', 'ERR_BAD_MESSAGE'));
      return;
    }
    if (env.id !== 0 || env.from !== proving.hello.node) {
      this.fail(new ProtocolError('auth must have id 0 and "from" equal to the hello\'s node', 'ERR_BAD_MESSAGE'));
      return;
    }
    const p = env.payload as { proof?: unknown } | null;
    if (!proofMatches(proving.peerProof, p?.proof)) {
      this.fail(new AuthError(`${proving.hello.node} failed authentication: wrong secret, or a replayed handshake`));
      return;
    }
    this.proving = undefined;
    if (this.auth.role === 'server') {
      const { hello, peerNonce } = proving;
      this.sendProof(authProof(this.auth.secret, 'server', peerNonce, this.nonce, hello.node, this.self));
    }
    this.ready(proving.hello);
  }

  /** The handshake is complete: the owner registers the peer (or refuses it), then the waiter resolves. */
  private ready(hello: PeerHello): void {
    if (this.ended) return;
    const refusal = this.onReady?.(hello);
    if (refusal !== undefined) {
      this.fail(refusal);
      return;
    }
    this.peerHello = hello;
    const waiter = this.handshakeWaiter;
    this.handshakeWaiter = undefined;
    waiter?.resolve(this.peerHello);
  }

  private onBye(env: Envelope): void {
    const p = env.payload as { code?: unknown; message?: unknown } | null;
    const why = p && typeof p.message === 'string' ? `: ${p.code ?? ''} ${p.message}` : '';
    if (p?.code === 'ERR_AUTH' && this.peerHello === undefined) {
      // refused in the handshake for the secret: the caller's connect() fails with AuthError
      this.abort({ kind: 'protocol-error', error: new AuthError(`${this.peer || this.link.remote} refused the connection${why}`) });
      return;
    }
    this.abort({ kind: 'peer-gone', error: new PeerGoneError(`${this.peer || this.link.remote} said goodbye${why}`) });
  }
}
