/**
 * wire-error.ts: how an error crosses the bus: as data, `{ name, message, code?, stack? }`,
 * never as a revived class. The stack is sent only when the sending system allows it
 * (`sendStacks`), because stacks leak paths and code structure to the peer.
 * On arrival, `ERR_PEER_GONE` becomes a PeerGoneError (a forwarding node lost the target),
 * everything else a RemoteError.
 */
import { PeerGoneError, RemoteError, SwitchyardError } from '../errors.js';

export interface WireError {
  name: string;
  message: string;
  code?: string;
  stack?: string;
}

const MAX_TEXT = 64 * 1024;

export function errorToWire(err: unknown, sendStacks: boolean): WireError {
  if (err instanceof Error) {
    const out: WireError = { name: err.name || 'Error', message: String(err.message).slice(0, MAX_TEXT) };
    const code = (err as { code?: unknown }).code;
    if (typeof code === 'string') out.code = code;
    if (sendStacks && typeof err.stack === 'string') out.stack = err.stack.slice(0, MAX_TEXT);
    return out;
  }
  return { name: 'Error', message: `non-Error value thrown: ${String(err).slice(0, 1000)}` };
}

export function errorFromWire(data: unknown): SwitchyardError {
  const d = (typeof data === 'object' && data !== null ? data : {}) as Record<string, unknown>;
  const name = typeof d.name === 'string' ? d.name : 'Error';
  const message = typeof d.message === 'string' ? d.message : 'remote error (no message)';
  const code = typeof d.code === 'string' ? d.code : undefined;
  if (code === 'ERR_PEER_GONE') return new PeerGoneError(message);
  return new RemoteError(name, message, code, typeof d.stack === 'string' ? d.stack : undefined);
}
