/**
 * nats-liveness.ts: per-process liveness for nats links (docs/PROTOCOL.md §9, Liveness), so
 * that what an idle node costs the server depends on neither its number of links nor its
 * number of peers, and nothing about liveness travels on a link's data subjects while idle.
 *
 * A publisher is this process's voice on one connection, under one prefix, at one period:
 * while any link joined it, it publishes an ALIVE message on `P._sys.alive.<id>` every period
 * (and at once when a link leaves). Its random 16-byte id goes in the HELLO or WELCOME's
 * `liveness` extension. A watch is this process's subscription to one peer publisher's
 * subject, shared by every link to that peer and unsubscribed with the last of them; each
 * ALIVE starts the silence timer of every link on the watch over.
 *
 *   ALIVE    0x20 | ended u32     ended: how many link ids of this publisher have ended
 *                                 (a link closed, or a handshake given up), mod 2^32
 *
 * A link that ended on one side while its process lives (its BYE lost, or a handshake the
 * client gave up after the listener made its link) is found by a probe: an empty NATS
 * request on the link's outgoing subject. The server answers "no responders" at once when
 * nobody subscribes it (the peer's end is gone: the link ends as peer-gone); a live end
 * ignores the empty message and the request simply times out. A link is probed once when it
 * is a period old, and again each time its peer's `ended` changes: one message per link per
 * change, never while nothing changes. (Listing every open link id in ALIVE would cost 16
 * bytes per link per period, growing with the links; the count costs 4 bytes, flat.)
 *
 * Invariants:
 * - Nothing is published while the connection is down (the client would discard it), and
 *   nothing outside `P._sys` and the link's own subjects.
 * - A watch's subscription exists while at least one link is on it; the client re-subscribes
 *   it after a server change, like every other subscription.
 * - A publisher's timer runs only while links are joined, and stops when the connection ends.
 * - Probes never end a link while the connection is down, nor after the link left the watch;
 *   through a cluster, "no responders" is confirmed once more after CLUSTER_RECHECK_MS (a
 *   peer that just changed servers re-subscribes there a moment later).
 */
import { randomBytes } from 'node:crypto';
import type { Subscription } from '@nats-io/transport-node';
import { PeerGoneError } from '../../errors.js';
import { SYS_TOKEN } from './nats-announcement.js';
import { natsClient, type NatsConnectionHandle } from './nats-connection.js';

/** Bytes of a publisher's id in the handshake's `liveness` extension. */
const LIVENESS_ID_BYTES = 16;
const KIND_ALIVE = 0x20;
const ALIVE_BYTES = 5;
const U32 = 2 ** 32;
const EMPTY = new Uint8Array(0);
/** How long a probe waits: a live end never answers, so this only bounds the request. */
const PROBE_WAIT_MS = 1000;
/** Through a cluster, how long before a "no responders" is asked again. */
const CLUSTER_RECHECK_MS = 500;

function livenessSubject(prefix: readonly string[], id: Uint8Array): string {
  return [...prefix, SYS_TOKEN, 'alive', Buffer.from(id).toString('hex')].join('.');
}

function encodeAlive(ended: number): Buffer {
  const b = Buffer.alloc(ALIVE_BYTES);
  b[0] = KIND_ALIVE;
  b.writeUInt32BE(ended % U32, 1);
  return b;
}

/** The `ended` count of an ALIVE, or null for anything else (junk on a shared subject). */
function decodeAlive(b: Uint8Array): number | null {
  if (b.length < ALIVE_BYTES || b[0] !== KIND_ALIVE) return null;
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).readUInt32BE(1);
}

/** What liveness needs of a link. */
interface LivenessMember {
  readonly remote: string;
  /** A sign of life from the peer's process: the link's silence timer starts over. */
  heard(): void;
  /** The peer's end of the link is gone. */
  peerGone(error: Error): void;
}

export class LivenessPublisher {
  readonly id = randomBytes(LIVENESS_ID_BYTES);
  readonly subject: string;
  private members = 0;
  private ended = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly conn: NatsConnectionHandle,
    prefix: readonly string[],
    readonly periodMs: number,
  ) {
    this.subject = livenessSubject(prefix, this.id);
    void conn.ended.then(() => this.stopTimer());
  }

  /** A link of ours that uses this publisher; call the result once, when it has ended. */
  join(): () => void {
    if (this.members++ === 0) {
      this.publish();
      this.timer = setInterval(() => this.publish(), this.periodMs);
      this.timer.unref(); // the links' own handles keep the process alive, not this
    }
    let left = false;
    return () => {
      if (left) return;
      left = true;
      this.members--;
      this.linkEnded();
      if (this.members === 0) this.stopTimer();
    };
  }

  /**
   * A link id of ours ended (or a handshake was given up after its HELLO went out): peers
   * probe their links to us when they see the count change. Said at once, not a period later.
   */
  linkEnded(): void {
    this.ended = (this.ended + 1) % U32;
    if (this.members > 0 || this.timer !== undefined) this.publish();
  }

  private publish(): void {
    if (!this.conn.connected || this.conn.isClosed) return;
    this.conn.nc.publish(this.subject, encodeAlive(this.ended));
  }

  private stopTimer(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }
}

