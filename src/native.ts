/**
 * native.ts: the one loader of the compiled addon, and the typed declaration of its surface.
 *
 * Nothing outside src/transports imports this module. Arguments are validated by the
 * callers in TypeScript; the addon trusts them (positional, small, boring). Every failure
 * inside the addon is thrown as a {@link TransportError} built by makeTransportError.
 */
import { createRequire } from 'node:module';
import { makeTransportError } from './errors.js';

/** What msgctl(IPC_STAT) reports about a message queue. */
export interface MsgQueueStat {
  /** The queue's byte budget (msg_qbytes; msgmnb unless changed). */
  qbytes: number;
  /** Bytes in the queue now. */
  cbytes: number;
  /** Messages in the queue now. */
  qnum: number;
  /** Pid of the last msgsnd / msgrcv. */
  lspid: number;
  lrpid: number;
  /** Owner and creator uid; permission bits. */
  uid: number;
  cuid: number;
  mode: number;
}

/** A native thread blocking in msgrcv on one mtype of one queue. */
export interface MsgReceiver {
  /**
   * Asks the thread to end (it is woken by an empty message of its own mtype); `onEnd` follows.
   * Returns false if the wake-up could not be queued yet (queue full): call it again later.
   */
  stop(): boolean;
}

/**
 * Constants of the shm segment and of the record calls, from native/shm_ring.h (never copied
 * into TypeScript). The record format itself (headers, padding, the wrap) is native code's only.
 */
export interface ShmLayout {
  /** Bytes before the first ring's data (the control page). */
  readonly headerBytes: number;
  /** Bytes of a record header (u32 length, u32 flags), for sizing what fits in a ring. */
  readonly recordHeader: number;
  /** Record flags: a batch of length-prefixed frames, padding (never returned by read()), one fragment piece. */
  readonly flagData: number;
  readonly flagPadding: number;
  readonly flagPiece: number;
  /** Waiter event bits. */
  readonly eventData: number;
  readonly eventSpace: number;
  /** claim(): no room now. */
  readonly claimFull: number;
  /** claim(): the peer's consumer position cannot be right (the link ends as protocol-error). */
  readonly claimCorrupt: number;
  /** read(): a record (in `io`). */
  readonly readRecord: number;
  /** read(): nothing new. Below it: the ring is corrupt. */
  readonly readEmpty: number;
  /** The segment version this build writes and accepts. */
  readonly version: number;
}

/**
 * One process's side of a mapped shm segment, with its waiter thread. Send-ring positions
 * stay in native code; receive-ring positions are byte counts since the start of the ring
 * (never wrapped), relative to a base: see rebase(). See native/shm_ring.h.
 */
export interface ShmEndpoint {
  /** The whole mapping; detached (zero length) after close(). */
  readonly memory: ArrayBuffer;
  /** Extra results of claim() and read(): see there. */
  readonly io: Float64Array;
  /** Bytes of data per ring. */
  readonly capacity: number;
  /** Offset in `memory` of the ring this side writes. */
  readonly sendOffset: number;
  /** Offset in `memory` of the ring this side reads. */
  readonly receiveOffset: number;
  /**
   * Claims a region of the send ring for one record of `minBytes` to `maxBytes` payload bytes
   * (writing padding at the wrap if needed): returns the payload's offset in `memory`, and
   * `io[0]` = the bytes it may hold; or a negative code (shmLayout.claimFull, claimCorrupt,
   * or a caller bug). One claim at a time.
   */
  claim(minBytes: number, maxBytes: number): number;
  /** Ends the claim with a record of `length` bytes (0: none) and `flags`, and publishes it. 0, or a negative code. */
  commit(length: number, flags: number): number;
  /** Asks for an eventSpace once the send ring's consumer moves past what the last failed claim() saw. */
  wantSpace(): void;
  /**
   * The next record of the receive ring, checked: returns shmLayout.readRecord (then `io[0]`
   * = payload offset in `memory`, `io[1]` = length, `io[2]` = flags), readEmpty, or a negative
   * code for a corrupt ring. `io[3]` = the position after everything read (release up to it).
   */
  read(): number;
  /** Frees records below `position`; with `arm`, asks for an eventData when more arrive. Returns the producer position. */
  release(position: number, arm: boolean): number;
  /** The receive ring's producer position; with `seen`, yields the core once if it is still `seen`. */
  available(seen?: number): number;
  /**
   * Receive-ring positions given and returned from now on are `receiveDelta` lower. Keeps
   * them far below 2^53, where a double stops being exact.
   */
  rebase(receiveDelta: number): void;
  /** Joins the waiter thread, detaches `memory`, unmaps. Idempotent. */
  close(): void;
}

/** SO_PEERCRED: who is on the other end of a Unix socket, as the kernel saw it at connect/listen. */
export interface PeerCred {
  pid: number;
  uid: number;
  gid: number;
}

/** What arrived on a socket through receiveFd / connectReceiveFd. */
export interface ReceivedFd {
  /** The socket it came on (for connectReceiveFd: a new connected socket, now the caller's). */
  socket: number;
  /** The one data byte that carried it. */
  byte: number;
  /** The fd (O_CLOEXEC, the caller's), or -1 if the message did not carry exactly one. */
  fd: number;
}

/** The F_SEAL_* bits (fcntl(2)). */
export interface SealFlags {
  readonly seal: number;
  readonly shrink: number;
  readonly grow: number;
  readonly write: number;
}

