/**
 * fifo.ts: `fifo:///dir/name`, named pipes between unrelated processes (perlipc "Named Pipes").
 *
 * A FIFO has no sessions, so the listener owns a well-known *request FIFO* at the path, and
 * every client makes its own pair next to it and announces it there:
 *
 *   <path>                      request FIFO (listener reads; it also holds a writer of its own
 *                               open so the FIFO never reads EOF between clients)
 *   <path>.<pid>.<id>.up        client -> listener
 *   <path>.<pid>.<id>.down      listener -> client
 *
 * Handshake (every open is O_NONBLOCK and retried with a deadline; nothing ever blocks a
 * thread, and a FIFO is never read before its writer exists, which would read as EOF):
 *   client: mkfifo .up/.down (0600); open .down for reading; write "<pid>.<id>\n" to the
 *           request FIFO (one write < PIPE_BUF, so it is atomic among many clients)
 *   server: open .up for reading; open .down for writing; write HELLO on .down
 *   client: open .up for writing (succeeds: the server reads it); write HELLO on .up;
 *           read HELLO from .down (now the server's writer is known to exist);
 *           unlink .up and .down: both sides hold both, so the names are no longer needed
 *   server: read HELLO from .up; hand out the link
 * Each side then wraps its two fds in net.Sockets. Death of either side is EOF on the other's
 * read FIFO (and EPIPE on its write FIFO): `peer-gone`.
 *
 * Client names are untrusted: they are opened with O_NOFOLLOW and must be FIFOs of our uid
 * (fstat), or that one handshake fails and the names are left to their owner; nothing is ever
 * written into a file a client planted there.
 *
 * Names left by a crash are reclaimed: a request FIFO with no reader is stale and replaced on
 * listen (a live one is EADDRINUSE); client FIFOs whose pid is dead are removed on listen.
 */
