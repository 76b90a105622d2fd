/**
 * credited-input.ts: a channel input that is told each grant of input credit, so a source
 * that can wait (stdin, a file, a socket) reads no faster than the far side takes values.
 *
 * A channel's input is an Observable, which pushes: without this, a fast source pours into
 * the consumer's buffer of `bufferSize` values and then meets the overflow policy. The
 * InboundStream (consuming.ts) calls the listener after every `credit` it receives for our
 * input, with the credit left once its buffer is sent: the values it would now send at once.
 * A source that emits no more than that (each emitted value uses one) never fills the buffer.
 * Only a remote channel is credited: in-process, the actor takes input as it comes and the
 * listener is never called, so a source that waits for credit must not be used there.
 */
import { Observable } from 'rxjs';

const ON_CREDIT = Symbol('switchyard.onInputCredit');

type Credited = Observable<unknown> & { [ON_CREDIT]?: (n: number) => void };

/**
 * `input` as a channel input whose source hears `onCredit(available)` each time the producer
 * grants credit: `available` is the number of values it may emit now without being buffered.
 */
export function creditedInput<T>(input: Observable<T>, onCredit: (n: number) => void): Observable<T> {
  const credited = new Observable<T>((subscriber) => input.subscribe(subscriber));
  Object.defineProperty(credited, ON_CREDIT, { value: onCredit });
  return credited;
}

/** The listener `creditedInput` attached to `input`, if any. */
export function inputCreditListener(input: Observable<unknown>): ((n: number) => void) | undefined {
  return (input as Credited)[ON_CREDIT];
}
