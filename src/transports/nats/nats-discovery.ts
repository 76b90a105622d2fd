/**
 * nats-discovery.ts: systems finding each other through the broker (docs/PROTOCOL.md §9,
 * Discovery). An Announcer publishes what a listener's system is, once per period, on its
 * prefix's announce subject, answers a watcher's query at once, and says `bye` when stopped;
 * watchDiscovery() turns those announcements into arrivals, changes and departures.
 *
 * Why this shape: liveness for discovery is one message per listener per period, on a
 * subject of its own, whatever the number of links or peers (moleculer's per-peer heartbeats
 * are what saturated its bus); data subjects carry none of it.
 *
 * Invariants:
 * - An Announcer publishes nothing after stop(), whose last message is its `bye`; it answers
 *   queries at most once per QUERY_GAP_MS, so a burst of watchers costs one answer.
 * - A watcher reports `arrived` once per announcer id before any `updated` or `departed`
 *   for it, and `departed` once (on `bye`, or after MISSED periods of silence by the
 *   announcer's own period), after which that id is forgotten; its own announcements are the
 *   caller's to filter. It tracks at most MAX_TRACKED announcers (beyond: ignored).
 * - Malformed announcements are ignored (nats-announcement.ts decides).
 */
import { randomBytes } from 'node:crypto';
import type { Msg, Subscription } from '@nats-io/transport-node';
import type { Announcement, DiscoveryEvent, DiscoveryWatch } from '../core/transport.js';
import { announceSubject, decodeAnnouncement, encodeAnnouncement, querySubject, type AnnouncementMessage } from './nats-announcement.js';
import type { NatsConnectionHandle } from './nats-connection.js';
import type { NatsLease } from './nats-pool.js';

/** Periods of silence after which an announcer counts as departed. */
export const MISSED = 3;
const QUERY_GAP_MS = 100;
const MAX_TRACKED = 10_000;

export class Announcer {
  private readonly id = randomBytes(16).toString('hex');
  private timer: NodeJS.Timeout | undefined;
  private querySub: Subscription | undefined;
  private lastAnswer = 0;
  private stopped = false;

  constructor(
    private readonly conn: NatsConnectionHandle,
    private readonly prefix: readonly string[],
    private readonly address: string,
    private readonly periodMs: number,
    private readonly describe: () => Announcement,
  ) {
    this.querySub = conn.nc.subscribe(querySubject(prefix), {
      callback: () => {
        const now = Date.now();
        if (now - this.lastAnswer < QUERY_GAP_MS) return;
        this.lastAnswer = now;
        this.publish('alive');
      },
    });
    this.publish('alive');
    this.timer = setInterval(() => this.publish('alive'), periodMs);
    this.timer.unref();
  }

  private publish(kind: 'alive' | 'bye'): void {
    if (this.conn.isClosed || !this.conn.connected) return; // the next period says it again
    let d: Announcement;
    try {
      d = this.describe();
    } catch {
      return; // a describe() that throws must not break a timer
    }
    const m: AnnouncementMessage = { kind, id: this.id, name: d.name, address: this.address, actors: [...d.actors], periodMs: this.periodMs };
    this.conn.nc.publish(announceSubject(this.prefix), encodeAnnouncement(m, this.conn.maxPayload));
  }

  /** Stops announcing; the last message is a `bye`. */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    clearInterval(this.timer);
    if (!this.conn.isClosed) this.querySub?.unsubscribe();
    this.publish('bye');
  }
}

interface Tracked {
  name: string;
  address: string;
  actors: string[];
  periodMs: number;
  lastSeen: number;
}

function sameActors(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** Watches `prefix` on the lease's connection; the lease is released by close(). */
export function watchDiscovery(lease: NatsLease, prefix: readonly string[], onEvent: (e: DiscoveryEvent) => void): DiscoveryWatch {
  const conn = lease.conn;
  const known = new Map<string, Tracked>();
  const report = (type: DiscoveryEvent['type'], t: Tracked, reason?: 'bye' | 'silent'): void => {
    try {
      onEvent({ type, name: t.name, actors: [...t.actors], address: t.address, ...(reason ? { reason } : {}) });
    } catch {
      // the caller's handler is the caller's; a throw must not stop the watch
    }
  };
  const sub = conn.nc.subscribe(announceSubject(prefix), {
    callback: (err: Error | null, msg: Msg) => {
      if (err) return;
      const m = decodeAnnouncement(msg.data);
      if (m === null) return;
      const t = known.get(m.id);
      if (m.kind === 'bye') {
        if (t) {
          known.delete(m.id);
          report('departed', t, 'bye');
        }
        return;
      }
      if (!t) {
        if (known.size >= MAX_TRACKED) return;
        const n: Tracked = { name: m.name, address: m.address, actors: m.actors, periodMs: m.periodMs, lastSeen: Date.now() };
        known.set(m.id, n);
        report('arrived', n);
        return;
      }
      t.lastSeen = Date.now();
      t.periodMs = m.periodMs;
      if (!m.truncated && !sameActors(t.actors, m.actors)) {
        t.actors = m.actors;
        report('updated', t);
      }
    },
  });
  // Silence is judged here, locally: no broker traffic.
  const sweep = setInterval(() => {
    const now = Date.now();
    // While our own connection is down we hear nobody: that is not their silence.
    if (!conn.connected) {
      for (const t of known.values()) t.lastSeen = now;
      return;
    }
    for (const [id, t] of known) {
      if (now - t.lastSeen > MISSED * t.periodMs + t.periodMs / 2) {
        known.delete(id);
        report('departed', t, 'silent');
      }
    }
  }, 100);
  sweep.unref();
  // Everyone already there answers at once, rather than at their next period.
  conn.nc.publish(querySubject(prefix), new Uint8Array(0));
  let closed: Promise<void> | undefined;
  return {
    close() {
      closed ??= (async () => {
        clearInterval(sweep);
        if (!conn.isClosed) sub.unsubscribe();
        await lease.release();
      })();
      return closed;
    },
  };
}
