/**
 * responder.ts: what every byte-channel bench peer does with a probe (see wire.ts): echo it,
 * count it, or report the count. One implementation, so that our Links and the baselines are
 * answered by exactly the same work.
 */
import { ACK, ECHO, FILLER, QUIT, REPORT, SINK } from './wire.js';

export interface ResponderOptions {
  /** Copy echoed frames before replying (a Link's frame is only valid during the callback). */
  copyEcho: boolean;
  /** Send an ACK after every this many sinks of a phase; 0 = never. */
  ackEvery?: number;
  /** Called on QUIT; without it QUIT is an unknown probe. */
  onQuit?: () => void;
}

export class Responder {
  private readonly frames = new Map<number, number>();
  private readonly bytes = new Map<number, number>();

  constructor(private readonly options: ResponderOptions) {}

  /** Handles one probe; `reply` sends bytes back on the same channel. */
  handle(frame: Uint8Array, reply: (bytes: Uint8Array) => void): void {
    const b = Buffer.from(frame.buffer, frame.byteOffset, frame.byteLength);
    switch (b[0]) {
      case ECHO:
        reply(this.options.copyEcho ? Buffer.from(b) : b);
        return;
      case SINK: {
        const phase = b.readUInt32BE(1);
        // Read the payload, one byte per cache line, and check it is the filler: a receiver
        // that never touches the bytes would flatter zero-copy transports (shm hands over a
        // view into the ring, the kernel paths copy), and a wrong payload must not count.
        for (let i = 5; i < b.length; i += 64) {
          if (b[i] !== FILLER) throw new Error(`bench peer: sink frame corrupt at byte ${i} (0x${b[i]!.toString(16)})`);
        }
        const n = (this.frames.get(phase) ?? 0) + 1;
        this.frames.set(phase, n);
        this.bytes.set(phase, (this.bytes.get(phase) ?? 0) + b.byteLength);
        const every = this.options.ackEvery ?? 0;
        if (every > 0 && n % every === 0) {
          const ack = Buffer.alloc(9);
          ack[0] = ACK;
          ack.writeUInt32BE(phase, 1);
          ack.writeUInt32BE(n, 5);
          reply(ack);
        }
        return;
      }
      case REPORT: {
        const phase = b.readUInt32BE(1);
        const out = Buffer.alloc(17);
        out[0] = REPORT;
        out.writeUInt32BE(b.readUInt32BE(5), 1);
        out.writeUInt32BE(this.frames.get(phase) ?? 0, 5);
        out.writeDoubleBE(this.bytes.get(phase) ?? 0, 9);
        reply(out);
        return;
      }
      case QUIT:
        if (this.options.onQuit) return this.options.onQuit();
        throw new Error('bench peer: QUIT, but this peer exits another way');
      default:
        throw new Error(`bench peer: unknown probe tag ${b[0]}`);
    }
  }
}
