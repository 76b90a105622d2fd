/**
 * inherited.ts: what parent/child transports (pipe, socketpair) share: describing the child's end (fds to pass as stdio slots 3, 4, ...) and reading it
 * back in the child from an address such as `pipe:?fds=3,4`.
 *
 * Invariant: the parent's copies of the child's fds are closed by ChildEnd.release() right
 * after spawn; until then they are O_CLOEXEC, so no other child inherits them.
 */
import { closeSync, fstatSync } from 'node:fs';
import { TransportError } from '../../errors.js';
import { badAddress, schemeOf } from './address.js';
import type { ChildEnd } from './transport.js';

/** The first stdio slot a child end occupies (0-2 are stdin, stdout, stderr). */
export const FIRST_CHILD_SLOT = 3;

/** Describes `fds` as a child end for `scheme`, at slots 3, 4, ... */
export function childEnd(scheme: string, fds: number[]): ChildEnd {
  let released = false;
  const slots = fds.map((_, i) => FIRST_CHILD_SLOT + i);
  return {
    fds,
    address: `${scheme}:?fds=${slots.join(',')}`,
    release() {
      if (released) return;
      released = true;
      for (const fd of fds) closeSync(fd);
    },
  };
}

/** Reads `count` fds from `scheme:?fds=a,b` and checks that each is an open fd of `kind`. */
export function inheritedFds(url: URL, count: number, kind: 'fifo' | 'socket'): number[] {
  const raw = url.searchParams.get('fds');
  const scheme = schemeOf(url);
  if (raw === null) {
    throw badAddress(url.href, `${scheme}: opens an end inherited from the parent, e.g. ${scheme}:?fds=${count === 2 ? '3,4' : '3'} (made by pair() / spawnWithLink)`);
  }
  const parts = raw.split(',');
  if (parts.length !== count || !parts.every((p) => /^\d+$/.test(p))) {
    throw badAddress(url.href, `${scheme}: wants ${count} fd number(s) in ?fds=`);
  }
  const fds = parts.map(Number);
  for (const fd of fds) {
    let stat;
    try {
      stat = fstatSync(fd);
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      throw new TransportError(e.code ?? 'EBADF', `${scheme}: fd ${fd} named by "${url.href}" is not open in this process (was it inherited?)`, {
        errno: Math.abs(e.errno ?? 9),
        syscall: 'fstat',
        address: url.href,
        cause: err,
      });
    }
    const ok = kind === 'fifo' ? stat.isFIFO() : stat.isSocket();
    if (!ok) {
      throw new TransportError('ERR_BAD_FD', `${scheme}: fd ${fd} named by "${url.href}" is not a ${kind === 'fifo' ? 'pipe' : 'socket'}`, {
        address: url.href,
      });
    }
  }
  return fds;
}
