/**
 * closed-errors.ts: what calls on an ended Link throw or reject with, the same for every
 * transport (the contract in transport.ts: a TransportError).
 */
import { PeerGoneError, TransportError } from '../../errors.js';
import type { CloseReason } from './transport.js';

/**
 * What `drain()` on an ended link rejects with: the peer's going (PeerGoneError), or
 * ERR_LINK_CLOSED with the error that ended the link as its cause.
 */
export function linkClosedError(scheme: string, remote: string, reason: CloseReason | null): Error {
  if (reason?.kind === 'peer-gone') return reason.error ?? new PeerGoneError(`${scheme} peer is gone (${remote})`);
  return new TransportError('ERR_LINK_CLOSED', `${scheme} link is closed (${remote})`, {
    address: remote,
    ...(reason?.error ? { cause: reason.error } : {}),
  });
}

/** What `send()` on a link that is closing or ended throws: ERR_LINK_CLOSED, why as the cause. */
export function sendOnClosedError(scheme: string, remote: string, reason: CloseReason | null): TransportError {
  return new TransportError('ERR_LINK_CLOSED', `send on a closed ${scheme} link (${remote})`, {
    address: remote,
    ...(reason?.error ? { cause: reason.error } : {}),
  });
}
