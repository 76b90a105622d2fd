/**
 * shm-local-pair.ts: both ends of one shm segment in this process, built from the parts the
 * transport uses (a sealed memfd, a socketpair for liveness). For tests that need to reach
 * into both sides at once: rebasing, or a peer that writes what it should not.
 */
import { closeSync } from 'node:fs';
import { Socket } from 'node:net';
import { native } from '../../src/native.js';
import { ShmLink } from '../../src/transports/shm/link.js';
import { resolveLinkOptions } from '../../src/transports/core/options.js';

/** Side 0 and side 1 of a fresh segment with rings of `ring` bytes. */
export function localShmPair(ring: number, rebaseAt: [number?, number?] = []): [ShmLink, ShmLink] {
  const fd = native.shmMemfd(ring * 2 + native.shmLayout.headerBytes);
  const [s0, s1] = native.socketpair();
  const options = resolveLinkOptions({});
  const socket = (fd: number): Socket => new Socket({ fd, readable: true, writable: true });
  try {
    const a = new ShmLink({ remote: 'a', options, fd, side: 0, capacity: ring, spinNs: 0, liveness: socket(s0), ...(rebaseAt[0] ? { rebaseAt: rebaseAt[0] } : {}) });
    const b = new ShmLink({ remote: 'b', options, fd, side: 1, capacity: ring, spinNs: 0, liveness: socket(s1), ...(rebaseAt[1] ? { rebaseAt: rebaseAt[1] } : {}) });
    return [a, b];
  } finally {
    closeSync(fd);
  }
}

/** The whole mapping as side `link` sees it: what a hostile peer could write. */
export function mappingOf(link: ShmLink): Uint8Array {
  return (link as unknown as { carrier: { memory: Uint8Array } }).carrier.memory;
}
