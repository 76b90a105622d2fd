/**
 * link-subject.ts: a registered transport as a bench Subject at the Link level: raw frames
 * over a Link to a child process running peers/link-peer.ts (opened by peer-link.ts).
 */
import type { ChildProcess } from 'node:child_process';
import type { Link, Transport } from '../src/index.js';
import { ByteChannel, type Channel } from './channel.js';
import { openPeerLink } from './peer-link.js';
import { exitOf } from '../src/cli/child-process.js';
import { peerScript } from './peer-script.js';
import type { OpenContext, Subject } from './subject.js';
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
      const { link, child, cleanup } = await openPeerLink(
        transport,
        PEER,
        ctx,
        async (link) => {
          const ready = await firstFrame(link);
          if (ready !== 'ready') throw new Error(`bench peer said ${ready}`);
        },
        variant?.options,
      );
      return new LinkChannel(link, child, cleanup);
    },
  };
}
