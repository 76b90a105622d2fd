/**
 * bus-subject.ts: a registered transport as a bench Subject at the bus level: tell and ask
 * through an ActorSystem here to the bench actor in a child process (peers/bus-peer.ts).
 * The link to it comes from peer-link.ts; this side keeps the Link it attaches to its system,
 * so throughput can honour its backpressure (bufferedAmount).
 *
 * The probes map onto the bus like this: ECHO = ask('echo', payload) whose reply is the
 * payload; SINK = tell('sink', phase, payload); REPORT = ask('report', phase). `size` is the
 * payload: the envelope and msgpack framing the bus adds are the overhead being measured.
 */
import type { ChildProcess } from 'node:child_process';
import {
  ActorSystem,
  DEFAULT_HIGH_WATER_MARK,
  type ActorRef,
  type Link,
  type RemoteSystem,
  type Transport,
} from '../src/index.js';
import { BENCH_ACTOR, type benchActor } from './bus-bench-actor.js';
import type { Channel } from './channel.js';
import { openPeerLink } from './peer-link.js';
import { exitOf } from '../src/cli/child-process.js';
import { peerScript } from './peer-script.js';
import type { OpenContext, Subject } from './subject.js';
import type { Probe, Reply } from './wire.js';

const PEER = peerScript('bus-peer');

/** A second bus row of one transport: another address query (nats: `?upgrade=0`). */
export interface BusVariant {
  /** Appended to the scheme for the row's name ('' for the transport's own row). */
  suffix: string;
  /** Appended to the listen address (the peer connects to what the listener reports). */
  query: string;
  note: string;
}

/** How long a same-host nats link may take to settle its upgrade before it is measured. */
const UPGRADE_SETTLE_MS = 5000;

/**
 * Waits until a link that may move to a local socket (nats, same host) has settled where it
 * runs; one that has not within UPGRADE_SETTLE_MS fails the cell (measuring it would measure
 * the switch, not either path).
 */
async function settled(link: Link): Promise<void> {
  const l = link as Link & { upgradeSettled?: boolean };
  const deadline = Date.now() + UPGRADE_SETTLE_MS;
  while (l.upgradeSettled === false) {
    if (Date.now() >= deadline) throw new Error(`the ${link.scheme} link did not settle its same-host upgrade within ${UPGRADE_SETTLE_MS} ms`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Room left in a link's maxFrame for the envelope around a payload. */
const ENVELOPE_ROOM = 4096;

class BusChannel implements Channel {
  readonly reliable: boolean;
  readonly maxMessage: number;
  private handler: (reply: Reply) => void = () => {};
  private readonly ref: ActorRef<typeof benchActor>;
  private readonly payloads = new Map<number, Buffer>();

  constructor(
    private readonly system: ActorSystem,
    remote: RemoteSystem,
    private readonly link: Link,
    private readonly child: ChildProcess,
    private readonly onClose: () => Promise<void>,
    askTimeoutMs: number,
  ) {
    this.reliable = link.capabilities.reliable;
    this.maxMessage = link.capabilities.maxFrame - ENVELOPE_ROOM;
    this.ref = remote.ref<typeof benchActor>(BENCH_ACTOR).with({ timeout: askTimeoutMs });
  }

  private payload(size: number): Buffer {
    let b = this.payloads.get(size);
    if (!b) this.payloads.set(size, (b = Buffer.alloc(size, 0xab)));
    return b;
  }

  send(probe: Probe, size: number): boolean {
    switch (probe.tag) {
      case 'echo': {
        const seq = probe.seq;
        // A lost or failed ask is not answered: measure.ts counts it lost (best-effort) or
        // reports the stall (reliable), as it does for a Link.
        this.ref.ask('echo', this.payload(size)).then(
          () => this.handler({ tag: 'echo', seq }),
          () => {},
        );
        break;
      }
      case 'sink':
        this.ref.tell('sink', probe.phase, this.payload(size));
        break;
      case 'report': {
        const nonce = probe.nonce;
        this.ref.ask('report', probe.phase).then(
          ({ frames, bytes }) => this.handler({ tag: 'report', nonce, frames, bytes }),
          () => {},
        );
        break;
      }
    }
    return this.link.bufferedAmount < DEFAULT_HIGH_WATER_MARK;
  }

  onReply(handler: (reply: Reply) => void): void {
    this.handler = handler;
  }

  drain(): Promise<void> {
    return this.link.drain();
  }

  async close(): Promise<void> {
    const exited = exitOf(this.child);
    await this.system.stop(); // goodbye: the peer's system stops and its process exits
    await exited;
    await this.onClose();
  }
}

export function busSubject(transport: Transport, variant?: BusVariant): Subject {
  const scheme = transport.scheme;
  const note = variant?.note ?? (transport.capabilities.reliable ? undefined : 'best-effort: loss counted');
  return {
    name: scheme + (variant?.suffix ?? ''),
    kind: 'transport',
    level: 'bus',
    ...(note ? { note } : {}),
    async open(ctx: OpenContext): Promise<Channel> {
      const system = await ActorSystem.start({
        name: `bench-${process.pid}`,
        onError: (err, context) => process.stderr.write(`switchyard bench (bus ${scheme}): ${context}: ${String(err)}\n`),
      });
      try {
        // The bus handshake is the peer's "ready": it hosts the actor before it attaches.
        const { link, child, cleanup, ready: remote } = await openPeerLink(transport, PEER, ctx, (link) => system.attach(link), {}, variant?.query);
        await settled(link); // a row measures one path, not the switch
        // Best-effort links lose asks now and then; measure.ts re-sends after its own
        // timeout, so a lost one must not linger for long here either.
        return new BusChannel(system, remote, link, child, cleanup, link.capabilities.reliable ? 30_000 : 2000);
      } catch (err) {
        await system.stop();
        throw err;
      }
    },
  };
}
