/**
 * nats-pool.ts: one NATS client connection per server per process, shared by every listener
 * and link of the process that names that server, and closed when the last of them lets go.
 * A NATS connection is a TCP socket, a reader, a PING timer and a server-side client slot; a
 * node with a hundred links must cost the broker one client, not a hundred.
 *
 * Invariants:
 * - acquire() for a server with a live (not closing) connection returns a lease on it; two
 *   acquires racing while the connection is being opened share the one open (and its failure).
 * - Each lease is released at most once; the connection closes when its last lease is released,
 *   and from that moment it is out of the pool, so a later acquire opens a new one instead of
 *   receiving one that is closing.
 * - A connection that ended under us (the client gave up) leaves the pool at once; leases on
 *   it stay valid to release (its links learn of the end from `ended`).
 */
import { NatsConnectionHandle } from './nats-connection.js';

/** A hold on a shared connection; release() it exactly once when done. */
export interface NatsLease {
  readonly conn: NatsConnectionHandle;
  /** `flush`: wait (bounded) for the server to take what we published, if this was the last lease. */
  release(flush?: boolean): Promise<void>;
}

interface Entry {
  opening: Promise<NatsConnectionHandle>;
  conn: NatsConnectionHandle | undefined;
  leases: number;
}

const pool = new Map<string, Entry>();

/**
 * A lease on the process's connection to `servers` (`host:port`, the first tried first), opened
 * if there is none. The same list is the same connection; a different list is another.
 */
export async function acquireConnection(servers: readonly string[], address: string, timeoutMs: number): Promise<NatsLease> {
  const server = servers.join(',');
  let entry = pool.get(server);
  if (entry === undefined) {
    const e: Entry = { opening: NatsConnectionHandle.open(servers, address, timeoutMs), conn: undefined, leases: 0 };
    entry = e;
    pool.set(server, e);
    e.opening.then(
      (conn) => {
        e.conn = conn;
        void conn.ended.then(() => {
          if (pool.get(server) === e) pool.delete(server);
        });
      },
      () => {
        if (pool.get(server) === e) pool.delete(server);
      },
    );
  }
  entry.leases++;
  let conn: NatsConnectionHandle;
  try {
    conn = await entry.opening;
  } catch (err) {
    entry.leases--;
    throw err;
  }
  const e = entry;
  let released: Promise<void> | undefined;
  return {
    conn,
    release(flush = true) {
      released ??= (async () => {
        if (--e.leases > 0) return;
        if (pool.get(server) === e) pool.delete(server);
        await conn.close(flush);
      })();
      return released;
    },
  };
}

/**
 * Closes every pooled connection now (its links end as peer-gone). For a test run's last
 * hook: a listener a failed test left open would otherwise keep reconnecting, and the
 * process alive, after its server is gone.
 */
export async function closeAllConnections(): Promise<void> {
  const entries = [...pool.values()];
  pool.clear();
  await Promise.allSettled(entries.map(async (e) => (await e.opening).close(false)));
}
