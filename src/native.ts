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

/** The addon's exports. */
export interface NativeAddon {
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
  const candidates = ['../../build/Release/switchyard.node', '../../build/Debug/switchyard.node'];
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
