/**
 * loss-watch.ts: tells the system's owner when a best-effort link loses frames. A transport
 * that may lose frames (`capabilities.reliable` false: udp, nats) counts them in
 * `link.stats.lost`, exactly; without this, the loss would show only there, which the bus's
 * users never see (an ask among them would just time out).
 *
 * Invariants: one timer per connection on such a link, unref'd (it never keeps a process
 * alive), checked once a second, stopped when the connection ends; a report carries the frames
 * lost since the last one, so a burst of losses is one report, and nothing is reported while
 * nothing is lost. Reliable links are not watched: a loss there is a protocol error already.
 */
import { FramesLostError } from '../errors.js';
import type { Connection } from './connection.js';

/** How often the link's counter is read. */
export const LOSS_CHECK_MS = 1000;

/** Watches `conn`'s link until the connection ends; `report` gets each FramesLostError. */
export function watchLoss(conn: Connection, report: (err: FramesLostError) => void): void {
  const link = conn.link;
  if (link.capabilities.reliable || link.stats === undefined) return;
  let seen = link.stats.lost;
  const timer = setInterval(() => {
    const total = link.stats?.lost ?? seen;
    if (total <= seen) return;
    const lost = total - seen;
    seen = total;
    report(new FramesLostError(conn.peer, link.remote, lost, total));
  }, LOSS_CHECK_MS);
  timer.unref();
  void conn.closed.then(() => clearInterval(timer));
}
