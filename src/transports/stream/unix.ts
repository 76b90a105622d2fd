/**
 * unix.ts: `unix:///path.sock`, a Unix-domain stream socket (perlipc "Unix-Domain TCP Clients
 * and Servers").
 *
 * The socket file is mode 0600 from its creation (bound under umask 0177) and is removed when the listener closes and when the process
 * exits (cleanup.ts), and only if the path still names that same socket: the socket is bound
 * natively and handed to Node as an fd, because libuv unlinks a path it bound itself when
 * the server closes, whatever file is at that path by then (a newer listener's, after ours
 * was removed under us). A file left by a crash is stale: listen() tries to connect to it; if
 * nobody answers (ECONNREFUSED) it is removed and replaced, if somebody does it is EADDRINUSE.
 * A path that exists but is not a socket is never touched.
 */
import { chmodSync } from 'node:fs';
import { createConnection } from 'node:net';
import { isMainThread } from 'node:worker_threads';
import { TransportError } from '../../errors.js';
import { native } from '../../native.js';
import { badAddress, pathOf } from '../core/address.js';
import { ownName, removeNowOrAtExit, unlinkQuiet } from '../core/cleanup.js';
import { handOver } from '../core/hand-over.js';
import { existingName, nameInUse, type NameKind } from '../core/stale-name.js';
import { dial, serve, socketLink, stopServer } from './net-stream.js';
import { resolveLinkOptions } from '../core/options.js';
import type { Link, LinkOptions, Listener, Transport } from '../core/transport.js';
import { DEFAULT_MAX_FRAME } from '../core/transport.js';

const capabilities = { reliable: true, ordered: true, crossHost: false } as const;
/** sun_path is 108 bytes on Linux, including the terminating NUL. */
const MAX_SOCKET_PATH = 107;

function socketPath(url: URL): string {
  const path = pathOf(url);
  if (Buffer.byteLength(path) > MAX_SOCKET_PATH) {
    throw badAddress(url.href, `a Unix socket path is at most ${MAX_SOCKET_PATH} bytes (this one is ${Buffer.byteLength(path)})`);
  }
  return path;
}

/** true if something accepts connections at `path`. */
function isLive(path: string): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const probe = createConnection({ path });
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', (err: NodeJS.ErrnoException) => {
      probe.destroy();
      if (err.code === 'ECONNREFUSED' || err.code === 'ENOENT') resolve(false);
      else reject(TransportError.fromNode(err, path));
    });
  });
}

const SOCKET: NameKind = { noun: 'a socket', is: (st) => st.isSocket() };

/** Removes a stale socket file at `path`, or fails if it is live or not a socket. */
async function reclaim(path: string, address: string): Promise<void> {
  if (existingName(path, address, SOCKET, 'bind') === null) return;
  if (await isLive(path)) throw nameInUse(address, path, 'bind');
  unlinkQuiet(path);
}

/**
 * Runs `bind` (a server.listen() on a path, which binds synchronously) with the umask at 0177,
 * so the socket file is born 0600: a chmod after bind leaves a window in which any local uid
 * could connect (seen under umask 000). The umask is the process's: it is restored before
 * any other JavaScript runs. Worker threads cannot set it; there the chmod after is all.
 */
function bindPrivately<T>(bind: () => T): T {
  if (!isMainThread) return bind();
  const old = process.umask(0o177);
  try {
    return bind();
  } finally {
    process.umask(old);
  }
}

export const unixTransport: Transport = {
  scheme: 'unix',
  capabilities: { ...capabilities, maxFrame: DEFAULT_MAX_FRAME },

  async listen(address: URL, onLink: (link: Link) => void, options?: LinkOptions): Promise<Listener> {
    const resolved = resolveLinkOptions(options);
    const path = socketPath(address);
    await reclaim(path, address.href);
    let n = 0;
    // bound here, not by libuv: see the header (a path libuv bound is unlinked on close)
    let fd: number;
    try {
      fd = bindPrivately(() => native.listenUnix(path, 511));
    } catch (err) {
      // the native bind names the path; the caller gave (and looks for) the address
      if (err instanceof TransportError && err.errno !== undefined) throw TransportError.fromErrno(err.errno, err.syscall ?? 'bind', address.href, err);
      throw err;
    }
    // ours from the bind on: removed on close, on a failure below, or at exit, and never a
    // file that a newer listener has put at the same path
    const removeName = removeNowOrAtExit(ownName(path));
    let server;
    try {
      server = await serve((s) => s.listen({ fd }), address.href, (socket) => {
        handOver(onLink, socketLink('unix', socket, `${address.href}#${++n}`, capabilities, resolved));
      });
    } catch (err) {
      // the failed server closed the fd with its handle; the name we bound is still ours
      removeName();
      throw err;
    }
    // Already 0600 where bindPrivately() could set the umask; in a worker thread (which may not
    // change the process's umask) this narrows it after the fact.
    try {
      chmodSync(path, 0o600);
    } catch (err) {
      server.close();
      removeName();
      throw TransportError.fromNode(err, address.href);
    }
    let closing: Promise<void> | undefined;
    return {
      address: new URL(`unix://${path}`),
      close() {
        // ownName() removes the socket file, and never one that a newer listener has put at
        // the same path after ours was removed.
        closing ??= stopServer(server).then(removeName);
        return closing;
      },
    };
  },

  async connect(address: URL, options?: LinkOptions): Promise<Link> {
    const resolved = resolveLinkOptions(options);
    const path = socketPath(address);
    const socket = await dial({ path }, address.href, resolved.timeoutMs);
    return socketLink('unix', socket, address.href, capabilities, resolved);
  },
};
