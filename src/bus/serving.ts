/**
 * serving.ts: the producer side of a remote stream or channel: one OutboundStream per `sub`
 * received, and, for a channel, the InputPort its handler reads the consumer's input from.
 *
 * Flow control (Reactive Streams, as RSocket does it): the consumer grants credit; we send at
 * most that many `next`s. Values the source emits beyond the credit wait in a buffer of
 * `bufferSize`; when it is full the stream's overflow policy decides: `'error'` ends the stream
 * with StreamOverflowError, `'drop-oldest'` / `'drop-newest'` discard a value.
 * A terminal signal (complete/error) is sent after the buffered values, in order.
 * Invariants: the source subscription is torn down exactly once (cancel, terminal, overflow,
 * or connection loss); nothing is sent after the terminal message.
 */
import { Observable, isObservable, type Subscriber, type Subscription } from 'rxjs';
import { ProtocolError, StreamOverflowError } from '../errors.js';
import type { Connection } from './connection.js';
import { CreditPull } from './credit-pull.js';
import { MsgType } from './envelope.js';
import type { StreamSource } from './source.js';
import { errorToWire } from './wire-error.js';

export type OverflowPolicy = 'error' | 'drop-oldest' | 'drop-newest';

export const OVERFLOW_POLICIES: readonly OverflowPolicy[] = ['error', 'drop-oldest', 'drop-newest'];

/** A checked `sub` payload. */
export interface SubRequest {
  name: string;
  args: unknown[];
  credit: number;
  channel: boolean;
  overflow: OverflowPolicy;
  bufferSize: number;
}

/** Largest credit or buffer a peer may ask for in one message. */
export const MAX_CREDIT = 2 ** 31 - 1;

/** Where an OutboundStream sends, and what it tells its owner. */
interface Wiring {
  conn: Connection;
  requester: string;
  id: number;
  self: string;
  sendStacks: boolean;
  /** Called once when the stream has ended for any reason, to forget it. */
  onEnd: () => void;
}

export class OutboundStream {
  private credit: number;
  private readonly buffer: unknown[] = [];
  private sub: Subscription | undefined;
  private puller: CreditPull | undefined;
  private ended = false;
  private pendingTerminal: { error?: unknown } | undefined;
  readonly input: InputPort | undefined;
  /** Values sent and not yet acknowledged by returned credit: at most the initial credit. */
  inFlight = 0;

  constructor(
    private readonly w: Wiring,
    private readonly req: SubRequest,
  ) {
    this.credit = req.credit;
    this.input = req.channel ? new InputPort(w, req.credit) : undefined;
  }

  /**
   * Starts the source the actor's handler returned. An Observable is subscribed (it pushes;
   * the buffer and overflow policy apply). An iterable or async iterable is pulled: one value
   * per unit of credit, so it needs no buffer and never overflows.
   */
  start(source: StreamSource): void {
    if (this.ended) return;
    if (!isObservable(source)) {
      this.startPull(source);
      return;
    }
    const sub = source.subscribe({
      next: (v) => this.onValue(v),
      error: (e: unknown) => this.onTerminal({ error: e }),
      complete: () => this.onTerminal({}),
    });
    if (this.ended) sub.unsubscribe();
    else this.sub = sub;
  }

  /** The handler could not produce a source (no such stream, it threw...). */
  fail(err: unknown): void {
    if (this.ended) return;
    this.sendError(err);
    this.end();
  }

  addCredit(n: number): void {
    if (this.ended) return;
    this.credit = Math.min(MAX_CREDIT, this.credit + n);
    this.inFlight -= n;
    if (this.puller) {
      this.puller.pull();
      return;
    }
    while (this.credit > 0 && this.buffer.length > 0 && !this.ended) this.sendNext(this.buffer.shift());
    if (this.buffer.length === 0 && this.pendingTerminal && !this.ended) this.sendTerminal(this.pendingTerminal);
  }

  /**
   * The consumer cancelled (no reason), or its connection is gone (`reason`): tear the source
   * down and send nothing. A channel's handler sees its input complete, or error with `reason`.
   */
  cancel(reason?: Error): void {
    // source first: its teardown usually unsubscribes the input too, and nothing is sent after
    this.end();
    this.input?.end(reason);
  }

  private startPull(source: Iterable<unknown> | AsyncIterable<unknown>): void {
    try {
      this.puller = new CreditPull(source, {
        wants: () => !this.ended && this.credit > 0,
        value: (v) => this.sendNext(v),
        complete: () => this.sendTerminal({}),
        fail: (err) => this.sendTerminal({ error: err }),
      });
    } catch (err) {
      this.fail(err);
      return;
    }
    this.puller.pull();
  }

  private onValue(v: unknown): void {
    if (this.ended || this.pendingTerminal) return;
    if (this.credit > 0 && this.buffer.length === 0) {
      this.sendNext(v);
      return;
    }
    if (this.buffer.length < this.req.bufferSize) {
      this.buffer.push(v);
      return;
    }
    switch (this.req.overflow) {
      case 'drop-newest':
        return;
      case 'drop-oldest':
        this.buffer.shift();
        this.buffer.push(v);
        return;
      case 'error':
        this.sendError(new StreamOverflowError(this.req.name, this.req.bufferSize));
        this.input?.end();
        this.end();
    }
  }

