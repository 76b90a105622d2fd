/**
 * responder.ts: what every byte-channel bench peer does with a probe (see wire.ts): echo it,
 * count it, or report the count. One implementation, so that our Links and the baselines are
 * answered by exactly the same work.
 */
import { ACK, ECHO, FILLER, QUIT, REPORT, SINK } from './wire.js';

export interface ResponderOptions {
  /** Copy echoed frames before replying (a Link's frame is only valid during the callback). */
  copyEcho: boolean;
  /**
   * Send an ACK after every `ackEvery(size)` sinks of a phase of `size`-byte sinks (credit.ts's
   * ackInterval); absent = never. Evaluated once per phase, not per sink.
   */
  ackEvery?: (size: number) => number;
  /** Called on QUIT; without it QUIT is an unknown probe. */
  onQuit?: () => void;
}

/** A big-endian u32 at `at`, read straight from the frame: no Buffer made per message. */
function u32(b: Uint8Array, at: number): number {
  return ((b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!) >>> 0;
}

export class Responder {
  private readonly frames = new Map<number, number>();
  private readonly bytes = new Map<number, number>();
  // The phase being counted now, kept out of the maps: a sink then costs a few loads and
  // adds, not a Buffer and four Map operations. The harness must cost far less than the
  // fastest transport it measures, or every fast transport reads as the harness's speed.
  private phase = -1;
  private phaseFrames = 0;
  private phaseBytes = 0;
  // Sinks between two ACKs in the phase being counted; 0 = no ACKs.
  private every = 0;

  constructor(private readonly options: ResponderOptions) {}

  /** Handles one probe; `reply` sends bytes back on the same channel. */
  handle(frame: Uint8Array, reply: (bytes: Uint8Array) => void): void {
    switch (frame[0]) {
      case ECHO:
        reply(this.options.copyEcho ? frame.slice() : frame);
        return;
      case SINK: {
        const phase = u32(frame, 1);
        const len = frame.length;
        // Read the payload, one byte per cache line, and check it is the filler: a receiver
        // that never touches the bytes would flatter zero-copy transports (shm hands over a
        // view into the ring, the kernel paths copy), and a wrong payload must not count.
        for (let i = 5; i < len; i += 64) {
          if (frame[i] !== FILLER) throw new Error(`bench peer: sink frame corrupt at byte ${i} (0x${frame[i]!.toString(16)})`);
        }
        if (phase !== this.phase) this.switchPhase(phase, len);
        const n = ++this.phaseFrames;
        this.phaseBytes += len;
        const every = this.every;
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
        const phase = u32(frame, 1);
        if (phase === this.phase) this.switchPhase(-1);
        const out = Buffer.alloc(17);
        out[0] = REPORT;
        out.writeUInt32BE(u32(frame, 5), 1);
        out.writeUInt32BE(this.frames.get(phase) ?? 0, 5);
        out.writeDoubleBE(this.bytes.get(phase) ?? 0, 9);
        reply(out);
        return;
      }
      case QUIT:
        if (this.options.onQuit) return this.options.onQuit();
        throw new Error('bench peer: QUIT, but this peer exits another way');
      default:
        throw new Error(`bench peer: unknown probe tag ${frame[0]}`);
    }
  }

  /** Files the current phase's counts in the maps and starts counting `phase` (-1: none) of `size`-byte sinks. */
  private switchPhase(phase: number, size = 0): void {
    if (this.phase !== -1) {
      this.frames.set(this.phase, this.phaseFrames);
      this.bytes.set(this.phase, this.phaseBytes);
    }
    this.phase = phase;
    this.phaseFrames = phase === -1 ? 0 : (this.frames.get(phase) ?? 0);
    this.phaseBytes = phase === -1 ? 0 : (this.bytes.get(phase) ?? 0);
    this.every = phase === -1 || !this.options.ackEvery ? 0 : this.options.ackEvery(size);
  }
}