/** The addon's exports. */
export interface NativeAddon {
  /**
   * Maps segment `fd` as `side` (0 creates the header, 1 attaches) and starts the waiter
   * thread, which calls `onEvents(mask)` on the JS thread once per batch.
   */
  ShmEndpoint: new (fd: number, side: 0 | 1, capacity: number, spinNs: number, onEvents: (events: number) => void) => ShmEndpoint;
  /** memfd_create(MFD_CLOEXEC) sized to `bytes`: an anonymous segment. */
  shmMemfd(bytes: number): number;
  /** shm_open: `bytes > 0` creates exclusively with mode 0600 and that size; 0 opens an existing one. */
  shmOpen(name: string, bytes: number): number;
  /** shm_unlink; false if the name was already gone. */
  shmUnlink(name: string): boolean;
  readonly shmLayout: ShmLayout;
  /** pipe2(O_CLOEXEC): `[readFd, writeFd]`. */
  pipe(): [number, number];
  /** socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC): two connected ends. */
  socketpair(): [number, number];
  /** mkfifo(path, mode), then chmod to exactly `mode` regardless of umask. */
  mkfifo(path: string, mode: number): void;
  /** Sets or clears FD_CLOEXEC. */
  setCloexec(fd: number, on: boolean): void;
  /** Sets or clears O_NONBLOCK. */
  setNonblock(fd: number, on: boolean): void;
  /**
   * A listening AF_UNIX stream socket bound to `path` ("\0..." for an abstract name, bound
   * with its exact length, unlike Node 20's own listen), non-blocking and CLOEXEC.
   */
  listenUnix(path: string, backlog: number): number;
  /** flock(LOCK_EX | LOCK_NB): true if taken, false if another open file holds a lock. */
  lockExclusive(fd: number): boolean;
  /** Sends one byte carrying `fd` (SCM_RIGHTS), non-blocking; false if the socket is full (try later). */
  sendFd(socket: number, fd: number, byte: number): boolean;
  /**
   * Waits on a pool thread (at most `timeoutMs`) for one byte and its fd on `socket`, which
   * nobody else may be reading meanwhile. The socket stays the caller's, whatever happens.
   */
  receiveFd(socket: number, timeoutMs: number, cb: (error: Error | null, received: ReceivedFd | null) => void): void;
  /**
   * Connects a new AF_UNIX stream socket to `path` ("\0..." for an abstract name) and waits
   * for one byte and its fd on it, on a pool thread, all within `timeoutMs`. On success the
   * socket is the caller's; on failure it is closed.
   */
  connectReceiveFd(path: string, timeoutMs: number, cb: (error: Error | null, received: ReceivedFd | null) => void): void;
  /** getsockopt(SO_PEERCRED). */
  peerCred(socket: number): PeerCred;
  /** fcntl(F_GET_SEALS); 0 for a file that cannot be sealed. */
  fdSeals(fd: number): number;
  readonly sealFlags: SealFlags;
  /** msgget(key, create ? IPC_CREAT|IPC_EXCL|mode : 0): the queue id. */
  msgget(key: number, create: boolean, mode: number): number;
  /** msgctl(IPC_STAT). */
  msgStat(msqid: number): MsgQueueStat;
  /** msgctl(IPC_RMID): removes the queue, waking every blocked sender and receiver (EIDRM). */
  msgRemove(msqid: number): void;
  /** msgsnd(IPC_NOWAIT) of `pieces[start..]` as messages of `mtype`, in order; returns how many went (stops at EAGAIN). */
  msgsndBatch(msqid: number, mtype: number, pieces: readonly Buffer[], start: number): number;
  /**
   * Sends copies of `pieces[start..]` from a pool thread, retrying while the queue is full;
   * gives up after `maxWaitMs` without progress. `cb(error, sent)`.
   */
  msgsndAsync(msqid: number, mtype: number, pieces: readonly Buffer[], start: number, maxWaitMs: number, cb: (error: Error | null, sent: number) => void): void;
  /** msgrcv(IPC_NOWAIT): one message of `mtype`, or null if there is none. */
  msgrcvNoWait(msqid: number, mtype: number, maxSize: number): Buffer | null;
  /**
   * Starts a thread receiving messages of `mtype`. `onBatch` gets records
   * `[u32 length, host order][payload]...`; `onEnd(errno)` runs once the thread has ended
   * (0 after stop(), EIDRM when the queue was removed).
   */
  MsgReceiver: new (msqid: number, mtype: number, maxSize: number, onBatch: (batch: Buffer) => void, onEnd: (errno: number) => void) => MsgReceiver;
  /** Registers the JS factory the addon uses for every error it throws. */
  setErrorFactory(factory: (errno: number, syscall: string, address: string) => Error): void;
}

function load(): NativeAddon {
  const require = createRequire(import.meta.url);
  // dist/src/native.js -> ../../build/Release; also try Debug for `node-gyp --debug` builds.
  // SWITCHYARD_ADDON names another build (e.g. the AddressSanitizer one of `npm run
  // test:native`), so the whole suite can run against it; unset, the normal build is used.
  const override = process.env.SWITCHYARD_ADDON;
  const candidates = override ? [override] : ['../../build/Release/switchyard.node', '../../build/Debug/switchyard.node'];
  let lastError: unknown;
  for (const path of candidates) {
    try {
      const addon = require(path) as NativeAddon;
      addon.setErrorFactory(makeTransportError);
      return addon;
    } catch (err) {
      lastError = err;
      if ((err as NodeJS.ErrnoException).code !== 'MODULE_NOT_FOUND') break;
    }
  }
  throw new Error(
    `switchyard: the native addon is not built (run \`npm install\` or \`npm run build:native\`): ${String(lastError)}`,
    { cause: lastError },
  );
}

/** The loaded addon (loaded once, on first import). */
export const native: NativeAddon = load();