import { closeSync, constants, fstatSync, lstatSync, openSync, readdirSync, readSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { Socket } from 'node:net';
import { randomBytes } from 'node:crypto';
import { TransportError } from '../../errors.js';
import { native } from '../../native.js';
import { pathOf } from '../core/address.js';
import { ownName, removeNowOrAtExit, unlinkQuiet } from '../core/cleanup.js';
import { handOver } from '../core/hand-over.js';
import { existingName, nameInUse, type NameKind } from '../core/stale-name.js';
import { pidAlive } from '../core/pid-alive.js';
import { fdLink, socketFromFd } from './fd-link.js';
import { resolveLinkOptions } from '../core/options.js';
import type { Link, LinkOptions, Listener, Transport } from '../core/transport.js';
import { DEFAULT_MAX_FRAME } from '../core/transport.js';

const capabilities = { reliable: true, ordered: true, crossHost: false } as const;
const MODE = 0o600;
const HELLO = 0x53; // 'S'
/** Longest announcement line we accept; real ones are ~20 bytes, all far below PIPE_BUF. */
const MAX_ANNOUNCE = 64;
const ANNOUNCE = /^(\d+)\.([0-9a-f]{16})$/;

const { O_RDONLY, O_WRONLY, O_NONBLOCK, O_NOFOLLOW } = constants;

/**
 * Retries `attempt` (which returns undefined for "not yet") until it yields, the deadline
 * passes, or `signal` aborts (the listener closed).
 */
async function retry<T>(deadline: number, signal: AbortSignal | undefined, attempt: () => T | undefined, onTimeout: () => Error): Promise<T> {
  let delay = 1;
  for (;;) {
    if (signal?.aborted) throw new TransportError('ERR_LISTENER_CLOSED', 'the fifo listener closed during the handshake');
    const result = attempt();
    if (result !== undefined) return result;
    if (Date.now() >= deadline) throw onTimeout();
    await new Promise((r) => setTimeout(r, delay));
    delay = Math.min(delay * 2, 20);
  }
}

/**
 * open(path, flags | O_NONBLOCK | O_NOFOLLOW); `undefined` on the errnos that mean "other side
 * not there yet". Never follows a symlink: a FIFO path is a name another process may have
 * planted (ELOOP then fails that handshake).
 */
function tryOpen(path: string, flags: number, address: string, retryable: readonly string[]): number | undefined {
  try {
    return openSync(path, flags | O_NONBLOCK | O_NOFOLLOW);
  } catch (err) {
    if (retryable.includes((err as NodeJS.ErrnoException).code ?? '')) return undefined;
    throw TransportError.fromNode(err, address);
  }
}

/** Reads the 1-byte HELLO without blocking; `undefined` until it arrives (EOF = no writer yet). */
function tryReadHello(fd: number, address: string): true | undefined {
  const b = Buffer.alloc(1);
  try {
    const n = readSync(fd, b, 0, 1, null);
    if (n === 0) return undefined;
    if (b[0] !== HELLO) throw new TransportError('ERR_PROTOCOL', `fifo handshake on ${address}: expected HELLO, got byte ${b[0]}`, { address });
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EAGAIN') return undefined;
    throw TransportError.fromNode(err, address);
  }
}

/**
 * Checks that `fd` is a FIFO owned by our uid: a client's .up/.down path may hold a regular
 * file or a device a local process put there to make us write into it (and non-FIFO fds
 * cannot become sockets). Throws ERR_NOT_A_FIFO for that one handshake.
 */
function checkFifo(fd: number, path: string, address: string): void {
  const st = fstatSync(fd);
  if (!st.isFIFO() || st.uid !== process.geteuid!()) {
    throw new TransportError('ERR_NOT_A_FIFO', `fifo ${address}: ${path} is not a FIFO of uid ${process.geteuid!()} (a ${st.isFIFO() ? 'FIFO' : 'non-FIFO'} of uid ${st.uid})`, { address });
  }
}

/** Removes a client's name only if it is a FIFO of ours: never another process's file. */
function removeOurFifo(path: string): void {
  try {
    const st = lstatSync(path);
    if (st.isFIFO() && st.uid === process.geteuid!()) removeQuiet(path);
  } catch {
    // gone already
  }
}

/** Removes a name during cleanup, where a failure must not turn into an unhandled rejection. */
function removeQuiet(path: string): void {
  try {
    unlinkQuiet(path);
  } catch {
    // Not ours to remove (EPERM in a sticky directory...): the sweep on listen will judge it.
  }
}

function closeQuiet(fd: number | undefined): void {
  if (fd === undefined) return;
  try {
    closeSync(fd);
  } catch {
    // Already closed: nothing to release.
  }
}

function timeoutError(address: string, what: string, ms: number): TransportError {
  return new TransportError('ETIMEDOUT', `fifo ${address}: ${what} within ${ms} ms`, { address });
}

/** Removes client FIFOs next to `path` whose creator is dead. */
function sweepStaleClients(path: string): void {
  const prefix = `${basename(path)}.`;
  let names: string[];
  try {
    names = readdirSync(dirname(path));
  } catch {
    return;
  }
  for (const name of names) {
    if (!name.startsWith(prefix)) continue;
    const m = /^(\d+)\.[0-9a-f]{16}\.(up|down)$/.exec(name.slice(prefix.length));
    if (m && !pidAlive(Number(m[1]))) unlinkQuiet(join(dirname(path), name));
  }
}

const FIFO: NameKind = { noun: 'a FIFO', is: (st) => st.isFIFO() };

/** Makes the request FIFO at `path`, replacing a stale one; EADDRINUSE if one is served. */
function claimRequestFifo(path: string, address: string): void {
  if (existingName(path, address, FIFO, 'mkfifo') !== null) {
    const probe = tryOpen(path, O_WRONLY, address, ['ENXIO']);
    if (probe !== undefined) {
      closeSync(probe);
      throw nameInUse(address, path, 'open');
    }
    unlinkQuiet(path); // no reader: left by a listener that died
  }
  native.mkfifo(path, MODE);
}

export const fifoTransport: Transport = {
  scheme: 'fifo',
  capabilities: { ...capabilities, maxFrame: DEFAULT_MAX_FRAME },

  async listen(address: URL, onLink: (link: Link) => void, options?: LinkOptions): Promise<Listener> {
    const resolved = resolveLinkOptions(options);
    const timeoutMs = resolved.timeoutMs;
    const path = pathOf(address);
    const href = address.href;
    claimRequestFifo(path, href);
    const removeName = removeNowOrAtExit(ownName(path));
    sweepStaleClients(path);

    let readFd: number | undefined;
    let keepAlive: number | undefined;
    try {
      readFd = openSync(path, O_RDONLY | O_NONBLOCK);
      keepAlive = openSync(path, O_WRONLY | O_NONBLOCK);
    } catch (err) {
      closeQuiet(readFd);
      removeName();
      throw TransportError.fromNode(err, href);
    }
    const requests: Socket = socketFromFd(readFd, { readable: true, writable: false });
    const abort = new AbortController();
    const jobs = new Set<Promise<void>>();
    let partial = '';

    const accept = async (base: string): Promise<void> => {
      const deadline = Date.now() + timeoutMs;
      let up: number | undefined;
      let down: number | undefined;
      try {
        up = tryOpen(`${base}.up`, O_RDONLY, href, []);
        checkFifo(up!, `${base}.up`, href);
        down = await retry(deadline, abort.signal, () => tryOpen(`${base}.down`, O_WRONLY, href, ['ENXIO']), () =>
          timeoutError(href, 'client did not open its .down FIFO', timeoutMs),
        );
        checkFifo(down, `${base}.down`, href);
        writeSync(down, Buffer.of(HELLO));
        const upFd = up;
        await retry(deadline, abort.signal, () => tryReadHello(upFd!, href), () =>
          timeoutError(href, 'client did not answer the handshake', timeoutMs),
        );
      } catch {
        // A client that vanished mid-handshake costs only its own FIFOs; the listener goes on.
        closeQuiet(up);
        closeQuiet(down);
        removeOurFifo(`${base}.up`);
        removeOurFifo(`${base}.down`);
        return;
      }
      let link: Link;
      try {
        link = fdLink('fifo', capabilities, resolved, `${href} (${basename(base)})`, up!, down);
      } catch {
        closeQuiet(up);
        closeQuiet(down);
        return;
      }
      // From here the sockets own the fds: a throwing onLink closes the link, never the fds.
      handOver(onLink, link);
    };

    requests.setEncoding('latin1');
    requests.on('data', (text: string) => {
      partial += text;
      let nl: number;
      while ((nl = partial.indexOf('\n')) >= 0) {
        const line = partial.slice(0, nl);
        partial = partial.slice(nl + 1);
        // Only names we could have made: the id cannot point outside the listener's directory.
        if (ANNOUNCE.test(line) && !abort.signal.aborted) {
          const job = accept(`${path}.${line}`);
          jobs.add(job);
          void job.finally(() => jobs.delete(job));
        }
      }
      if (partial.length > MAX_ANNOUNCE) partial = ''; // garbage from a stray writer
    });
    requests.on('error', () => {});

    let closing: Promise<void> | undefined;
    return {
      address: new URL(`fifo://${path}`),
      close() {
        closing ??= (async () => {
          abort.abort();
          closeQuiet(keepAlive);
          if (!requests.closed) {
            await new Promise<void>((resolve) => {
              requests.once('close', () => resolve());
              requests.destroy();
            });
          }
          await Promise.allSettled([...jobs]); // handshakes in flight release their FIFOs
          removeName();
        })();
        return closing;
      },
    };
  },

  async connect(address: URL, options?: LinkOptions): Promise<Link> {
    const resolved = resolveLinkOptions(options);
    const timeoutMs = resolved.timeoutMs;
    const path = pathOf(address);
    const href = address.href;
    const deadline = Date.now() + timeoutMs;
    const id = `${process.pid}.${randomBytes(8).toString('hex')}`;
    const base = `${path}.${id}`;
    let down: number | undefined;
    let up: number | undefined;
    // the pair is only needed for the handshake: removed when it ends, or at exit if it never does
    const removePair = removeNowOrAtExit(() => {
      removeQuiet(`${base}.up`);
      removeQuiet(`${base}.down`);
    });
    try {
      // Fail fast with a clear error if there is no FIFO at the path at all.
      try {
        if (!lstatSync(path).isFIFO()) throw new TransportError('ERR_BAD_ADDRESS', `connect ${href}: ${path} is not a FIFO`, { address: href });
      } catch (err) {
        if (err instanceof TransportError) throw err;
        throw new TransportError('ENOENT', `connect ${href}: no FIFO at ${path} (is a listener running?)`, {
          address: href,
          errno: 2,
          syscall: 'stat',
          cause: err,
        });
      }
      native.mkfifo(`${base}.up`, MODE);
      native.mkfifo(`${base}.down`, MODE);
      down = openSync(`${base}.down`, O_RDONLY | O_NONBLOCK | O_NOFOLLOW);
      checkFifo(down, `${base}.down`, href);
      const request = await retry(deadline, undefined, () => tryOpen(path, O_WRONLY, href, ['ENXIO']), () =>
        new TransportError('ECONNREFUSED', `connect ${href}: nobody is listening on ${path} (waited ${timeoutMs} ms)`, {
          address: href,
          errno: 111,
        }),
      );
      try {
        writeSync(request, `${id}\n`);
      } finally {
        closeSync(request);
      }
      up = await retry(deadline, undefined, () => tryOpen(`${base}.up`, O_WRONLY, href, ['ENXIO']), () =>
        timeoutError(href, 'the listener did not answer', timeoutMs),
      );
      checkFifo(up, `${base}.up`, href);
      writeSync(up, Buffer.of(HELLO));
      await retry(deadline, undefined, () => tryReadHello(down!, href), () => timeoutError(href, 'the listener did not finish the handshake', timeoutMs));
    } catch (err) {
      closeQuiet(up);
      closeQuiet(down);
      throw TransportError.fromNode(err, href); // a TransportError passes through unchanged
    } finally {
      removePair();
    }
    return fdLink('fifo', capabilities, resolved, href, down, up);
  },
};
