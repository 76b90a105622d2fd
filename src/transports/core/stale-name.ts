/**
 * stale-name.ts: the rule for a listener whose path is already taken (unix sockets, FIFOs),
 * written once: something of another type at the path is never touched (EEXIST); a name a
 * live listener serves is EADDRINUSE; a name whose listener died is stale, and the caller
 * removes and replaces it. How a listener is found alive is each transport's own (a connect,
 * a non-blocking open), so that part stays with it.
 */
import { lstatSync, type Stats } from 'node:fs';
import { TransportError } from '../../errors.js';

/** The types of named object a listener leaves at a path. */
export interface NameKind {
  /** As the error says it: `a socket`, `a FIFO`. */
  noun: string;
  is(stat: Stats): boolean;
}

/**
 * What a new listener finds at `path`: null when nothing is there, else the object, which is
 * of `kind` (anything else throws EEXIST, from `syscall`, the call that would have made it).
 */
export function existingName(path: string, address: string, kind: NameKind, syscall: string): Stats | null {
  let stat: Stats;
  try {
    stat = lstatSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw TransportError.fromNode(err, address);
  }
  if (!kind.is(stat)) {
    throw new TransportError('EEXIST', `listen ${address}: ${path} exists and is not ${kind.noun}; not touching it`, {
      address,
      syscall,
      errno: 17,
    });
  }
  return stat;
}

/** The error for a name that a live listener serves (found so by `syscall`). */
export function nameInUse(address: string, path: string, syscall: string): TransportError {
  return new TransportError('EADDRINUSE', `listen ${address}: another process is listening on ${path}`, {
    address,
    syscall,
    errno: 98,
  });
}
