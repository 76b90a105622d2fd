/**
 * peer-link.ts: a Link to a bench peer in a child process, over a registered transport.
 * Parent/child transports hand the child its end; addressed ones listen here (in a private
 * temp dir) and the child connects.
 *
 * Invariant: everything after the first OS object is inside one try. A peer that dies before
 * it is ready, or a failed pinning, leaves no child, listener or temp dir behind, and does not
 * keep the bench process alive. Once open() resolves, the caller owns the three: it closes
 * the link, waits for the child (exitOf) and then calls `cleanup`.
 */
import type { ChildProcess } from 'node:child_process';
import { listen, spawnWithLink, type Link, type Listener, type Transport } from '../src/index.js';
import { privateAddress } from '../src/transports/core/private-address.js';
import { exitOf, spawnPeer, unlessExits } from '../src/cli/child-process.js';
import type { OpenContext } from './subject.js';
import { makeTempDirSync, removeTempDir } from './tmp.js';

export interface PeerLink {
  link: Link;
  child: ChildProcess;
  /** Removes the listener and temp dir, if any (after the child has gone). */
  cleanup: () => Promise<void>;
}

/**
 * Spawns `script` as the peer of a `transport` link and waits until `ready(link, child)`
 * resolves. `options` go to both ends (pair transports pass them to the child's end too);
 * `query` is appended to an addressed transport's listen address (which the child is given).
 */
export async function openPeerLink<T>(
  transport: Transport,
  script: string,
  ctx: OpenContext,
  ready: (link: Link, child: ChildProcess) => Promise<T>,
  options: Record<string, unknown> = {},
  query = '',
): Promise<PeerLink & { ready: T }> {
  const scheme = transport.scheme;
  let link: Link | undefined;
  let child: ChildProcess | undefined;
  let listener: Listener | undefined;
  let dir: string | undefined;
  const cleanup = async (): Promise<void> => {
    await listener?.close();
    if (dir) removeTempDir(dir);
  };
  try {
    if (transport.pair) {
      ({ link, child } = await spawnWithLink(scheme, script, { ...options, args: ['inherit'] }));
      await ctx.onPeerProcess(child.pid!);
    } else {
      dir = makeTempDirSync();
      let accepted!: (l: Link) => void;
      const got = new Promise<Link>((r) => (accepted = r));
      listener = await listen(privateAddress(scheme, dir, 'bench') + query, (l) => accepted(l), options);
      child = spawnPeer(script, [listener.address.href]);
      await ctx.onPeerProcess(child.pid!);
      link = await unlessExits(child, got, scheme);
    }
    const value = await unlessExits(child, ready(link, child), scheme);
    return { link, child, cleanup, ready: value };
  } catch (err) {
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await link?.close();
    if (child) await exitOf(child);
    await cleanup();
    throw err;
  }
}
