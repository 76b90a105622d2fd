/**
 * inflow.ts: what one peer's connection has made this node hold, and the pause of its
 * reading that keeps it bounded (issue 14).
 *
 * Reading is paused while any reason holds: a mailbox it fed is full (Backpressure, until
 * relieved), the answers we owe it are not draining, or the link we forward its messages
 * over (its requests toward an actor, its answers toward a requester) is not draining (until
 * that link's drain()). Each reason holds once however many messages meet it, and the link
 * is resumed when the last lets go. Counters of asks and streams served for this peer back
 * the per-peer limits.
 * Invariants: link.pause() once when the first hold starts, link.resume() once when the
 * last ends (never after the connection ended); the same Backpressure, or a wait for the
 * same link to drain, is held at most once at a time.
 */
import type { Link } from '../transports/core/transport.js';
import type { Backpressure, PressureSink } from './host.js';

export class Inflow implements PressureSink {
  /** Asks received on this connection and not yet answered. */
  asks = 0;
  /** Streams and channels served on this connection and not yet ended. */
  streams = 0;
  private holds = 0;
  private readonly pressures = new Set<Backpressure>();
  private readonly draining = new Set<Link>();
  private ended = false;

  constructor(
    private readonly link: Link,
    /** Told when reading resumes: silence while paused was ours, not the peer's. */
    private readonly onResume: () => void,
  ) {}

  /** Reading is paused by at least one hold. */
  get held(): boolean {
    return this.holds > 0;
  }

  /** What a request was delivered to is full: hold reading until it is relieved. */
  pressed(by: Backpressure): void {
    if (this.ended || this.pressures.has(by)) return;
    this.pressures.add(by);
    this.hold();
    by.whenRelieved(() => {
      this.pressures.delete(by);
      this.release();
    });
  }

  /**
   * Something this peer caused went out on `out` above its high-water mark (an answer to it
   * on its own link, or a request of its that we forwarded): read no more from this peer
   * until `out` drains, so a peer that does not read (or a slow next hop) cannot make us
   * queue without end.
   */
  backedUp(out: Link = this.link): void {
    if (this.ended || this.draining.has(out)) return;
    this.draining.add(out);
    this.hold();
    const done = (): void => {
      this.draining.delete(out);
      this.release();
    };
    out.drain().then(done, done);
  }

  /** The connection ended: nothing more is paused or resumed. */
  end(): void {
    this.ended = true;
    this.pressures.clear();
    this.draining.clear();
  }

  private hold(): void {
    if (this.holds++ === 0) this.link.pause();
  }

  private release(): void {
    if (--this.holds > 0 || this.ended) return;
    this.onResume();
    this.link.resume();
  }
}
