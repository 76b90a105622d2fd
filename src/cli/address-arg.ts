/**
 * address-arg.ts: an ADDRESS on the command line, checked before anything is opened: it
 * must parse and name a registered transport, else it is a usage error (exit 2). What a
 * transport cannot do with a valid address (pipe: has nothing to listen on) is its own
 * error, said when we try.
 */
import { getTransport, parseAddress, TransportError } from '../index.js';
import { UsageError } from './usage-error.js';

export function checkAddress(address: string): string {
  try {
    getTransport(parseAddress(address).protocol.replace(/:$/, ''));
  } catch (err) {
    if (err instanceof TransportError) throw new UsageError(err.message);
    throw err;
  }
  return address;
}
