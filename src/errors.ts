/**
 * errors.ts: every error switchyard throws or reports, as named classes with a stable `code`.
 *
 * Callers branch on `instanceof` or `code`, never on message text. The native addon builds
 * its errors through {@link makeTransportError}, so failures from C++ are `TransportError`s
 * too. Bus-level errors (asks, remote errors) are added by the bus layer beside these.
 */
import { getSystemErrorName } from 'node:util';
import { strerror } from './strerror.js';

/** Base class of every switchyard error. */
export class SwitchyardError extends Error {
  /** A stable, machine-readable code such as `'ERR_FRAME_TOO_LARGE'` or `'ENOENT'`. */
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** Details a {@link TransportError} may carry. */
export interface TransportErrorDetails {
  /** The positive errno value, when a syscall failed. */
  errno?: number;
  /** The syscall that failed (`'open'`, `'connect'`, `'mkfifo'`...). */
  syscall?: string;
  /** The address or path involved. */
  address?: string;
  cause?: unknown;
}

/**
 * A transport could not do what was asked: a bad address, a failed syscall, a peer that
 * never appeared. `code` is the errno name (`'ENOENT'`) when a syscall failed, else an
 * `ERR_*` code such as `'ERR_BAD_ADDRESS'`.
 */
export class TransportError extends SwitchyardError {
  readonly errno?: number;
  readonly syscall?: string;
  readonly address?: string;
  constructor(code: string, message: string, details: TransportErrorDetails = {}) {
    super(code, message, details.cause === undefined ? undefined : { cause: details.cause });
    if (details.errno !== undefined) this.errno = details.errno;
    if (details.syscall !== undefined) this.syscall = details.syscall;
    if (details.address !== undefined) this.address = details.address;
  }

  /** Builds the error for a failed syscall. `errno` is positive (as in C). */
  static fromErrno(errno: number, syscall: string, address?: string, cause?: unknown): TransportError {
    let code: string;
    try {
      code = getSystemErrorName(-errno);
    } catch {
      code = `E${errno}`;
    }
    const where = address ? ` ${address}` : '';
    return new TransportError(code, `${syscall}${where} failed: ${code} (${strerror(code)})`, {
      errno,
      syscall,
      ...(address ? { address } : {}),
      cause,
    });
  }

