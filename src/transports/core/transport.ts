/**
 * transport.ts: the contract every transport implements, and the only thing the layers above
 * (src/bus, src/actors) know about transports; and, below the public contract, the carrier
 * contract every transport's memory and syscalls are written to (see LinkCore, link-core.ts).
 *
 * A Link is an ordered (or, where `capabilities.reliable` is false, best-effort) duplex of
 * byte frames between two processes. Invariants every implementation keeps:
 * - Frames are delivered whole, in order, never merged or split, to the one handler
 *   (`onFrame`, or `onFrames` for a batch at a time). Reading starts when a handler is set,
 *   so no frame arrives before anyone listens.
 * - `send()` never blocks; `false` means "above the high-water mark, wait for `drain()`".
 *   The frame is queued, not lost, either way. `claim()`/`commit()` do the same for a frame
 *   written in place, in the link's own memory.
 * - `closed` always resolves (never rejects), exactly once, with why the link ended.
 *   EOF, EPIPE, ECONNRESET and peer death are all `peer-gone`; they never surface as an
 *   uncaught exception or a SIGPIPE death.
 * - After `close()` resolves, every OS object the link made (fds, FIFOs, socket files) is gone.
 */
/** What a link can promise. */
export interface LinkCapabilities {
  /** Frames are never lost while the link is open. */
  readonly reliable: boolean;
  /** Frames arrive in the order they were sent. */
  readonly ordered: boolean;
  /** The largest frame this link sends or accepts, in bytes. */
  readonly maxFrame: number;
  /** The transport can reach another machine. */
  readonly crossHost: boolean;
}

/**
 * Why a link ended.
 * - `closed`: this side called `close()`.
 * - `peer-gone`: the other side closed, died or reset the connection (a byte stream cannot
 *   tell a clean close from a crash; the bus's `bye` message does that one level up).
 * - `protocol-error`: the peer sent something invalid (for example a frame above `maxFrame`).
 * - `error`: a local failure, or an exception thrown by the `onFrame` handler.
 */
export type CloseKind = 'closed' | 'peer-gone' | 'protocol-error' | 'error';

export interface CloseReason {
  readonly kind: CloseKind;
  /** The error behind `protocol-error` and `error` (and the cause of a `peer-gone`, if known). */
  readonly error?: Error;
}

/**
 * Frame counters of a datagram or record link (udp, msgq, shm). Exact, never estimated: see
 * fragment.ts for how loss, reordering and duplicates are told apart.
 */
export interface LinkStats {
  /** Frames this side has sent (accepted by send()). */
  readonly sent: number;
  /** Frames delivered whole to the handler side (before any pause). */
  readonly received: number;
  /** Frames the peer sent that will never be delivered (missing or incomplete). */
  readonly lost: number;
  /** Of `lost`, frames of which some pieces had arrived. */
  readonly expired: number;
  /** Frames that completed after a frame the peer sent later. */
  readonly reordered: number;
  /** Pieces received twice, or for a frame already delivered or given up on. */
  readonly duplicates: number;
}

