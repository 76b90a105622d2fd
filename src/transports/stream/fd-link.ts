/**
 * fd-link.ts: turns raw fds into a StreamLink, for the transports that make their own fds
 * (pipe, socketpair, fifo). Each fd is wrapped in a net.Socket that owns it from then on:
 * destroying the socket closes the fd, and nothing else may close it.
 */
import { Socket } from 'node:net';
import { StreamLink } from './stream-link.js';
import type { ResolvedLinkOptions } from '../core/options.js';
import type { Link, LinkCapabilities } from '../core/transport.js';

/** Wraps an fd in a net.Socket that owns it. */
export function socketFromFd(fd: number, mode: { readable: boolean; writable: boolean }): Socket {
  return new Socket({ fd, readable: mode.readable, writable: mode.writable, allowHalfOpen: false });
}

/**
 * A link that reads `readFd` and writes `writeFd`: one duplex socket when they are the same
 * fd (socketpair), two one-way sockets otherwise (pipes, FIFOs).
 */
export function fdLink(
  scheme: string,
  capabilities: Omit<LinkCapabilities, 'maxFrame'>,
  options: ResolvedLinkOptions,
  remote: string,
  readFd: number,
  writeFd: number,
): Link {
  const readable = socketFromFd(readFd, { readable: true, writable: readFd === writeFd });
  const writable = readFd === writeFd ? readable : socketFromFd(writeFd, { readable: false, writable: true });
  return new StreamLink({ scheme, remote, capabilities, options, readable, writable });
}
