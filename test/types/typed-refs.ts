/**
 * typed-refs.ts: must compile (it is part of the normal build). It proves that a ref typed
 * from its definition infers replies and stream values, and each `@ts-expect-error` line
 * proves a mistake is a compile error (tsc fails if the line does NOT error).
 * test/types/must-fail/ holds the same mistakes without the markers; typed-refs.test.ts
 * checks that tsc rejects every one of them.
 */
import { of, type Observable } from 'rxjs';
import { iterate, type ActorRef, type ActorSystem } from '../../src/index.js';
import type { counter } from './counter-def.js';

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
function assertType<T extends true>(_ok: T): void {}

export function typedRefUsage(system: ActorSystem): void {
  const ref = system.ref<typeof counter>('other/counter');
  ref.tell('inc', 2);
  const n = ref.ask('get');
  assertType<Equal<typeof n, Promise<number>>>(true);
  const label = ref.ask('label', 'n=');
  assertType<Equal<typeof label, Promise<string>>>(true);
  ref.ask('label', 'n=', true);
  const ticks = ref.stream('ticks', 100);
  assertType<Equal<typeof ticks, Observable<number>>>(true);
  const upTo = ref.stream('upTo', 5); // a generator source: its values are typed too
  assertType<Equal<typeof upTo, Observable<string>>>(true);
  const lengths = ref.channel('lengths', of('a', 'bb'));
  assertType<Equal<typeof lengths, Observable<number>>>(true);
  const timed: ActorRef<typeof counter> = ref.with({ timeout: 1000 });
  void timed;
  const pulled = iterate(ref, 'upTo', 5); // iterate(): the same names, arguments and values as stream()
  assertType<Equal<typeof pulled, AsyncIterableIterator<string>>>(true);

  // @ts-expect-error: no message "dec"
  ref.tell('dec', 1);
  // @ts-expect-error: inc takes a number
  ref.tell('inc', 'two');
  // @ts-expect-error: inc needs its argument
  ref.ask('inc');
  // @ts-expect-error: get takes no arguments
  ref.ask('get', 1);
  // @ts-expect-error: the reply is a number, not a string
  const wrong: Promise<string> = ref.ask('get');
  void wrong;
  // @ts-expect-error: "get" is a message, not a stream
  ref.stream('get');
  // @ts-expect-error: ticks takes a number
  ref.stream('ticks', '100');
  // @ts-expect-error: "get" is a message, not a stream, for iterate() too
  iterate(ref, 'get');
  // @ts-expect-error: lengths takes strings in
  ref.channel('lengths', of(1, 2));
  // @ts-expect-error: options never mix with arguments
  ref.with({ timeout: 'soon' });

  // An untyped ref accepts any name and returns unknown.
  const any = system.ref('other/whatever');
  const v = any.ask('anything', 1, 'two');
  assertType<Equal<typeof v, Promise<unknown>>>(true);
}
