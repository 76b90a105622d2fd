/**
 * nats-port.ts: the DatagramPort of one direction of a nats link: every datagram is one
 * NATS message published on that direction's subject.
 *
 * Invariants:
 * - trySend() takes every datagram it is given: the client queues them for its socket, and
 *   what can be queued is bounded by the credit the peer granted (DatagramLink never hands a
 *   port DATA beyond it), not by this port. So sendLater() is never needed, and answers at once.
 * - A closed connection swallows datagrams rather than throwing: the connection's end is
 *   reported to the link as peer-gone by nats.ts, and a throw here would report it as a local
 *   `error` first.
 * - release() runs once, and is the transport's: unsubscribe and close what this link owns.
 */
import type { CloseKind } from '../core/transport.js';
import type { DatagramPort } from '../datagram/datagram-link.js';
import type { NatsConnectionHandle } from './nats-connection.js';

export function natsPort(conn: NatsConnectionHandle, subject: string, release: (kind: CloseKind) => Promise<void>): DatagramPort {
  return {
    trySend(datagrams, start) {
      if (!conn.isClosed) {
        for (let i = start; i < datagrams.length; i++) conn.nc.publish(subject, datagrams[i]!);
      }
      return datagrams.length - start;
    },
    sendLater(_datagrams, _start, done) {
      process.nextTick(() => done(null, 0));
    },
    release,
  };
}