  private onTerminal(t: { error?: unknown }): void {
    if (this.ended || this.pendingTerminal) return;
    if (this.buffer.length > 0) this.pendingTerminal = t;
    else this.sendTerminal(t);
  }

  private sendTerminal(t: { error?: unknown }): void {
    if ('error' in t) this.sendError(t.error);
    else this.send(MsgType.complete, null);
    this.input?.end();
    this.end();
  }

  private sendNext(v: unknown): void {
    this.credit--;
    this.inFlight++;
    try {
      this.w.conn.send({ type: MsgType.next, id: this.w.id, to: this.w.requester, from: this.w.self, payload: v, hops: 0 });
    } catch (err) {
      // a value that cannot be encoded ends the stream with that error
      if (!this.w.conn.isOpen) return this.end();
      this.sendError(err);
      this.input?.end();
      this.end();
    }
  }

  private sendError(err: unknown): void {
    this.send(MsgType.error, errorToWire(err, this.w.sendStacks));
  }

  private send(type: MsgType, payload: unknown): void {
    if (!this.w.conn.isOpen) return;
    try {
      this.w.conn.send({ type, id: this.w.id, to: this.w.requester, from: this.w.self, payload, hops: 0 });
    } catch {
      // the connection closed under us; its close handler ends this stream
    }
  }

  private end(): void {
    if (this.ended) return;
    this.ended = true;
    this.buffer.length = 0;
    const sub = this.sub;
    this.sub = undefined;
    sub?.unsubscribe();
    // a pulled source is told we stopped early (its finally blocks run)
    this.puller?.stop();
    this.puller = undefined;
    this.w.onEnd();
  }
}

/**
 * The consumer's input to a channel, as the producer's handler sees it: a single-subscriber
 * Observable. We grant the consumer `credit` values up front and return credit as the handler
 * takes values; values that arrive before the handler subscribes wait (at most the credit).
 * If the handler unsubscribes early, the consumer is told to stop (`cancel` toward it).
 */
export class InputPort {
  private readonly queue: unknown[] = [];
  private subscriber: Subscriber<unknown> | undefined;
  private subscribed = false;
  private terminal: { error?: unknown } | undefined;
  private delivered = 0;
  /** Values the consumer may still send without more credit. */
  private outstanding: number;
  private closed = false;
  readonly observable: Observable<unknown>;

  constructor(
    private readonly w: Wiring,
    private readonly prefetch: number,
  ) {
    this.outstanding = prefetch;
    this.observable = new Observable<unknown>((subscriber) => {
      if (this.subscribed) {
        subscriber.error(new Error('a channel input can be subscribed only once'));
        return;
      }
      this.subscribed = true;
      this.subscriber = subscriber;
      this.flush();
      return () => {
        if (this.subscriber === subscriber) this.subscriber = undefined;
        if (!this.terminal && !this.closed) {
          this.closed = true;
          this.sendToConsumer(MsgType.cancel, null);
        }
      };
    });
    this.sendToConsumer(MsgType.credit, prefetch);
  }

  /** A `next` from the consumer. Throws ProtocolError if it exceeds the credit we granted. */
  push(v: unknown): void {
    if (this.terminal || this.closed) return;
    if (this.outstanding <= 0) throw new ProtocolError('channel input sent beyond the credit granted', 'ERR_CREDIT');
    this.outstanding--;
    this.queue.push(v);
    this.flush();
  }

  complete(): void {
    if (this.terminal) return;
    this.terminal = {};
    this.flush();
  }

  error(err: unknown): void {
    if (this.terminal) return;
    this.terminal = { error: err };
    this.flush();
  }

  /**
   * The stream is over: no more input will be taken. A handler still reading the input sees
   * it error with `reason` (connection lost) or complete.
   */
  end(reason?: Error): void {
    if (this.closed) return;
    this.closed = true;
    this.queue.length = 0;
    const s = this.subscriber;
    this.subscriber = undefined;
    if (!s || s.closed || this.terminal) return;
    this.terminal = reason ? { error: reason } : {};
    if (reason) s.error(reason);
    else s.complete();
  }

  private flush(): void {
    const s = this.subscriber;
    if (!s) return;
    while (this.queue.length > 0 && this.subscriber === s && !s.closed) {
      s.next(this.queue.shift());
      this.delivered++;
    }
    if (this.delivered >= Math.max(1, this.prefetch >> 1) && !this.closed && !this.terminal) {
      this.outstanding += this.delivered;
      this.sendToConsumer(MsgType.credit, this.delivered);
      this.delivered = 0;
    }
    if (this.queue.length === 0 && this.terminal && this.subscriber === s) {
      this.subscriber = undefined;
      if ('error' in this.terminal) s.error(this.terminal.error);
      else s.complete();
    }
  }

  private sendToConsumer(type: MsgType, payload: unknown): void {
    if (!this.w.conn.isOpen) return;
    try {
      this.w.conn.send({ type, id: this.w.id, to: this.w.requester, from: this.w.self, payload, hops: 0 });
    } catch {
      // connection gone; the stream ends through the close handler
    }
  }
}
