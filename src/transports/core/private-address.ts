/**
 * private-address.ts: a fresh listen address for an addressed transport, private to one
 * directory the caller owns (a 0700 temp dir): one table for the tests, the bench and
 * spawned children, so a new transport is added in one place.
 *
 * Invariants: path-named objects (unix sockets, FIFOs) live inside `dir`; numbered ones ask
 * the OS for a free number (port 0, msgq key 0) and the listener reports what it took; shm
 * names (a flat namespace) carry the pid and the dir's unique suffix, so two processes or two
 * dirs never collide. `tag` keeps two listeners in one dir apart. nats listeners take a random
 * name under `switchyard` on the server SWITCHYARD_NATS_URL names (default 127.0.0.1:4222).
 */
import { basename } from 'node:path';
import { TransportError } from '../../errors.js';

const PRIVATE_ADDRESS: Record<string, (dir: string, tag: string) => string> = {
  unix: (dir, tag) => `unix://${dir}/${tag}.sock`,
  fifo: (dir, tag) => `fifo://${dir}/${tag}`,
  tcp: () => 'tcp://127.0.0.1:0',
  udp: () => 'udp://127.0.0.1:0',
  msgq: () => 'msgq://0',
  nats: () => `${process.env.SWITCHYARD_NATS_URL ?? 'nats://127.0.0.1:4222'}/switchyard`,
  shm: (dir, tag) => `shm://switchyard-${tag}-${process.pid}-${basename(dir).replace(/[^A-Za-z0-9_-]/g, '')}`,
};

/** The schemes privateAddress() knows. */
export function hasPrivateAddress(scheme: string): boolean {
  return Object.hasOwn(PRIVATE_ADDRESS, scheme);
}

/**
 * A listen address for `scheme` that no other listener uses, inside `dir` where it is a path.
 * @throws TransportError (ERR_BAD_ADDRESS) for a scheme with no addresses (pipe, socketpair).
 */
export function privateAddress(scheme: string, dir: string, tag = 'link'): string {
  const make = PRIVATE_ADDRESS[scheme];
  if (!make) throw new TransportError('ERR_BAD_ADDRESS', `no private listen address is known for scheme ${scheme}: add one to src/transports/core/private-address.ts`);
  return make(dir, tag);
}
