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
import { closeSync, fstatSync } from 'node:fs';
import { Socket } from 'node:net';
import { TransportError } from '../../errors.js';
import { native } from '../../native.js';
import { badAddress } from '../core/address.js';
import { FIRST_CHILD_SLOT } from '../core/inherited.js';
import { ShmLink } from './link.js';
import { shmListen, shmConnect } from './rendezvous.js';
import { capacityOf, shmSettings, type ShmLinkOptions } from './settings.js';
import { resolveLinkOptions } from '../core/options.js';
import type { ChildEnd, Link, LinkPair, Listener, Transport } from '../core/transport.js';
import { DEFAULT_MAX_FRAME } from '../core/transport.js';

function inherited(url: URL): [segment: number, socket: number] {
  const raw = url.searchParams.get('fds');
  if (raw === null) throw badAddress(url.href, 'shm: opens an end inherited from the parent, e.g. shm:?fds=3,4 (made by pair() / spawnWithLink), or names a listener: shm://name');
  const parts = raw.split(',');
  if (parts.length !== 2 || !parts.every((p) => /^\d+$/.test(p))) throw badAddress(url.href, 'shm: wants 2 fd numbers in ?fds= (segment, socket)');
  const fds = parts.map(Number) as [number, number];
  fds.forEach((fd, i) => {
    let ok: boolean;
    try {
      const st = fstatSync(fd);
      ok = i === 0 ? st.isFile() : st.isSocket();
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      throw new TransportError(e.code ?? 'EBADF', `shm: fd ${fd} named by "${url.href}" is not open in this process (was it inherited?)`, {
        errno: Math.abs(e.errno ?? 9),
        syscall: 'fstat',
        address: url.href,
        cause: err,
      });
    }
    if (!ok) throw new TransportError('ERR_BAD_FD', `shm: fd ${fd} named by "${url.href}" is not ${i === 0 ? 'a shared-memory segment' : 'a socket'}`, { address: url.href });
  });
  return fds;
}

function childEnd(fds: [number, number], spinUs: number | undefined): ChildEnd {
  let released = false;
  const spin = spinUs === undefined ? '' : `&spin=${Math.round(spinUs * 1000)}ns`;
  return {
    fds,
    address: `shm:?fds=${FIRST_CHILD_SLOT},${FIRST_CHILD_SLOT + 1}${spin}`,
    release() {
      if (released) return;
      released = true;
      for (const fd of fds) closeSync(fd);
    },
  };
}

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
    const [segment, sock] = inherited(address);
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
    return { link, child: childEnd([segment, theirs], options?.spinUs) };
  },
};
