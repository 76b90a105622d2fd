/**
 * fake-channel.ts: an in-process Channel for testing the measurements themselves: the shared
 * Responder answers on the next turn of the event loop, and a `drop` rule decides which
 * messages (either way) vanish, so loss handling can be checked exactly.
 */
import { ByteChannel } from '../../benchmarks/channel.js';
import { Responder } from '../../benchmarks/responder.js';

export type Direction = 'out' | 'back';

export class FakeChannel extends ByteChannel {
  readonly maxMessage = 1 << 20;
  /** Messages that reached the responder, by first byte. */
  readonly arrived = new Map<number, number>();
  private readonly responder = new Responder({ copyEcho: true });
  private closed = false;

  constructor(
    readonly reliable: boolean,
    private readonly drop: (bytes: Buffer, direction: Direction) => boolean = () => false,
  ) {
    super();
  }

  protected sendBytes(bytes: Buffer): boolean {
    const copy = Buffer.from(bytes);
    setImmediate(() => {
      if (this.closed || this.drop(copy, 'out')) return;
      this.arrived.set(copy[0]!, (this.arrived.get(copy[0]!) ?? 0) + 1);
      this.responder.handle(copy, (reply) => {
        const r = Buffer.from(reply);
        setImmediate(() => {
          if (!this.closed && !this.drop(r, 'back')) this.deliver(r);
        });
      });
    });
    return true;
  }

  async drain(): Promise<void> {}

  async close(): Promise<void> {
    this.closed = true;
  }
}
