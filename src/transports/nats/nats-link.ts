/**
 * nats-link.ts: a nats link through a server change. A DatagramLink whose NATS connection
 * may lose its server and reach another server of the cluster: while it is down, the link
 * holds what it sends (bounded), does not count the peer's silence, and waits at most
 * `failoverMs` for the connection to come back before it ends as peer-gone.
 *
 * Invariants:
 * - While the connection is down, send()/claim() take a frame only while the bytes waiting
 *   (`bufferedAmount`) stay within `holdBytes` (+ SMALL_RESERVE for frames of at most
 *   SMALL_FRAME bytes); beyond that they throw BrokerQueueFullError
 *   and that one frame is refused (the bus's tell throws it, its ask rejects with it), never
 *   queued without limit. What is held goes out, in order, once the connection is back.
 * - A link ends as peer-gone (a) at once when the server goes and the connection knows no
 *   other server to go to, (b) `failoverMs` after the server went if no server was reached by
 *   then, (c) when the connection itself ends. An ask whose frame or answer was lost in the
 *   change is the bus's to time out; every lost frame is counted in `stats.lost` by the side
 *   that expected it (DATA sequence numbers), never silently dropped.
 * - The watcher is removed when the link is closed.
 * - With `liveness` (both sides offered it in the handshake: nats-liveness.ts), the peer's
 *   process liveness feeds the silence timer (heard()), PINGs go only while busy, an empty
 *   message (a peer's probe) is ignored, and `ownLiveness` tells the bus it need not ping.
 */
import { BrokerQueueFullError, PeerGoneError } from '../../errors.js';
import { DatagramLink, type DatagramLinkInit } from '../datagram/datagram-link.js';
import type { ConnectionWatcher, NatsConnectionHandle } from './nats-connection.js';

/** Frames of at most this many bytes may use SMALL_RESERVE beyond the hold. */
const SMALL_FRAME = 512;
const SMALL_RESERVE = 64 * 1024;

export interface NatsLinkInit extends DatagramLinkInit {
  conn: NatsConnectionHandle;
  /** Bytes of frames the link holds while its connection is down. */
  holdBytes: number;
  /** How long the link waits for its connection to reach a server again. */
  failoverMs: number;
  /** Per-process liveness instead of per-link heartbeats (nats-liveness.ts). */
  liveness?: boolean;
}

export class NatsLink extends DatagramLink implements ConnectionWatcher {
  private readonly conn: NatsConnectionHandle;
  private readonly holdBytes: number;
  private readonly failoverMs: number;
  private outage: NodeJS.Timeout | undefined;
  /** Server changes this link lived through. */
  failovers = 0;
  /** The link notices a dead or departed peer without traffic of its own (Link.ownLiveness). */
  readonly ownLiveness: boolean;

  constructor(init: NatsLinkInit) {
    const conn = init.conn;
    super({ ...init, pingOnlyWhenBusy: init.liveness === true, silenceExcused: () => !conn.connected });
    this.ownLiveness = init.liveness === true;
    this.conn = conn;
    this.holdBytes = init.holdBytes;
    this.failoverMs = init.failoverMs;
    const unwatch = conn.watch(this);
    void this.closed.then(() => {
      unwatch();
      clearTimeout(this.outage);
    });
  }

  /** Whether the link's NATS connection has a server right now. */
  get brokerConnected(): boolean {
    return this.conn.connected;
  }

  disconnected(server: string): void {
    if (!this.conn.canFailOver) {
      this.peerGone(new PeerGoneError(`nats server ${server} went away, and no other server of a cluster is known to reach (${this.remote})`));
      return;
    }
    clearTimeout(this.outage);
    this.outage = setTimeout(() => {
      this.peerGone(new PeerGoneError(`nats server ${server} went away and no other server was reached within ${this.failoverMs} ms (failover=) (${this.remote})`));
    }, this.failoverMs);
  }

  reconnected(): void {
    clearTimeout(this.outage);
    this.outage = undefined;
    this.failovers++;
  }

  override receive(datagram: Buffer): void {
    // An empty message is a peer's liveness probe (nats-liveness.ts): it asks the server
    // whether anyone subscribes here, and needs nothing from us.
    if (datagram.length === 0) return;
    super.receive(datagram);
  }

  override send(frame: Uint8Array): boolean {
    this.checkHold(frame.length);
    return super.send(frame);
  }

  override claim(maxBytes: number): Uint8Array | null {
    this.checkHold(maxBytes);
    return super.claim(maxBytes);
  }

  private checkHold(bytes: number): void {
    if (this.conn.connected) return;
    // Small frames (the bus's own ping, pong and credit) may use a reserve beyond holdBytes:
    // refusing a ping from its timer ends the whole connection, not one message.
    const limit = bytes <= SMALL_FRAME ? this.holdBytes + SMALL_RESERVE : this.holdBytes;
    if (this.bufferedAmount + bytes > limit) throw new BrokerQueueFullError(this.remote, this.holdBytes);
  }
}
