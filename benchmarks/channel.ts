/**
 * channel.ts: the one interface the measurements (measure.ts) drive, whatever carries the
 * messages: a switchyard Link, a raw Unix socket, child_process IPC, a worker MessagePort.
 *
 * Invariants: `send` never blocks and never drops (a false return only asks the caller to
 * await `drain()`), except on channels whose `reliable` is false, where the network may drop.
 * Replies arrive through the one `onReply` handler, in whatever order the channel gives them.
 */
import { decodeReply, encodeProbe, type Probe, type Reply } from './wire.js';

export interface Channel {
  /** False when messages may be lost (UDP): the measurements then count loss instead of failing. */
  readonly reliable: boolean;
  /** The largest message this channel carries, in bytes. */
  readonly maxMessage: number;
  /** Sends a probe of `size` bytes; false = wait for drain() before sending more. */
  send(probe: Probe, size: number): boolean;
  onReply(handler: (reply: Reply) => void): void;
  /** Resolves when the channel can take more (at once if it can). */
  drain(): Promise<void>;
  /** Ends the channel and its peer; resolves when the peer is gone and every OS object removed. */
  close(): Promise<void>;
}

/**
 * A Channel over some byte-message carrier: keeps one encoded template per (tag, size), so a
 * round trip or a sink costs no allocation. A SINK template is never modified once sent (a
 * carrier may hold it until written); the ECHO template is rewritten only when no echo is in
 * flight, which the round-trip loop guarantees (one at a time, or timed out long ago).
 */
export abstract class ByteChannel implements Channel {
  abstract readonly reliable: boolean;
  abstract readonly maxMessage: number;
  private handler: (reply: Reply) => void = () => {};
  private readonly echoes = new Map<number, Buffer>();
  // The sink template of the phase and size being sent: compared by number, so a sink costs
  // no string key and no Map lookup per message.
  private sink: Buffer | undefined;
  private sinkPhase = -1;
  private sinkSize = -1;

  protected abstract sendBytes(bytes: Buffer): boolean;
  abstract drain(): Promise<void>;
  abstract close(): Promise<void>;

  send(probe: Probe, size: number): boolean {
    switch (probe.tag) {
      case 'echo': {
        let b = this.echoes.get(size);
        if (!b) this.echoes.set(size, (b = encodeProbe(probe, size)));
        else b.writeUInt32BE(probe.seq, 1);
        return this.sendBytes(b);
      }
      case 'sink': {
        if (probe.phase !== this.sinkPhase || size !== this.sinkSize || this.sink === undefined) {
          this.sink = encodeProbe(probe, size);
          this.sinkPhase = probe.phase;
          this.sinkSize = size;
        }
        return this.sendBytes(this.sink);
      }
      case 'report':
        return this.sendBytes(encodeProbe(probe, size));
    }
  }

  onReply(handler: (reply: Reply) => void): void {
    this.handler = handler;
  }

  /** Carriers call this with every message the peer sent. */
  protected deliver(bytes: Uint8Array): void {
    this.handler(decodeReply(bytes));
  }
}