const publishers = new WeakMap<NatsConnectionHandle, Map<string, LivenessPublisher>>();

/** This process's publisher on `conn` under `prefix` at `periodMs` (one per such triple). */
export function livenessPublisher(conn: NatsConnectionHandle, prefix: readonly string[], periodMs: number): LivenessPublisher {
  let byKey = publishers.get(conn);
  if (byKey === undefined) publishers.set(conn, (byKey = new Map()));
  const key = `${prefix.join('.')} ${periodMs}`;
  let p = byKey.get(key);
  if (p === undefined) byKey.set(key, (p = new LivenessPublisher(conn, prefix, periodMs)));
  return p;
}

interface Entry {
  readonly member: LivenessMember;
  /** The link's outgoing data subject (where the peer's end subscribes). */
  readonly probeSubject: string;
  readonly since: number;
  /** The peer's `ended` when this link was last probed; undefined before its first probe. */
  checked: number | undefined;
  left: boolean;
}

class Watch {
  readonly entries = new Set<Entry>();
  sub: Subscription | undefined;
}

const watches = new WeakMap<NatsConnectionHandle, Map<string, Watch>>();

/**
 * Puts `member` on the watch of the peer publisher at `subject` (made if it is the first),
 * whose period is `peerPeriodMs`. Returns what takes it off again (once the link has ended).
 */
function watchPeer(conn: NatsConnectionHandle, subject: string, peerPeriodMs: number, member: LivenessMember, probeSubject: string): () => void {
  let bySubject = watches.get(conn);
  if (bySubject === undefined) watches.set(conn, (bySubject = new Map()));
  let w = bySubject.get(subject);
  if (w === undefined) {
    const watch = (w = new Watch());
    bySubject.set(subject, watch);
    watch.sub = conn.nc.subscribe(subject, {
      callback: (err, msg) => {
        if (err) return;
        const ended = decodeAlive(msg.data);
        if (ended === null) return;
        const now = Date.now();
        for (const e of watch.entries) {
          e.member.heard();
          // The first probe waits a period: the peer's subscription reached its server before
          // the link existed here, and a period is enough for it to reach ours in a cluster.
          if (e.checked === ended || (e.checked === undefined && now - e.since < peerPeriodMs)) continue;
          e.checked = ended;
          void probe(conn, e);
        }
      },
    });
  }
  const watch = w;
  const entry: Entry = { member, probeSubject, since: Date.now(), checked: undefined, left: false };
  watch.entries.add(entry);
  return () => {
    entry.left = true;
    watch.entries.delete(entry);
    if (watch.entries.size > 0) return;
    bySubject.delete(subject);
    if (!conn.isClosed) watch.sub?.unsubscribe();
  };
}

/** Ends `e`'s link if nobody subscribes its outgoing subject any more. */
async function probe(conn: NatsConnectionHandle, e: Entry): Promise<void> {
  if (!(await nobodyListens(conn, e.probeSubject))) return;
  if (conn.canFailOver) {
    await new Promise((r) => setTimeout(r, CLUSTER_RECHECK_MS));
    if (e.left || !(await nobodyListens(conn, e.probeSubject))) return;
  }
  if (e.left || !conn.connected) return;
  e.member.peerGone(new PeerGoneError(`nats peer ${e.member.remote} ended the link on its side (its BYE was lost): its process is alive, but nobody subscribes the link's subject any more`));
}

async function nobodyListens(conn: NatsConnectionHandle, subject: string): Promise<boolean> {
  if (conn.isClosed || !conn.connected) return false;
  try {
    await conn.nc.request(subject, EMPTY, { timeout: PROBE_WAIT_MS });
    return false; // someone answered: someone is there
  } catch (err) {
    const { NoRespondersError, RequestError } = await natsClient();
    return err instanceof NoRespondersError || (err instanceof RequestError && err.isNoResponders());
  }
}

/** The peer's publisher id from its HELLO or WELCOME, or undefined if it offered none. */
export function offeredLiveness(extensions: ReadonlyMap<number, Uint8Array> | undefined, tag: number): Uint8Array | undefined {
  const v = extensions?.get(tag);
  // Longer is allowed: a later version may add to the entry; the id comes first.
  return v !== undefined && v.length >= LIVENESS_ID_BYTES ? v.subarray(0, LIVENESS_ID_BYTES) : undefined;
}

/**
 * Puts a link that both sides opened with liveness on it: it joins our publisher and the
 * watch of its peer's (`peerId`, period `peerPeriodMs`), and leaves both once it has ended.
 */
export function attachLiveness(
  link: LivenessMember & { readonly closed: Promise<unknown> },
  conn: NatsConnectionHandle,
  prefix: readonly string[],
  publisher: LivenessPublisher,
  peerId: Uint8Array,
  peerPeriodMs: number,
  probeSubject: string,
): void {
  const leave = publisher.join();
  const unwatch = watchPeer(conn, livenessSubject(prefix, peerId), peerPeriodMs, link, probeSubject);
  void link.closed.then(() => {
    unwatch();
    leave();
  });
}
