/**
 * shm.ts: `shm:`, shared-memory rings (native/shm_ring.h, shm-link.ts).
 *
 * - Parent/child: pair() makes an anonymous segment (memfd_create: nothing ever appears in
 *   /dev/shm, and the memory goes when the last process unmaps it) and a socketpair whose only
 *   job is liveness: the child inherits both as `shm:?fds=3,4`, and EOF on the socket is the
 *   other side's death or close.
 * - Unrelated processes: `shm://name` (shm-rendezvous.ts).
 *
 * Address parameters (both forms): `size=` bytes per ring (default 4 MiB, set by whoever
 * creates the segment), `spin=` how long the receiving thread polls before it sleeps, e.g.
 * `spin=50us` (default 0: the receiver sleeps; spinning lowers latency and costs a core at 100% while it spins).
 */
import { closeSync } from 'node:fs';
import { Socket } from 'node:net';
import { native } from '../../native.js';
import { childEnd, inheritedFds } from '../core/inherited.js';
import { ShmLink } from './link.js';
import { shmListen, shmConnect } from './rendezvous.js';
import { capacityOf, shmSettings, type ShmLinkOptions } from './settings.js';
import { resolveLinkOptions } from '../core/options.js';
import type { Link, LinkPair, Listener, Transport } from '../core/transport.js';
import { DEFAULT_MAX_FRAME } from '../core/transport.js';

export type { ShmLinkOptions } from './settings.js';

const capabilities = { reliable: true, ordered: true, crossHost: false } as const;

export const shmTransport: Transport = {
  scheme: 'shm',
  capabilities: { ...capabilities, maxFrame: DEFAULT_MAX_FRAME },

  listen(address: URL, onLink: (link: Link) => void, options?: ShmLinkOptions): Promise<Listener> {
    return shmListen(address, onLink, options);
  },

  async connect(address: URL, options?: ShmLinkOptions): Promise<Link> {
    const resolved = resolveLinkOptions(options);
    if (address.host !== '' || (address.pathname !== '' && address.pathname !== '/')) return shmConnect(address, options);
    const { spinNs } = shmSettings(address, options);
    const [segment, sock] = inheritedFds(address, ['segment', 'socket'], 'names a listener: shm://name');
    const capacity = capacityOf(segment, address.href);
    const liveness = new Socket({ fd: sock, readable: true, writable: false, allowHalfOpen: false });
    try {
      return new ShmLink({ remote: `parent (fds ${segment},${sock})`, options: resolved, fd: segment, side: 1, capacity, spinNs, liveness });
    } catch (err) {
      liveness.destroy();
      throw err;
    } finally {
      closeSync(segment); // mapped (or failed): the fd is no longer needed
    }
  },

  async pair(options?: ShmLinkOptions): Promise<LinkPair> {
    const resolved = resolveLinkOptions(options);
    const { ringSize, spinNs } = shmSettings(undefined, options);
    const [mine, theirs] = native.socketpair();
    let segment: number;
    try {
      segment = native.shmMemfd(ringSize * 2 + native.shmLayout.headerBytes);
    } catch (err) {
      closeSync(mine);
      closeSync(theirs);
      throw err;
    }
    const liveness = new Socket({ fd: mine, readable: true, writable: false, allowHalfOpen: false });
    let link: ShmLink;
    try {
      link = new ShmLink({ remote: 'child', options: resolved, fd: segment, side: 0, capacity: ringSize, spinNs, liveness });
    } catch (err) {
      liveness.destroy();
      closeSync(segment);
      closeSync(theirs);
      throw err;
    }
    const spin = options?.spinUs === undefined ? '' : `&spin=${Math.round(options.spinUs * 1000)}ns`;
    return { link, child: childEnd('shm', [segment, theirs], spin) };
  },
};
