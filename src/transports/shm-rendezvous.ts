/**
 * shm-rendezvous.ts: `shm://name`, links between unrelated processes. (Being written.)
 */
import { TransportError } from '../errors.js';
import type { ShmLinkOptions } from './shm.js';
import type { Link, Listener } from './transport.js';

export function shmListen(address: URL, _onLink: (link: Link) => void, _options?: ShmLinkOptions): Promise<Listener> {
  return Promise.reject(new TransportError('ERR_UNSUPPORTED', `shm: named listeners are not implemented yet (${address.href})`, { address: address.href }));
}

export function shmConnect(address: URL, _options?: ShmLinkOptions): Promise<Link> {
  return Promise.reject(new TransportError('ERR_UNSUPPORTED', `shm: named links are not implemented yet (${address.href})`, { address: address.href }));
}
