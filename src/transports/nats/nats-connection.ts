/**
 * nats-connection.ts: one connection to a NATS server, opened with a deadline and closed
 * with what was published flushed first; the only file that calls the NATS client's
 * connect(). (One idea: the connection's lifetime. What goes over it is nats.ts's.)
 *
 * Invariants:
 * - open() resolves within `timeoutMs` or rejects with a TransportError that names the
 *   address (ECONNREFUSED, ETIMEDOUT, or the client's own code), never with the client's
 *   own error types.
 * - The client never reconnects: a link over NATS core cannot tell what a server change lost,
 *   so for now losing the server ends every link on the connection (as peer-gone), at once
 *   rather than after the heartbeat timeout. Resuming through another server of a cluster
 *   is a later step (issue 15, item 3).
 * - `maxPayload` is the server's own limit, from the INFO it sent on connect.
 * - close() is idempotent, waits at most `FLUSH_MS` for the server to take what we published
 *   (the client's own close() drops unflushed bytes) unless told there is nothing worth
 *   waiting for, and resolves once the socket is released.
 */
import type { NatsConnection } from '@nats-io/transport-node';
import { TransportError } from '../../errors.js';

/**
 * The NATS client, loaded on first use: only a process that uses nats:// pays for it.
 * Measured: merely importing it at startup halved another transport's throughput in the same
 * process (udp at 64 KiB, link level: 7-9k frames/s against 14-20k without the import).
 */
export type NatsClient = typeof import('@nats-io/transport-node');
let client: Promise<NatsClient> | undefined;
export function natsClient(): Promise<NatsClient> {
  client ??= import('@nats-io/transport-node');
  return client;
}

/** How long close() waits for the server to confirm it has everything we published. */
const FLUSH_MS = 1000;

export class NatsConnectionHandle {
  private closing: Promise<void> | undefined;
  /** Resolves when the connection ends, for whatever reason, with the error if there was one. */
  readonly ended: Promise<Error | undefined>;

  private constructor(
    readonly nc: NatsConnection,
    readonly maxPayload: number,
  ) {
    this.ended = nc.closed().then((e) => e ?? undefined);
  }

  /** Connects to `server` (`host:port`); `address` is what errors quote. */
  static async open(server: string, address: string, timeoutMs: number): Promise<NatsConnectionHandle> {
    const started = Date.now();
    let nc: NatsConnection;
    try {
      const { connect } = await natsClient();
      nc = await connect({ servers: server, timeout: timeoutMs, reconnect: false, name: `switchyard ${process.pid}` });
    } catch (err) {
      throw connectError(err, server, address, Date.now() - started, timeoutMs);
    }
    const maxPayload = nc.info?.max_payload;
    if (maxPayload === undefined || !Number.isInteger(maxPayload) || maxPayload < 1024) {
      await nc.close();
      throw new TransportError('ERR_PROTOCOL', `connect ${address}: the NATS server at ${server} announced no usable max_payload (${String(maxPayload)})`, { address, syscall: 'connect' });
    }
    return new NatsConnectionHandle(nc, maxPayload);
  }

  get isClosed(): boolean {
    return this.nc.isClosed();
  }

  /** `flush`: wait (bounded) for the server to confirm what we published; false after a peer is gone. */
  close(flush = true): Promise<void> {
    this.closing ??= (async () => {
      if (!this.nc.isClosed() && flush) {
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([this.nc.flush().catch(() => {}), new Promise((r) => (timer = setTimeout(r, FLUSH_MS)))]);
        clearTimeout(timer);
      }
      if (!this.nc.isClosed()) await this.nc.close().catch(() => {});
      await this.ended;
      // The client has destroyed its socket; let libuv run the close callback that frees the fd.
      await new Promise((r) => setImmediate(r));
    })();
    return this.closing;
  }
}

function connectError(err: unknown, server: string, address: string, elapsed: number, timeoutMs: number): TransportError {
  const e = err as { name?: string; message?: string; cause?: { code?: string; errno?: number } };
  const hint = '(is nats-server running there? Debian: apt-get install -y nats-server)';
  if (e?.cause?.code === 'ECONNREFUSED') {
    return new TransportError('ECONNREFUSED', `connect ${address}: no NATS server at ${server}: connection refused ${hint}`, { address, syscall: 'connect', errno: 111, cause: err });
  }
  if (e?.name === 'TimeoutError' || elapsed >= timeoutMs) {
    return new TransportError('ETIMEDOUT', `connect ${address}: no NATS server at ${server} answered within ${timeoutMs} ms ${hint}`, { address, syscall: 'connect', errno: 110, cause: err });
  }
  const code = e?.cause?.code ?? 'ERR_TRANSPORT';
  return new TransportError(code, `connect ${address}: NATS server at ${server}: ${e?.message ?? String(err)}`, { address, syscall: 'connect', cause: err });
}
