/**
 * socket-fd.ts: the fd under a net.Socket, for the calls Node has no API for (SO_PEERCRED,
 * SCM_RIGHTS through the addon). Any transport that hands a socket to native code asks here.
 *
 * Invariant: a destroyed socket has no fd (-1), so a caller never passes a number the kernel
 * may already have given to something else.
 */
import type { Socket } from 'node:net';

/** The fd under a connected net.Socket, or -1 once it has none (destroyed). Linux, libuv pipes. */
export function fdOf(socket: Socket): number {
  // libuv keeps the fd on the handle; Node exposes no public accessor for it.
  const handle = (socket as unknown as { _handle?: { fd?: unknown } | null })._handle;
  return typeof handle?.fd === 'number' && handle.fd >= 0 ? handle.fd : -1;
}
