/**
 * nats-port.ts: the DatagramPort of one direction of a nats link: every datagram is one
 * NATS message published on that direction's subject.
 *
 * Invariants:
 * - While the connection is up, trySend() takes every datagram it is given: the client queues
 *   them for its socket, and what can be queued is bounded by the credit the peer granted
 *   (DatagramLink never hands a port DATA beyond it), not by this port.
 * - While the connection is down (the client is reconnecting), trySend() takes nothing: the
 *   client would discard what it queued when it dials again (nats-connection.ts), so the
 *   carrier keeps the datagrams, in order, and sendLater() calls back once the connection is
 *   back, or after RECHECK_MS at most (the slow path must stay bounded: a link's last BYE
 *   waits for it). NatsLink bounds how much is kept.
 * - A closed connection swallows datagrams rather than throwing: the connection's end is
 *   reported to the link as peer-gone by nats.ts, and a throw here would report it as a local
 *   `error` first.
 * - release() runs once, and is the transport's: unsubscribe and close what this link owns;
 *   a sendLater() still waiting for the connection is forgotten.
 */
import type { CloseKind } from '../core/transport.js';
import type { DatagramPort } from '../datagram/datagram-link.js';
import type { NatsConnectionHandle } from './nats-connection.js';

/** How often a sendLater() waiting for the connection reports back anyway. */
const RECHECK_MS = 100;

export function natsPort(conn: NatsConnectionHandle, subject: string, release: (kind: CloseKind) => Promise<void>): DatagramPort {
  /** Cancels a sendLater() that waits for the connection. */
  let stop: (() => void) | undefined;
  return {
    trySend(datagrams, start) {
      if (conn.isClosed) return datagrams.length - start;
      if (!conn.connected) return 0;
      for (let i = start; i < datagrams.length; i++) conn.nc.publish(subject, datagrams[i]!);
      return datagrams.length - start;
    },
    sendLater(_datagrams, _start, done) {
      if (conn.connected || conn.isClosed) {
        process.nextTick(() => done(null, 0));
        return;
      }
      // Back as soon as the connection is, and in any case within RECHECK_MS: the carrier's
      // last BYE waits for this slow path, and a link closing while disconnected must end.
      stop?.();
      let timer: NodeJS.Timeout | undefined;
      let unwatch: (() => void) | undefined;
      const wake = (): void => {
        stop?.();
        done(null, 0);
      };
      stop = () => {
        stop = undefined;
        clearTimeout(timer);
        unwatch?.();
      };
      timer = setTimeout(wake, RECHECK_MS);
      unwatch = conn.watch({ disconnected() {}, reconnected: wake });
    },
    release(kind) {
      stop?.();
      return release(kind);
    },
  };
}
