/**
 * nats-helpers.ts: what the nats test files share: reading a test server's monitoring
 * endpoints (/connz, /varz), waiting for the server's count of client connections,
 * and a listener whose accepted links a test awaits one at a time.
 */
import { expect } from 'chai';
import { listen, type Link, type Listener } from '../../src/index.js';
import type { NatsServer } from '../fixtures/nats-server.js';
import { withTimeout } from '../setup/timing.js';

export interface Connz {
  num_connections: number;
  connections: { name?: string; subscriptions: number; subscriptions_list?: string[] }[];
}
export interface Varz {
  max_payload: number;
  slow_consumers: number;
}

export async function monitor<T>(server: NatsServer, path: string): Promise<T> {
  const res = await fetch(`${server.monitorUrl!}${path}`);
  return (await res.json()) as T;
}

/** Waits (up to 2 s) until the server counts `n` client connections; fails naming the count it saw. */
export async function connectionsBecome(server: NatsServer, n: number): Promise<void> {
  let seen = -1;
  for (let i = 0; i < 100; i++) {
    seen = (await monitor<Connz>(server, '/connz')).num_connections;
    if (seen === n) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  expect(seen, 'client connections on the server').to.equal(n);
}

/** A listener at `prefix` on `server` whose accepted links are queued for accepted(). */
export async function listenAt(server: NatsServer, prefix: string, query = ''): Promise<{ listener: Listener; accepted: () => Promise<Link> }> {
  const queue: Link[] = [];
  let wake: (() => void) | undefined;
  const listener = await listen(`${server.url}/${prefix}${query}`, (link) => {
    queue.push(link);
    wake?.();
  });
  const accepted = async (): Promise<Link> => {
    while (queue.length === 0) await withTimeout(new Promise<void>((r) => (wake = r)), 5_000, 'an accepted link');
    return queue.shift()!;
  };
  return { listener, accepted };
}