/** An established duplex of frames. */
export interface Link {
  /** The transport's scheme, e.g. `'tcp'`. */
  readonly scheme: string;
  readonly capabilities: LinkCapabilities;
  /** A description of the other end (address, path or fds), for logs and errors. */
  readonly remote: string;
  /**
   * Queues a frame. Returns `false` when the link's buffered bytes are above its high-water
   * mark: the frame is still queued, but the caller should wait for `drain()`.
   * The link may keep a reference to `frame` until it is written: do not modify it after.
   * @throws FrameTooLargeError if `frame` is above `capabilities.maxFrame` (the link stays open).
   * @throws TransportError if the link is closed.
   */
  send(frame: Uint8Array): boolean;
  /**
   * Sets the frame handler (one per link; a second call replaces the first) and starts reading.
   * The frame is valid during the call; copy it to keep it past the callback.
   * A handler that throws closes the link with kind `error`.
   */
  onFrame(handler: (frame: Uint8Array) => void): void;
  /**
   * (Every built-in link has onFrames, claim and commit; a user transport may leave them out.)
   * Sets a batch handler instead (one handler per link: this replaces `onFrame`'s, and the
   * reverse) and starts reading. A batch is valid during the call only, and is consumed
   * whole: a `pause()` inside the call takes effect from the next batch.
   */
  onFrames?(handler: (batch: FrameBatch) => void): void;
  /**
   * Claims room for one frame of at most `maxBytes` in the link's own memory (the batch slab,
   * the shm ring, a datagram), to be written in place and then sent with `commit()`: no copy
   * from a buffer of the caller's. Returns null when the link cannot give that room now (a
   * full ring; a frame larger than one record or datagram): use `send()`, which queues.
   * Until `commit()`, no other `send()` or `claim()` may run on this link.
   * @throws FrameTooLargeError if `maxBytes` is above `capabilities.maxFrame`.
   * @throws TransportError if the link is closed, or a claim is already open (ERR_CLAIM_OPEN).
   */
  claim?(maxBytes: number): Uint8Array | null;
  /**
   * Sends the claimed frame: its first `length` bytes (at most the claimed `maxBytes`). The
   * view claim() returned must not be used afterwards. Returns what `send()` would.
   * @throws TransportError (ERR_NO_CLAIM) without an open claim, RangeError for a bad length.
   */
  commit?(length: number): boolean;
  /** Stops delivering frames; the peer's sends then back up (its `send()` returns false). */
  pause(): void;
  /** Resumes delivery after `pause()`. */
  resume(): void;
  /** Bytes queued locally and not yet handed to the OS. */
  readonly bufferedAmount: number;
  /** Resolves when `bufferedAmount` is back under the high-water mark (at once if it is). */
  drain(): Promise<void>;
  /** Flushes queued frames (bounded by `lingerMs`), then releases every OS object. */
  close(): Promise<void>;
  /** Resolves once, when the link ends, with the reason. Never rejects. */
  readonly closed: Promise<CloseReason>;
  /** Frame counters, on transports that fragment (udp, msgq); absent on byte streams. */
  readonly stats?: LinkStats;
  /**
   * True when the link itself notices, within its transport's timeout, a peer that died or
   * ended the link without a word, with no traffic of its own while idle (nats with
   * per-process liveness, docs/PROTOCOL.md §9): the bus then sends no ping over it. Both ends
   * of a link say the same. Absent means false.
   */
  readonly ownLiveness?: boolean;
}

/**
 * Frames handed up together: frame i is `bytes.subarray(starts[i], starts[i] + lengths[i])`,
 * for i < count. Valid during the handler call only (the memory may be the shm ring, which
 * the peer reuses once the handler returns): copy what must outlive it.
 */
export interface FrameBatch {
  readonly bytes: Uint8Array;
  readonly starts: Int32Array | Float64Array;
  readonly lengths: Int32Array | Float64Array;
  readonly count: number;
}

