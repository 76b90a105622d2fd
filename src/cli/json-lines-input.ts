/**
 * json-lines-input.ts: a readable stream of JSON lines (the `channel` command's stdin) as a
 * channel input that reads no faster than the channel grants input credit.
 *
 * One value per line; blank lines are ignored; the stream's end completes the input. A line
 * that is not JSON fails only itself: `onBadLine` hears a UsageError naming its number and the
 * input goes on with the next line. Invariants: a value is emitted only against credit
 * (creditedInput), and the stream is paused whenever a value waits for credit, so what is
 * held here is at most the lines of one chunk the stream had already read.
 */
import type { Readable } from 'node:stream';
import { createInterface, type Interface } from 'node:readline';
import { Observable, type Subscriber } from 'rxjs';
import { creditedInput } from '../bus/credited-input.js';
import { UsageError } from './usage-error.js';

/** How much of a bad line the error quotes. */
const QUOTE_MAX = 60;

export function jsonLinesInput(source: Readable, onBadLine: (err: UsageError) => void): Observable<unknown> {
  let subscriber: Subscriber<unknown> | undefined;
  let lines: Interface | undefined;
  /** Values the channel takes now; set by each credit grant, one used per value emitted. */
  let available = 0;
  const waiting: unknown[] = [];
  let ended = false;

  const pump = (): void => {
    while (subscriber && available > 0 && waiting.length > 0) {
      available--;
      subscriber.next(waiting.shift());
    }
    if (!subscriber || !lines) return;
    if (ended) {
      if (waiting.length === 0) subscriber.complete();
    } else if (available > 0 && waiting.length === 0) lines.resume();
    else lines.pause();
  };

  const input = new Observable<unknown>((s) => {
    subscriber = s;
    let lineNo = 0;
    lines = createInterface({ input: source, crlfDelay: Infinity });
    lines.on('line', (line) => {
      lineNo++;
      if (line.trim() === '') return;
      let value: unknown;
      try {
        value = JSON.parse(line) as unknown;
      } catch {
        const quoted = line.length > QUOTE_MAX ? `${line.slice(0, QUOTE_MAX)}...` : line;
        onBadLine(new UsageError(`stdin line ${lineNo} is not JSON, skipped: ${quoted}`));
        return;
      }
      waiting.push(value);
      pump();
    });
    lines.on('close', () => {
      ended = true;
      pump();
    });
    pump();
    return () => {
      subscriber = undefined;
      const l = lines;
      lines = undefined;
      l?.close();
    };
  });
  return creditedInput(input, (n) => {
    available = n;
    pump();
  });
}
