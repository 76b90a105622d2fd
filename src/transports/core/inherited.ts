/**
 * inherited.ts: what parent/child transports (pipe, socketpair, shm's pair) share: describing
 * the child's end (fds to pass as stdio slots 3, 4, ...), opening it back in the child
 * from an address such as `pipe:?fds=3,4`, and the listen() of a scheme that has no address.
 *
 * Invariants: the parent's copies of the child's fds are closed by ChildEnd.release() right
 * after spawn; until then they are O_CLOEXEC, so no other child inherits them. The child
 * takes an fd only once fstat shows it open and of the kind its slot expects.
 */
import { closeSync, fstatSync } from 'node:fs';
import { TransportError } from '../../errors.js';
import { badAddress, schemeOf } from './address.js';
import type { ChildEnd } from './transport.js';

/** The first stdio slot a child end occupies (0-2 are stdin, stdout, stderr). */
export const FIRST_CHILD_SLOT = 3;

/** The slots `count` inherited fds occupy, as `?fds=` lists them: `3,4`. */
function slotsFor(count: number): string {
  return Array.from({ length: count }, (_, i) => FIRST_CHILD_SLOT + i).join(',');
}

/**
 * Describes `fds` as a child end for `scheme`, at slots 3, 4, ...; `query` (e.g. `&spin=50us`)
 * carries the transport's own settings to the child.
 */
export function childEnd(scheme: string, fds: number[], query = ''): ChildEnd {
  let released = false;
  return {
    fds,
    address: `${scheme}:?fds=${slotsFor(fds.length)}${query}`,
    release() {
      if (released) return;
      released = true;
      for (const fd of fds) closeSync(fd);
    },
  };
}

/** What listen() gives for a parent/child-only scheme (pipe, socketpair): it has no address. */
export function nothingToListenOn(scheme: string): Promise<never> {
  return Promise.reject(
    new TransportError('ERR_UNSUPPORTED', `${scheme}: has nothing to listen on; make a pair with pair("${scheme}") and hand one end to a child`),
  );
}

/** What an inherited fd must be: a pipe end, a socket, or a shared-memory segment (a memfd). */
export type InheritedFdKind = 'fifo' | 'socket' | 'segment';

const KIND_NAME: Record<InheritedFdKind, string> = { fifo: 'a pipe', socket: 'a socket', segment: 'a shared-memory segment' };

/**
 * Reads one fd per entry of `kinds` from `scheme:?fds=a,b` and checks that each is an open fd
 * of its kind. `otherwise` names the scheme's other form (e.g. `names a listener: shm://name`)
 * for the error a bare `scheme:` gets.
 */
export function inheritedFds<const K extends readonly InheritedFdKind[]>(url: URL, kinds: K, otherwise?: string): { [I in keyof K]: number } {
  const count = kinds.length;
  const raw = url.searchParams.get('fds');
  const scheme = schemeOf(url);
  if (raw === null) {
    const or = otherwise === undefined ? '' : `, or ${otherwise}`;
    throw badAddress(url.href, `${scheme}: opens an end inherited from the parent, e.g. ${scheme}:?fds=${slotsFor(count)} (made by pair() / spawnWithLink)${or}`);
  }
  const parts = raw.split(',');
  if (parts.length !== count || !parts.every((p) => /^\d+$/.test(p))) {
    // Where the slots hold different kinds, say which goes where.
    const which = new Set(kinds).size > 1 ? ` (${kinds.join(', ')})` : '';
    throw badAddress(url.href, `${scheme}: wants ${count} fd number(s) in ?fds=${which}`);
  }
  const fds = parts.map(Number);
  fds.forEach((fd, i) => {
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
    const kind = kinds[i]!;
    const ok = kind === 'fifo' ? stat.isFIFO() : kind === 'socket' ? stat.isSocket() : stat.isFile();
    if (!ok) {
      throw new TransportError('ERR_BAD_FD', `${scheme}: fd ${fd} named by "${url.href}" is not ${KIND_NAME[kind]}`, {
        address: url.href,
      });
    }
  });
  return fds as { [I in keyof K]: number };
}
