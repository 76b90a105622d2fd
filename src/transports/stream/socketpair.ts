/**
 * socketpair.ts: `socketpair:`, socketpair(AF_UNIX, SOCK_STREAM) between a parent and the
 * child it spawns; the child inherits one end as stdio slot 3. One fd carries both ways.
 * The parent closes its copy of the child's end right after spawn (ChildEnd.release), so the
 * child's death is EOF/ECONNRESET here.
 */
import { native } from '../../native.js';
import { fdLink } from './fd-link.js';
import { childEnd, inheritedFds, nothingToListenOn } from '../core/inherited.js';
import { resolveLinkOptions } from '../core/options.js';
import type { Link, LinkOptions, LinkPair, Listener, Transport } from '../core/transport.js';
import { DEFAULT_MAX_FRAME } from '../core/transport.js';

const capabilities = { reliable: true, ordered: true, crossHost: false } as const;

export const socketpairTransport: Transport = {
  scheme: 'socketpair',
  capabilities: { ...capabilities, maxFrame: DEFAULT_MAX_FRAME },

  listen(): Promise<Listener> {
    return nothingToListenOn('socketpair');
  },

  async connect(address: URL, options?: LinkOptions): Promise<Link> {
    const resolved = resolveLinkOptions(options);
    const [fd] = inheritedFds(address, ['socket']);
    return fdLink('socketpair', capabilities, resolved, `parent (fd ${fd})`, fd, fd);
  },

  async pair(options?: LinkOptions): Promise<LinkPair> {
    const resolved = resolveLinkOptions(options);
    const [mine, theirs] = native.socketpair();
    return { link: fdLink('socketpair', capabilities, resolved, 'child', mine, mine), child: childEnd('socketpair', [theirs]) };
  },
};
