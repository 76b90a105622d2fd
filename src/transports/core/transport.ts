/**
 * transport.ts: the contract every transport implements, and the only thing the layers above
 * (src/bus, src/actors) know about transports.
 *
 * A Link is an ordered (or, where `capabilities.reliable` is false, best-effort) duplex of
 * byte frames between two processes. Invariants every implementation keeps:
 * - Frames are delivered whole, in order, never merged or split, to the one `onFrame` handler.
 *   Reading starts when the handler is set, so no frame arrives before anyone listens.
 * - `send()` never blocks; `false` means "above the high-water mark, wait for `drain()`".
 *   The frame is queued, not lost, either way.
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
