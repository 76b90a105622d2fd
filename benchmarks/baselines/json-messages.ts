/**
 * json-messages.ts: the probes of wire.ts as the JSON objects a JSON-message user would send
 * (child_process 'json' serialization, node-ipc): `{ t, n, d }`, with `d` a string of `size`
 * characters. One responder for the peers and one channel base for the bench side, so both
 * JSON baselines do exactly the same work.
 *
 *   { t: 'e', n: seq, d }          echo: sent back unchanged
 *   { t: 's', n: phase, d }        sink: counted, `d.length` as bytes
 *   { t: 'r', n: phase, k: nonce } report request -> { t: 'r', k, frames, bytes }
 *   { t: 'a', n: phase, c: count } ack (peer -> bench) every `ackEvery(size)` sinks, for credit
 */
import type { Channel } from '../channel.js';
import type { Probe, Reply } from '../wire.js';

export type JsonProbe = { t: 'e'; n: number; d: string } | { t: 's'; n: number; d: string } | { t: 'r'; n: number; k: number };
export type JsonReply =
  | { t: 'e'; n: number; d: string }
  | { t: 'r'; k: number; frames: number; bytes: number }
  | { t: 'a'; n: number; c: number };

export class JsonResponder {
  private readonly frames = new Map<number, number>();
  private readonly bytes = new Map<number, number>();

  /** `ackEvery(size)`: sinks between two acks (credit.ts's ackInterval); absent = no acks. */
  constructor(private readonly ackEvery?: (size: number) => number) {}

  handle(m: JsonProbe, reply: (r: JsonReply) => void): void {
    switch (m.t) {
      case 'e':
        reply(m);
        return;
      case 's': {
        const n = (this.frames.get(m.n) ?? 0) + 1;
        this.frames.set(m.n, n);
        this.bytes.set(m.n, (this.bytes.get(m.n) ?? 0) + m.d.length);
        if (this.ackEvery && n % this.ackEvery(m.d.length) === 0) reply({ t: 'a', n: m.n, c: n });
        return;
      }
      case 'r':
        reply({ t: 'r', k: m.k, frames: this.frames.get(m.n) ?? 0, bytes: this.bytes.get(m.n) ?? 0 });
        return;
      default:
        throw new Error(`json peer: unknown message ${JSON.stringify(m).slice(0, 80)}`);
    }
  }
}

/** A Channel that speaks JsonProbe; subclasses post messages and call `receive` with replies. */
export abstract class JsonChannel implements Channel {
  abstract readonly reliable: boolean;
  abstract readonly maxMessage: number;
  private payload = '';
  private handler: (reply: Reply) => void = () => {};

  /** Posts one message of about `bytes` payload bytes; false = wait for drain(). */
  protected abstract post(m: JsonProbe, bytes: number): boolean;
  abstract drain(): Promise<void>;
  abstract close(): Promise<void>;
  /** Called with every ack (credit-based subclasses count them). */
  protected onAck(_phase: number, _count: number): void {}

  send(probe: Probe, size: number): boolean {
    if (probe.tag === 'report') return this.post({ t: 'r', n: probe.phase, k: probe.nonce }, 16);
    if (this.payload.length !== size) this.payload = 'x'.repeat(size);
    const m: JsonProbe = probe.tag === 'echo' ? { t: 'e', n: probe.seq, d: this.payload } : { t: 's', n: probe.phase, d: this.payload };
    return this.post(m, size);
  }

  onReply(handler: (reply: Reply) => void): void {
    this.handler = handler;
  }

  protected receive(m: JsonReply): void {
    switch (m.t) {
      case 'e':
        this.handler({ tag: 'echo', seq: m.n });
        return;
      case 'r':
        this.handler({ tag: 'report', nonce: m.k, frames: m.frames, bytes: m.bytes });
        return;
      case 'a':
        this.onAck(m.n, m.c);
        return;
      default:
        throw new Error(`bench: unexpected JSON reply ${JSON.stringify(m).slice(0, 80)}`);
    }
  }
}
