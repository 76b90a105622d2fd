/**
 * nats-connection.ts: one connection to a NATS server, opened with a deadline and closed
 * with what was published flushed first; the only file that calls the NATS client's
 * connect(). (One idea: the connection's lifetime. What goes over it is nats.ts's.)
 *
 * Invariants:
 * - open() resolves within `timeoutMs` or rejects with a TransportError that names the
 *   address (ECONNREFUSED, ETIMEDOUT, or the client's own code), never with the client's
 *   own error types.
 * - The client reconnects, to another server of the cluster it learnt from the server's INFO
 *   (`connect_urls`), or to the one it lost: `connected` is false from the client's
 *   `disconnect` until its `reconnect`, and watchers hear of both, in order. What the client
 *   has queued when a new socket is made is discarded by the client itself (nats.js v3 has no
 *   reconnectBufSize: its outbound buffer is unbounded while disconnected and reset on each
 *   dial), so nothing should be published while `connected` is false: the ports hold it.
 * - `canFailOver` says whether a reconnect can go anywhere but the server just lost (the
 *   cluster told us of another); without one, links end at once instead of waiting.
 * - `maxPayload` is the server's own limit, from the INFO it sent on connect (the smallest
 *   seen, should a reconnect land on a server with a lower one).
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
/** How long the client waits before dialling a server it tried a moment ago. */
const RECONNECT_WAIT_MS = 250;

/** Told when the connection is lost and when it is back (on the JS thread, in that order). */
export interface ConnectionWatcher {
  disconnected(server: string): void;
  reconnected(server: string): void;
}

export class NatsConnectionHandle {
  private closing: Promise<void> | undefined;
  /** Resolves when the connection ends, for whatever reason, with the error if there was one. */
  readonly ended: Promise<Error | undefined>;
  /** False while the client has lost its server and not yet reached another. */
  connected = true;
  /** Times the client reached a server again after losing one. */
  reconnects = 0;
  private readonly watchers = new Set<ConnectionWatcher>();
  /** Client URLs (`host:port`) of the cluster's servers, from every INFO seen. */
  private readonly known = new Set<string>();

  private constructor(
    readonly nc: NatsConnection,
    public maxPayload: number,
    servers: readonly string[],
  ) {
    this.ended = nc.closed().then((e) => e ?? undefined);
    for (const s of servers) this.known.add(s);
    this.learn();
    void this.watchStatus();
  }

  /** Whether a reconnect could reach a server other than the one in use. */
  get canFailOver(): boolean {
    return this.known.size > 1;
  }

  /** Registers `w` until the returned function is called. */
  watch(w: ConnectionWatcher): () => void {
    this.watchers.add(w);
    return () => this.watchers.delete(w);
  }

  private learn(): void {
    const info = this.nc.info;
    for (const u of info?.connect_urls ?? []) this.known.add(u);
    const mp = info?.max_payload;
    if (mp !== undefined && Number.isInteger(mp) && mp >= 1024 && mp < this.maxPayload) this.maxPayload = mp;
  }

  private async watchStatus(): Promise<void> {
    for await (const s of this.nc.status()) {
      if (s.type === 'disconnect') {
        this.connected = false;
        for (const w of [...this.watchers]) w.disconnected(s.server);
      } else if (s.type === 'reconnect') {
        this.connected = true;
        this.reconnects++;
        this.learn();
        for (const w of [...this.watchers]) w.reconnected(s.server);
      } else if (s.type === 'update') {
        for (const u of s.added ?? []) this.known.add(u);
      }
    }
  }

  /** Connects to `servers` (`host:port`, the first tried first); `address` is what errors quote. */
  static async open(servers: readonly string[], address: string, timeoutMs: number): Promise<NatsConnectionHandle> {
    const server = servers.join(', ');
    const started = Date.now();
    let nc: NatsConnection;
    try {
      const { connect } = await natsClient();
      nc = await connect({
        servers: [...servers],
        // With ?servers=, the first named is the one asked for and the rest are tried in the
        // order given; with one server, the cluster's others (from the INFO) are tried in a
        // random order, so the clients of a dead server do not all move to the same one.
        noRandomize: servers.length > 1,
        timeout: timeoutMs,
        name: `switchyard ${process.pid}`,
        // Links decide how long to wait for a reconnect (their `failover`); the connection
        // keeps trying for as long as anything holds it, and closes with its last lease.
        reconnect: true,
        maxReconnectAttempts: -1,
        reconnectTimeWait: RECONNECT_WAIT_MS,
      });
    } catch (err) {
      throw connectError(err, server, address, Date.now() - started, timeoutMs);
    }
    const maxPayload = nc.info?.max_payload;
    if (maxPayload === undefined || !Number.isInteger(maxPayload) || maxPayload < 1024) {
      await nc.close();
      throw new TransportError('ERR_PROTOCOL', `connect ${address}: the NATS server at ${server} announced no usable max_payload (${String(maxPayload)})`, { address, syscall: 'connect' });
    }
    return new NatsConnectionHandle(nc, maxPayload, servers);
  }

  get isClosed(): boolean {
    return this.nc.isClosed();
  }

  /** `flush`: wait (bounded) for the server to confirm what we published; false after a peer is gone. */
  close(flush = true): Promise<void> {
    this.closing ??= (async () => {
      if (!this.nc.isClosed() && flush && this.connected) {
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