/**
 * The carrier contract: what one transport supplies under LinkCore, which owns everything
 * else (state, `closed` and its reason, drain waiters, pause bookkeeping, linger, one finish
 * order, handler exceptions). In the spirit of Aeron's claim/commit: frames are written in
 * the carrier's own memory, never built elsewhere and copied in.
 *
 * Invariants a carrier keeps:
 * - Sending: `write()` and `claim()`/`commit()` only queue; bytes leave in `flush()`, which
 *   LinkCore calls once per tick after sends (so a tick's frames leave together), and which
 *   the carrier may also call itself when room appears (a ring's consumer moved, credit came).
 *   Whenever `bufferedAmount` falls, it calls `sink.drained()`.
 * - Receiving starts at `start()` and goes up through `sink.deliver()`/`sink.deliverBatch()`
 *   in order. While `sink.paused` (or when those return less than everything), the carrier
 *   holds the rest (in the kernel, the ring, or within the credit it granted) and hands it up
 *   after `resume()`. `holding` says whether anything received waits undelivered.
 * - Endings are reported, never acted on: the peer's end (EOF, BYE, death) is
 *   `sink.peerGone()`, reported after every frame the peer sent before it was handed up or
 *   held; a bad peer is `sink.fail('protocol-error', …)`; a local failure `sink.fail('error', …)`.
 *   LinkCore decides the order: held frames first, then the ending.
 * - `sink.peerGone()` may be repeated (for example once held frames are handed up); the link
 *   ends at the first report at which `holding` is false.
 * - `linger()` runs once, on `close()`: receiving stops (what arrives is read and dropped, so
 *   the peer never blocks on us), queued bytes are flushed, and it resolves when they are out
 *   and the transport's goodbye is done, or at `deadline` (ms since the epoch), whichever is
 *   first. LinkCore may stop waiting for it early (the peer went).
 * - `release()` runs exactly once, last: it frees every OS object the carrier owns (fds,
 *   mappings, names, threads) and resolves once they are gone; it never throws.
 */
export interface Carrier {
  /** Bytes accepted by write()/commit() and not yet handed to the OS or the peer. */
  readonly bufferedAmount: number;
  /** The memory claim() offsets point into. Read it after each claim(): it may change then. */
  readonly memory: Uint8Array;
  /** Whether frames received wait undelivered (behind a pause, or before start()). */
  readonly holding: boolean;
  /** Frame counters, on carriers that count them (datagram, record). */
  readonly stats?: LinkStats;
  /** Queues `frame` (which may be kept by reference until it is written). */
  write(frame: Uint8Array): void;
  /**
   * Reserves room for one frame of up to `maxBytes` (already checked against maxFrame):
   * returns the offset in `memory` where its payload goes, or -1 when it cannot be written in
   * place now. Nothing is visible to the peer before commit().
   */
  claim(maxBytes: number): number;
  /** Ends the open claim with a frame of `length` bytes (0 <= length <= maxBytes). */
  commit(length: number): void;
  /** Hands queued bytes to the OS or the peer, as far as they go now. */
  flush(): void;
  /** Starts reading (once, when the first handler is set). */
  start(): void;
  pause(): void;
  resume(): void;
  linger(deadline: number): Promise<void>;
  release(kind: CloseKind): Promise<void>;
}

/** What LinkCore gives its carrier: where frames and endings go. */
export interface CarrierSink {
  /** The application paused delivery (or no handler is set yet). */
  readonly paused: boolean;
  /** The link is no longer open (closing or ended): received frames are read and dropped. */
  readonly ending: boolean;
  /**
   * The application takes batches (`onFrames`): a carrier that can hand up a batch without
   * extra work per frame should then use deliverBatch(); otherwise deliver() is as fast.
   */
  readonly batching: boolean;
  /**
   * Hands up one frame (a view valid during the call). Returns false when the carrier must
   * stop and hold what follows: the handler paused, or the link ended.
   */
  deliver(frame: Uint8Array): boolean;
  /** Hands up a batch; returns how many of its frames were consumed (the rest: hold them). */
  deliverBatch(batch: FrameBatch): number;
  /** bufferedAmount fell: wakes drain() waiters once it is under the high-water mark. */
  drained(): void;
  /** The peer's end: after every frame it sent (delivered or held). */
  peerGone(error?: Error): void;
  /** The peer broke the protocol, or something failed here. */
  fail(kind: 'protocol-error' | 'error', error: Error): void;
}

/** Options accepted by every transport's `connect()`, `listen()` and `pair()`. */
export interface LinkOptions {
  /** Largest frame, in bytes, sent or accepted. Default 64 MiB. */
  maxFrame?: number;
  /** Bytes queued before `send()` returns false. Default 1 MiB. */
  highWaterMark?: number;
  /** How long `close()` waits to flush queued frames before it drops them. Default 2000 ms. */
  lingerMs?: number;
  /** How long `connect()` waits for the other side. Default 5000 ms. */
  timeoutMs?: number;
}

