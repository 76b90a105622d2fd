/**
 * pipe.ts: `pipe:`, two pipe(2) pairs between a parent and the child it spawns
 * (perlipc "Bidirectional Communication with Yourself").
 *
 *   parent                           child
 *   write  down[1]  ---- down ---->  down[0]  read    (slot 3)
 *   read   up[0]    <---- up -----   up[1]    write   (slot 4)
 *
 * The parent keeps up[0] and down[1] and closes its copies of down[0] and up[1] as soon as
 * the child is spawned (ChildEnd.release), so the child's death is EOF on up[0] and EPIPE on
 * down[1] (perlipc "Avoiding Pipe Deadlocks"). EPIPE never kills us: Node ignores SIGPIPE.
 * Peer death, EOF and close all end the link through StreamLink.
 */
import { closeSync } from 'node:fs';
import { native } from '../../native.js';
import { fdLink } from './fd-link.js';
import { childEnd, inheritedFds, nothingToListenOn } from '../core/inherited.js';
import { resolveLinkOptions } from '../core/options.js';
import type { Link, LinkOptions, LinkPair, Listener, Transport } from '../core/transport.js';
import { DEFAULT_MAX_FRAME } from '../core/transport.js';

const capabilities = { reliable: true, ordered: true, crossHost: false } as const;

export const pipeTransport: Transport = {
  scheme: 'pipe',
  capabilities: { ...capabilities, maxFrame: DEFAULT_MAX_FRAME },

  listen(): Promise<Listener> {
    return nothingToListenOn('pipe');
  },

  async connect(address: URL, options?: LinkOptions): Promise<Link> {
    const resolved = resolveLinkOptions(options);
    const [readFd, writeFd] = inheritedFds(address, ['fifo', 'fifo']);
    return fdLink('pipe', capabilities, resolved, `parent (fds ${readFd},${writeFd})`, readFd, writeFd);
  },

  async pair(options?: LinkOptions): Promise<LinkPair> {
    const resolved = resolveLinkOptions(options);
    const down = native.pipe();
    let up: [number, number];
    try {
      up = native.pipe();
    } catch (err) {
      closeSync(down[0]);
      closeSync(down[1]);
      throw err;
    }
    const child = childEnd('pipe', [down[0], up[1]]);
    return { link: fdLink('pipe', capabilities, resolved, 'child', up[0], down[1]), child };
  },
};
