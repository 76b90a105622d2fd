/**
 * consuming.ts: the consumer side of a remote stream or channel (one InboundStream per
 * subscription to the Observable that `ref.stream()` / `ref.channel()` returned).
 *
 * Credit: `sub` grants `prefetch` values; as values are delivered to the subscriber we give
 * credit back in batches of half the prefetch, so at most `prefetch` values are ever in
 * flight. A producer that sends beyond its credit breaks the protocol (the connection closes).
 * With a Demand (demand.ts, `iterate()`), credit goes back as the consumer takes values
 * instead, in the same batches, so what a slow consumer has not taken stays at the producer.
 * For a channel we are also a producer: the input Observable is subscribed once the stream
 * starts, and its values go out only against the credit the far side grants; the rest wait
 * in a buffer of `bufferSize` under the same overflow policy as the producer's.
 * Invariants: exactly one terminal signal reaches the subscriber; unsubscribing sends
 * `cancel` once (unless the stream already ended) and tears down our input subscription.
 */
import { type Observable, type Subscriber, type Subscription } from 'rxjs';
import { ProtocolError, StreamOverflowError } from '../errors.js';
import type { Connection } from './connection.js';
import type { Demand } from './demand.js';
import { inputCreditListener } from './credited-input.js';
import { MsgType } from './envelope.js';
import type { OverflowPolicy } from './serving.js';
import { errorToWire } from './wire-error.js';

export interface InboundWiring {
  conn: Connection;
  id: number;
  self: string;
  /** `"node/actor"` of the producer. */
  target: string;
  name: string;
  prefetch: number;
  overflow: OverflowPolicy;
  bufferSize: number;
  sendStacks: boolean;
  onEnd: () => void;
  /** Credit follows the consumer's demand, not delivery. */
  demand?: Demand | undefined;
}

export class InboundStream {
  private delivered = 0;
  private outstanding: number;
  private ended = false;
  // channel input state
  private inputSub: Subscription | undefined;
  private inputCredit = 0;
  private readonly inputBuffer: unknown[] = [];
  private inputTerminal: { error?: unknown } | undefined;
  private inputDone = false;

  constructor(
    private readonly w: InboundWiring,
    private readonly subscriber: Subscriber<unknown>,
    private readonly input: Observable<unknown> | undefined,
  ) {
    this.outstanding = w.prefetch;
    w.demand?.attach((n) => this.taken(n));
  }

  get connection(): Connection {
    return this.w.conn;
  }

  /** `"node/actor"` of the producer: only that node answers (B.8). */
  get target(): string {
    return this.w.target;
  }

  /** Subscribes to the channel's input, once the `sub` is on its way. */
  startInput(): void {
    if (!this.input || this.ended) return;
    const sub = this.input.subscribe({
      next: (v) => this.onInput(v),
      error: (e: unknown) => this.onInputTerminal({ error: e }),
      complete: () => this.onInputTerminal({}),
    });
    if (this.inputDone || this.ended) sub.unsubscribe();
    else this.inputSub = sub;
  }

  onNext(v: unknown): void {
    if (this.ended) return;
    if (this.outstanding <= 0) throw new ProtocolError(`stream ${this.w.name}: producer sent beyond the credit granted`, 'ERR_CREDIT');
    this.outstanding--;
    this.subscriber.next(v);
    if (this.ended || this.w.demand !== undefined) return;
    this.taken(1);
  }

  /** `n` values were consumed: credit goes back in batches of half the prefetch. */
  private taken(n: number): void {
    if (this.ended) return;
    this.delivered += n;
    if (this.delivered >= Math.max(1, this.w.prefetch >> 1)) {
      this.outstanding += this.delivered;
      this.send(MsgType.credit, this.delivered, this.w.target);
      this.delivered = 0;
    }
  }

  onComplete(): void {
    if (this.ended) return;
    this.end();
    this.subscriber.complete();
  }

  onError(err: Error): void {
    if (this.ended) return;
    this.end();
    this.subscriber.error(err);
  }

  /** A value from the producer was refused (PROTOCOL.md B.3): cancel there, error here. */
  refuse(err: Error): void {
    if (this.ended) return;
    this.send(MsgType.cancel, null, this.w.target);
    this.end();
    this.subscriber.error(err);
  }

  /** Credit for our channel input, from the producer. */
  onInputCredit(n: number): void {
    if (this.ended || this.inputDone) return;
    this.inputCredit += n;
    this.flushInput();
    // a credited input's source (credited-input.ts) emits against this, after our buffer drained
    if (this.input && !this.inputDone && !this.ended) inputCreditListener(this.input)?.(this.inputCredit);
  }

  /** The producer does not want more input. */
  onInputCancel(): void {
    this.stopInput();
  }

  /** The subscriber unsubscribed before the stream ended. */
  cancel(): void {
    if (this.ended) return;
    this.send(MsgType.cancel, null, this.w.target);
    this.end();
  }

  private onInput(v: unknown): void {
    if (this.inputDone || this.ended || this.inputTerminal) return;
    if (this.inputCredit > 0 && this.inputBuffer.length === 0) {
      this.inputCredit--;
      this.sendInput(MsgType.next, v);
      return;
    }
    if (this.inputBuffer.length < this.w.bufferSize) {
      this.inputBuffer.push(v);
      return;
    }
    switch (this.w.overflow) {
      case 'drop-newest':
        return;
      case 'drop-oldest':
        this.inputBuffer.shift();
        this.inputBuffer.push(v);
        return;
      case 'error': {
        const err = new StreamOverflowError(`${this.w.name} (channel input)`, this.w.bufferSize);
        this.stopInput();
        this.send(MsgType.cancel, null, this.w.target);
        this.end();
        this.subscriber.error(err);
      }
    }
  }

  private onInputTerminal(t: { error?: unknown }): void {
    if (this.inputDone || this.ended || this.inputTerminal) return;
    this.inputTerminal = t;
    this.flushInput();
  }

  private flushInput(): void {
    while (this.inputCredit > 0 && this.inputBuffer.length > 0 && !this.inputDone) {
      this.inputCredit--;
      this.sendInput(MsgType.next, this.inputBuffer.shift());
    }
    if (this.inputBuffer.length === 0 && this.inputTerminal && !this.inputDone) {
      const t = this.inputTerminal;
      this.inputDone = true;
      if ('error' in t) this.sendInput(MsgType.error, errorToWire(t.error, this.w.sendStacks));
      else this.sendInput(MsgType.complete, null);
    }
  }

  private sendInput(type: MsgType, payload: unknown): void {
    try {
      this.w.conn.send({ type, id: this.w.id, to: this.w.target, from: this.w.self, payload, hops: 0 });
    } catch (err) {
      // an input value that cannot be encoded ends the channel with that error
      if (this.ended) return;
      this.stopInput();
      if (this.w.conn.isOpen) this.send(MsgType.cancel, null, this.w.target);
      this.end();
      this.subscriber.error(err);
    }
  }

  private stopInput(): void {
    this.inputDone = true;
    this.inputBuffer.length = 0;
    const s = this.inputSub;
    this.inputSub = undefined;
    s?.unsubscribe();
  }

  private send(type: MsgType, payload: unknown, to: string): void {
    if (!this.w.conn.isOpen) return;
    try {
      this.w.conn.send({ type, id: this.w.id, to, from: this.w.self, payload, hops: 0 });
    } catch {
      // connection gone: its close handler errors this stream
    }
  }

  private end(): void {
    if (this.ended) return;
    this.ended = true;
    this.stopInput();
    this.w.onEnd();
  }
}