  /**
   * Wraps an error thrown by Node's own APIs (which carry `errno` negative, `code`,
   * `syscall`) so that callers see one error type from every transport.
   */
  static fromNode(err: unknown, address?: string): TransportError {
    if (err instanceof TransportError) return err;
    const e = err as NodeJS.ErrnoException;
    if (e && typeof e.errno === 'number' && typeof e.syscall === 'string') {
      return TransportError.fromErrno(Math.abs(e.errno), e.syscall, address ?? e.path, err);
    }
    const msg = e instanceof Error ? e.message : String(err);
    return new TransportError(e?.code ?? 'ERR_TRANSPORT', address ? `${msg} (${address})` : msg, {
      ...(address ? { address } : {}),
      cause: err,
    });
  }
}

/** Bad input from a peer: a malformed frame or a protocol violation. Closes that one link. */
export class ProtocolError extends SwitchyardError {
  constructor(message: string, code = 'ERR_PROTOCOL', options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

/** A frame longer than the link's `maxFrame`, sent or announced by a peer. */
export class FrameTooLargeError extends ProtocolError {
  readonly size: number;
  readonly maxFrame: number;
  constructor(size: number, maxFrame: number, direction: 'send' | 'receive') {
    super(
      direction === 'receive'
        ? `peer announced a frame of ${size} bytes, above this link's maxFrame of ${maxFrame}`
        : `frame of ${size} bytes is above this link's maxFrame of ${maxFrame}`,
      'ERR_FRAME_TOO_LARGE',
    );
    this.size = size;
    this.maxFrame = maxFrame;
  }
}

/** The other side of a link went away (EOF, reset, EPIPE, death). */
export class PeerGoneError extends SwitchyardError {
  constructor(message = 'peer is gone', options?: { cause?: unknown }) {
    super('ERR_PEER_GONE', message, options);
  }
}

/** Used by src/native.ts as the addon's error factory. */
export function makeTransportError(errno: number, syscall: string, address: string): TransportError {
  return TransportError.fromErrno(errno, syscall, address || undefined);
}

/** An ask got no reply within its timeout. */
export class AskTimeoutError extends SwitchyardError {
  /** The actor address (`node/actor`) and message that timed out. */
  readonly target: string;
  readonly timeoutMs: number;
  constructor(target: string, message: string, timeoutMs: number) {
    super('ERR_ASK_TIMEOUT', `ask ${JSON.stringify(message)} to ${target} got no reply within ${timeoutMs} ms`);
    this.target = target;
    this.timeoutMs = timeoutMs;
  }
}

/**
 * An error raised on the far side of the bus (a handler threw, a stream errored, an actor
 * or message does not exist), rebuilt here from its wire form. `code` is the remote error's
 * code when it had one (`'ERR_NO_ACTOR'`...), else `'ERR_REMOTE'`.
 */
export class RemoteError extends SwitchyardError {
  /** The remote error's `name` (e.g. `'TypeError'`). */
  readonly remoteName: string;
  /** The remote stack, only when the remote system was started with `sendStacks: true`. */
  readonly remoteStack?: string;
  constructor(remoteName: string, message: string, code = 'ERR_REMOTE', remoteStack?: string) {
    super(code, message);
    this.remoteName = remoteName;
    if (remoteStack !== undefined) this.remoteStack = remoteStack;
  }
}

/** A stream's producer-side buffer overflowed under the `'error'` overflow policy. */
export class StreamOverflowError extends SwitchyardError {
  constructor(stream: string, bufferSize: number) {
    super('ERR_STREAM_OVERFLOW', `stream ${JSON.stringify(stream)} produced more than ${bufferSize} values beyond the consumer's credit`);
  }
}

/**
 * A supervised child (or its whole supervisor) gave up: it restarted more often than its
 * restart intensity allows, or it could not be started at all. Calls waiting for it reject
 * with this error, and its `status$` ends with a `failed` event carrying it.
 */
export class ChildFailedError extends SwitchyardError {
  /** The child's name. */
  readonly child: string;
  constructor(child: string, why: string, options?: { cause?: unknown }) {
    super('ERR_CHILD_FAILED', `child ${JSON.stringify(child)} failed: ${why}`, options);
    this.child = child;
  }
}

/** A tell to a supervised child that is down found its hold queue full (see `maxQueued`). */
export class ChildQueueFullError extends SwitchyardError {
  readonly child: string;
  readonly limit: number;
  constructor(child: string, limit: number) {
    super('ERR_CHILD_QUEUE_FULL', `child ${JSON.stringify(child)} is down and already holds ${limit} tells (maxQueued)`);
    this.child = child;
    this.limit = limit;
  }
}

/**
 * The bus handshake's shared-secret check failed (PROTOCOL.md B.4): a wrong or missing
 * secret on either side, a peer that requires one we do not have, or a replayed handshake.
 * The connection is closed; the secret itself is never in the message.
 */
export class AuthError extends ProtocolError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, 'ERR_AUTH', options);
  }
}

/**
 * A value that cannot cross to another process, refused at the sender before anything is
 * sent: a function or a Symbol (nothing on the far side could run or recreate it), or an
 * object with more than 65,535 own keys (the MessagePack map header the bus writes). Only the
 * call that tried to send it fails. `path` says where in the encoded value the offending part
 * is (`value[1][0].onDone`: for a tell or ask, `value[1]` is the arguments array).
 */
export class BadValueError extends SwitchyardError {
  /** Where the offending part sits, from `value` (the whole payload). */
  readonly path: string;
  constructor(what: string, path: string) {
    super('ERR_BAD_VALUE', `value cannot be sent: ${what} at ${path}`);
    this.path = path;
  }
}

