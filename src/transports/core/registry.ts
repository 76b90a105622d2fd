/**
 * registry.ts: scheme -> Transport, so that `connect(url)` and `listen(url)` pick the
 * transport from the address alone ("change the address, keep the code").
 *
 * The registry is a lookup table, not a mutable global choice: every call names its transport
 * through the URL. Built-in transports register themselves in builtin.ts; a user transport
 * registers with registerTransport() and then works everywhere an address is accepted.
 */
import { TransportError } from '../../errors.js';
import { parseAddress, schemeOf } from './address.js';
import type { Link, LinkOptions, LinkPair, Listener, Transport } from './transport.js';

const transports = new Map<string, Transport>();

/** Adds a transport. A scheme can be registered once. */
export function registerTransport(transport: Transport): void {
  if (transports.has(transport.scheme)) {
    throw new TransportError('ERR_DUPLICATE_SCHEME', `a transport for scheme "${transport.scheme}:" is already registered`);
  }
  transports.set(transport.scheme, transport);
}

/** The transport for `scheme`, or a TransportError naming the known schemes. */
export function getTransport(scheme: string): Transport {
  const t = transports.get(scheme.replace(/:$/, ''));
  if (!t) {
    throw new TransportError(
      'ERR_UNKNOWN_SCHEME',
      `no transport for scheme "${scheme}:" (known: ${[...transports.keys()].map((s) => `${s}:`).join(', ')})`,
      { address: scheme },
    );
  }
  return t;
}

/** Every registered transport, in registration order. */
export function listTransports(): Transport[] {
  return [...transports.values()];
}

/** Connects to `address` with the transport its scheme names. */
export function connect(address: string | URL, options?: LinkOptions): Promise<Link> {
  try {
    const url = parseAddress(address);
    return getTransport(schemeOf(url)).connect(url, options);
  } catch (err) {
    return Promise.reject(err);
  }
}

/** Listens at `address` with the transport its scheme names. */
export function listen(address: string | URL, onLink: (link: Link) => void, options?: LinkOptions): Promise<Listener> {
  try {
    const url = parseAddress(address);
    return getTransport(schemeOf(url)).listen(url, onLink, options);
  } catch (err) {
    return Promise.reject(err);
  }
}

/** Makes a parent/child pair with the named transport (`'pipe'` or `'socketpair'`). */
export function pair(scheme: string, options?: LinkOptions): Promise<LinkPair> {
  try {
    const t = getTransport(scheme);
    if (!t.pair) {
      throw new TransportError('ERR_UNSUPPORTED', `${t.scheme}: has no parent/child pairs; use listen() and connect()`);
    }
    return t.pair(options);
  } catch (err) {
    return Promise.reject(err);
  }
}
