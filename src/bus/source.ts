/**
 * source.ts: what a stream or channel handler may return, the one definition that an actor's
 * typed definition (actors/define.ts) and the bus's producer side (serving.ts) both use.
 *
 * An Observable is pushed, buffered under the stream's overflow policy; an iterable or async
 * iterable is pulled as the consumer grants credit (true backpressure).
 * Invariant: isStreamSource() accepts exactly what OutboundStream.start() can run.
 */
import { isObservable, type Observable } from 'rxjs';

/** A source of `T`s: an Observable (pushed), or an iterable / async iterable (pulled by credit). */
export type Source<T> = Observable<T> | Iterable<T> | AsyncIterable<T>;

/** A source as the bus sees it: the values' type is the actor's business, not the wire's. */
export type StreamSource = Source<unknown>;

/** True for what start() can take. Strings are iterable but are values, not sources. */
export function isStreamSource(v: unknown): v is StreamSource {
  if (isObservable(v)) return true;
  if (typeof v !== 'object' || v === null) return false;
  return typeof (v as Iterable<unknown>)[Symbol.iterator] === 'function' || typeof (v as AsyncIterable<unknown>)[Symbol.asyncIterator] === 'function';
}