/**
 * A system was asked to listen on an address reachable from other hosts (tcp, udp or nats
 * off loopback) without a shared secret: pass `secret`, or `insecure: true` to accept the risk.
 */
export class InsecureListenError extends SwitchyardError {
  readonly address: string;
  constructor(address: string) {
    super('ERR_INSECURE', `refusing to listen on ${address} without a secret: it is reachable from other hosts (give the system a secret, or pass insecure: true)`);
    this.address = address;
  }
}

/**
 * A link's peer kept incomplete frames (pieces of frames it never finished) while the
 * process's budget for them was spent: the link holding the most incomplete frames (then the
 * most bytes) is closed with this error
 * and its incomplete frames are counted lost (PROTOCOL.md §4). `held` is what that link
 * held, `limit` the process-wide budget (`setMaxPartialFrameBytes`).
 */
export class PartialFramesError extends ProtocolError {
  readonly held: number;
  readonly limit: number;
  constructor(held: number, limit: number) {
    super(`peer holds ${held} bytes of incomplete frames while this process's budget of ${limit} bytes for them is spent; closing the link that holds the most incomplete frames`, 'ERR_PARTIAL_FRAMES');
    this.held = held;
    this.limit = limit;
  }
}

/**
 * A tell or ask from this process found the local actor's mailbox full (its `limit`, default
 * 10,000 waiting messages): the message was not queued. Remote senders are not refused but
 * slowed: the link feeding the mailbox is paused until it drains.
 */
export class MailboxFullError extends SwitchyardError {
  readonly actor: string;
  readonly limit: number;
  constructor(actor: string, limit: number) {
    super('ERR_MAILBOX_FULL', `actor ${JSON.stringify(actor)} already has ${limit} messages waiting (mailbox limit)`);
    this.actor = actor;
    this.limit = limit;
  }
}

/**
 * A limit on what one peer may make this system hold was reached (`limit` names it:
 * `'pendingAsksPerPeer'`, `'streamsPerPeer'`, `'linksPerListener'`): that request, or that
 * connection, is refused; everything else carries on. A peer sees code `ERR_LIMIT`.
 */
export class LimitError extends SwitchyardError {
  readonly limit: string;
  readonly value: number;
  constructor(limit: string, value: number, what: string) {
    super('ERR_LIMIT', `${what}: limit ${limit} of ${value} reached`);
    this.limit = limit;
    this.value = value;
  }
}

/**
 * A send on a link whose broker connection is down (nats: the client lost its server and is
 * reconnecting) found the link's hold queue full: `limit` bytes of frames already wait for the
 * connection to come back (the address's `hold=`). Only this send fails; the link stays.
 */
export class BrokerQueueFullError extends SwitchyardError {
  /** The link's remote address. */
  readonly address: string;
  readonly limit: number;
  constructor(address: string, limit: number) {
    super('ERR_BROKER_QUEUE_FULL', `${address}: the broker connection is down and the link already holds ${limit} bytes for it (hold=)`);
    this.address = address;
    this.limit = limit;
  }
}

/**
 * A best-effort link (udp, nats, msgq's pieces) counted frames from the peer that will never
 * arrive (`link.stats.lost` grew): what they carried (tells, asks, answers, stream items) is
 * gone. Reported to the system's `onError`, at most once a second per connection, with the
 * frames lost since the last report; the connection stays open. An ask among them is
 * answered by its timeout; a stream among them may have a gap or wait for credit.
 */
export class FramesLostError extends SwitchyardError {
  /** The peer's node id. */
  readonly peer: string;
  /** Frames lost since the last report. */
  readonly lost: number;
  /** Frames lost on this connection's link so far. */
  readonly total: number;
  constructor(peer: string, remote: string, lost: number, total: number) {
    super('ERR_FRAMES_LOST', `${lost} frame(s) from ${peer} were lost on the way (${remote}; ${total} on this link so far): what they carried will not arrive`);
    this.peer = peer;
    this.lost = lost;
    this.total = total;
  }
}