/** A bound listening endpoint. */
export interface Listener {
  /** The real address, e.g. `tcp://127.0.0.1:40123` after asking for port 0. */
  readonly address: URL;
  /**
   * Stops accepting and removes the listener's own OS objects (socket file, request FIFO).
   * Links it already handed out stay open; close them yourself.
   */
  close(): Promise<void>;
  /**
   * Present where the transport has a place to announce on (nats: the broker): from now until
   * close(), tells whoever watches that place (Transport.discover) that the owner described by
   * `describe()` (asked again for every announcement) is reachable at `address`.
   */
  announce?(describe: () => Announcement): void;
}

/** What a listener announces about its owner (an actor system). */
export interface Announcement {
  /** The system's node id. */
  readonly name: string;
  /** The names of the actors it hosts. */
  readonly actors: readonly string[];
}

/** A system that arrived, changed its actors, or departed, as seen where it announces. */
export interface DiscoveryEvent {
  readonly type: 'arrived' | 'updated' | 'departed';
  /** The system's node id. */
  readonly name: string;
  readonly actors: readonly string[];
  /** What to connect() to, to reach it. */
  readonly address: string;
  /** For `departed`: it said goodbye (`bye`), or its announcements stopped (`silent`). */
  readonly reason?: 'bye' | 'silent';
}

/** A running Transport.discover(); close() stops watching. */
export interface DiscoveryWatch {
  close(): Promise<void>;
}

/** A transport, addressed by URL scheme. */
export interface Transport {
  /** The URL scheme without the colon: `'unix'`, `'tcp'`... */
  readonly scheme: string;
  /** Static capabilities of this transport's links (maxFrame is the default). */
  readonly capabilities: LinkCapabilities;
  /** Listens at `address`; `onLink` is called for every accepted link. */
  listen(address: URL, onLink: (link: Link) => void, options?: LinkOptions): Promise<Listener>;
  /** Connects to `address`. For parent/child transports, opens the end a child inherited. */
  connect(address: URL, options?: LinkOptions): Promise<Link>;
  /** Present on parent/child transports (pipe, socketpair): makes a connected pair. */
  pair?(options?: LinkOptions): Promise<LinkPair>;
  /**
   * Present where listeners can announce (nats): watches `address` (the place, e.g.
   * `nats://host:port/prefix`) and reports every announcing system's arrival, change of
   * actors and departure to `onEvent`, until the watch is closed.
   */
  discover?(address: URL, onEvent: (event: DiscoveryEvent) => void): Promise<DiscoveryWatch>;
}

/**
 * One end of a parent/child pair, ready to be handed to a child process:
 * pass `fds` as extra stdio slots 3, 4, ... of `child_process.spawn`, and `address` to the
 * child (it calls `connect(address)`), then call `release()` right after spawning.
 */
export interface ChildEnd {
  /** The fds to inherit, in order, as stdio slots 3, 4, ... */
  readonly fds: readonly number[];
  /** The address the child connects to, naming the slots: e.g. `pipe:?fds=3,4`. */
  readonly address: string;
  /**
   * Closes this process's copies of the child's fds. Must run after spawn, or EOF never
   * arrives when the child dies (perlipc "Avoiding Pipe Deadlocks"). Idempotent.
   */
  release(): void;
}

export interface LinkPair {
  /** This process's end. */
  readonly link: Link;
  /** The end to hand to a child. */
  readonly child: ChildEnd;
}

/** Defaults shared by every transport. */
export const DEFAULT_MAX_FRAME = 64 * 1024 * 1024;
export const DEFAULT_HIGH_WATER_MARK = 1024 * 1024;
export const DEFAULT_LINGER_MS = 2000;
export const DEFAULT_TIMEOUT_MS = 5000;
/** The largest length a u32 prefix can carry. */
export const MAX_FRAME_LIMIT = 0xffff_ffff;
