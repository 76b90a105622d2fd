/**
 * link-subject.ts: a registered transport as a bench Subject at the Link level: raw frames
 * over a Link to a child process running peers/link-peer.ts. Parent/child transports hand the
 * child its end; addressed ones listen here (in a private temp dir) and the child connects.
 */
import type { ChildProcess } from 'node:child_process';
import { listen, spawnWithLink, type Link, type Listener, type Transport } from '../index.js';
import { ByteChannel, type Channel } from './channel.js';
import { listenAddress } from './listen-address.js';
import { exitOf, peerScript, spawnPeer, unlessExits } from './peer-process.js';
import type { OpenContext, Subject } from './subject.js';
import { makeTempDirSync, removeTempDir } from './tmp.js';
import { QUIT } from './wire.js';

const PEER = peerScript('link-peer');

class LinkChannel extends ByteChannel {
  readonly reliable: boolean;
  readonly maxMessage: number;

  constructor(
    private readonly link: Link,
    private readonly child: ChildProcess,
    private readonly onClose: () => Promise<void>,
  ) {
    super();
    this.reliable = link.capabilities.reliable;
    this.maxMessage = link.capabilities.maxFrame;
    link.onFrame((frame) => this.deliver(frame));
  }

  protected sendBytes(bytes: Buffer): boolean {
    return this.link.send(bytes);
  }

  drain(): Promise<void> {
    return this.link.drain();
  }

  async close(): Promise<void> {
    const exited = exitOf(this.child);
    // Best effort (a datagram may be lost): exitOf() then falls back to SIGTERM, which still
    // lets the peer's transport remove its OS objects.
    try {
      this.link.send(Buffer.of(QUIT));
    } catch {
      // Already closed (the peer went away): nothing to tell it.
    }
    await this.link.close();
    await exited;
    await this.onClose();
  }
}

function firstFrame(link: Link): Promise<string> {
  return new Promise((resolve) => link.onFrame((f) => resolve(Buffer.from(f).toString())));
}

/** Another mode of a transport, measured as its own row (e.g. shm in spin mode). */
export interface LinkVariant {
  /** Appended to the scheme for the row's name. */
  suffix: string;
  /** Transport options for both ends (pair transports pass them to the child's end too). */
  options: Record<string, unknown>;
  note: string;
}

export function linkSubject(transport: Transport, variant?: LinkVariant): Subject {
  const scheme = transport.scheme;
  const note = variant?.note ?? (transport.capabilities.reliable ? undefined : 'best-effort: loss counted');
  return {
    name: scheme + (variant?.suffix ?? ''),
    kind: 'transport',
    level: 'link',
    ...(note ? { note } : {}),
    async open(ctx: OpenContext): Promise<Channel> {
      let link: Link | undefined;
      let child: ChildProcess | undefined;
      let listener: Listener | undefined;
      let dir: string | undefined;
      const cleanup = async (): Promise<void> => {
        await listener?.close();
        if (dir) removeTempDir(dir);
      };
      // Everything after the first OS object is inside one try: a peer that dies before it is
      // ready (or a failed pinning) must not leave a listener, a temp dir or a child behind,
      // nor keep the bench process alive.
      try {
        if (transport.pair) {
          ({ link, child } = await spawnWithLink(scheme, PEER, { ...variant?.options, args: ['inherit'] }));
          await ctx.onPeerProcess(child.pid!);
        } else {
          dir = makeTempDirSync();
          let accepted!: (l: Link) => void;
          const got = new Promise<Link>((r) => (accepted = r));
          listener = await listen(listenAddress(scheme, dir), (l) => accepted(l), variant?.options);
          child = spawnPeer(PEER, [listener.address.href]);
          await ctx.onPeerProcess(child.pid!);
          link = await unlessExits(child, got, scheme);
        }
        const ready = await unlessExits(child, firstFrame(link), scheme);
        if (ready !== 'ready') throw new Error(`bench peer said ${ready}`);
      } catch (err) {
        if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
        await link?.close();
        if (child) await exitOf(child);
        await cleanup();
        throw err;
      }
      return new LinkChannel(link, child, cleanup);
    },
  };
}
