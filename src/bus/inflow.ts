/**
 * inflow.ts: what one peer's connection has made this node hold, and the pause of its
 * reading that keeps it bounded (issue 14).
 *
 * Reading is paused while any reason holds: a mailbox it fed is full (Backpressure, until
 * relieved), or the answers we owe it are not draining (until the link's drain()). Each
 * reason holds once however many messages meet it, and the link is resumed when the last
 * lets go. Counters of asks and streams served for this peer back the per-peer limits.
 * Invariants: link.pause() once when the first hold starts, link.resume() once when the
 * last ends (never after the connection ended); the same Backpressure or drain wait is held
 * at most once at a time.
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
  private waitingDrain = false;
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
   * An answer went out above the link's high-water mark: read no more requests until the
   * link drains, so a peer that does not read its answers cannot make us queue without end.
   */
  answersBackedUp(): void {
    if (this.ended || this.waitingDrain) return;
    this.waitingDrain = true;
    this.hold();
    const done = (): void => {
      this.waitingDrain = false;
      this.release();
    };
    this.link.drain().then(done, done);
  }

  /** The connection ended: nothing more is paused or resumed. */
  end(): void {
    this.ended = true;
    this.pressures.clear();
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
