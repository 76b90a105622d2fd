/**
 * define.ts: `defineActor` and the types that carry an actor's shape (its state, messages,
 * streams and channels) from its definition to every ref that points at it, so that
 * `ActorRef<typeof counter>` knows `ask('get')` is a `Promise<number>`.
 *
 * A definition is plain data: `init` makes the state; `receive` handlers get the state and
 * the message's arguments and return the reply (or a promise of it); `streams` return an
 * Observable, or an iterable / async iterable that is pulled as the consumer grants credit;
 * `channels` get the consumer's input Observable and return either.
 */
import type { Observable } from 'rxjs';
import type { Source } from '../bus/source.js';

/* eslint-disable @typescript-eslint/no-explicit-any -- handler parameter lists are inferred per actor */
export type MessageHandler<S> = (state: S, ...args: any[]) => unknown;
export type StreamHandler<S> = (state: S, ...args: any[]) => Source<unknown>;
export type ChannelHandler<S> = (state: S, input: Observable<any>, ...args: any[]) => Source<unknown>;
/* eslint-enable @typescript-eslint/no-explicit-any */

export interface ActorSpec<
  S,
  R extends Record<string, MessageHandler<S>>,
  St extends Record<string, StreamHandler<S>>,
  Ch extends Record<string, ChannelHandler<S>>,
  A extends unknown[] = unknown[],
> {
  /** Makes the actor's state from the arguments given to `system.local(def, { args })`. */
  init: (...args: A) => S | Promise<S>;
  receive?: R;
  streams?: St;
  channels?: Ch;
}

const BRAND: unique symbol = Symbol.for('switchyard.actor-definition');

export interface ActorDefinition<
  S = unknown,
  R extends Record<string, MessageHandler<S>> = Record<string, MessageHandler<S>>,
  St extends Record<string, StreamHandler<S>> = Record<string, StreamHandler<S>>,
  Ch extends Record<string, ChannelHandler<S>> = Record<string, ChannelHandler<S>>,
  A extends unknown[] = unknown[],
> {
  readonly [BRAND]: true;
  readonly spec: ActorSpec<S, R, St, Ch, A>;
}

/** Any actor definition; refs of this type accept any message name and return `unknown`. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyActorDefinition = ActorDefinition<any, any, any, any, any>;

/**
 * A handler table as given, or an empty one where it was left out. (Type parameters with
 * defaults would stop TypeScript from typing handlers' `state` parameter from `init`, so an
 * omitted table is inferred as its wide constraint and narrowed to empty here.)
 */
type Given<T> = string extends keyof T ? Record<never, never> : T;

/** The state an `init` function makes (awaited). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type StateOf<I> = I extends (...args: any[]) => infer T ? Awaited<T> : never;

/**
 * Defines an actor. The result is what you pass to `system.local()`, and what you name in
 * `ActorRef<typeof def>` to type a ref. (The state type is read off `init`'s return type, so
 * that every handler's `state` parameter is typed without annotations.)
 */
export function defineActor<
  I extends (...args: never[]) => unknown,
  R extends Record<string, MessageHandler<StateOf<I>>>,
  St extends Record<string, StreamHandler<StateOf<I>>>,
  Ch extends Record<string, ChannelHandler<StateOf<I>>>,
>(spec: { init: I; receive?: R; streams?: St; channels?: Ch }): ActorDefinition<StateOf<I>, Given<R>, Given<St>, Given<Ch>, Parameters<I>> {
  if (typeof spec !== 'object' || spec === null || typeof spec.init !== 'function') {
    throw new TypeError('defineActor needs { init: (...args) => state, receive?, streams?, channels? }');
  }
  for (const key of ['receive', 'streams', 'channels'] as const) {
    const table = spec[key];
    if (table === undefined) continue;
    if (typeof table !== 'object' || table === null) throw new TypeError(`defineActor: ${key} must be an object of functions`);
    for (const [name, fn] of Object.entries(table)) {
      if (typeof fn !== 'function') throw new TypeError(`defineActor: ${key}.${name} must be a function`);
    }
  }
  return Object.freeze({ [BRAND]: true as const, spec: spec as unknown as ActorSpec<StateOf<I>, Given<R>, Given<St>, Given<Ch>, Parameters<I>> });
}

export function isActorDefinition(v: unknown): v is AnyActorDefinition {
  return typeof v === 'object' && v !== null && (v as Record<symbol, unknown>)[BRAND] === true;
}

// ---- types read off a definition, used by ActorRef ----

type Rest<F> = F extends (state: never, ...args: infer P) => unknown ? P : never;
type ChannelRest<F> = F extends (state: never, input: never, ...args: infer P) => unknown ? P : never;

type ReceiveOf<D> = D extends ActorDefinition<infer _S, infer R, infer _St, infer _Ch, infer _A> ? R : never;
type StreamsOf<D> = D extends ActorDefinition<infer _S, infer _R, infer St, infer _Ch, infer _A> ? St : never;
type ChannelsOf<D> = D extends ActorDefinition<infer _S, infer _R, infer _St, infer Ch, infer _A> ? Ch : never;

/** `string` for an untyped ref, else the union of the definition's message names. */
type NamesOf<T> = string extends keyof T ? string : keyof T & string;

export type MessageName<D> = NamesOf<ReceiveOf<D>>;
export type MessageArgs<D, K extends string> = K extends keyof ReceiveOf<D> ? Rest<ReceiveOf<D>[K]> : unknown[];
export type Reply<D, K extends string> = K extends keyof ReceiveOf<D>
  ? ReceiveOf<D>[K] extends (...args: never[]) => infer T
    ? Awaited<T>
    : unknown
  : unknown;

export type StreamName<D> = NamesOf<StreamsOf<D>>;
export type StreamArgs<D, K extends string> = K extends keyof StreamsOf<D> ? Rest<StreamsOf<D>[K]> : unknown[];
/** The values a source yields (an Observable's, an async iterable's or an iterable's). */
type SourceValue<R> = R extends Observable<infer T> ? T : R extends AsyncIterable<infer T> ? T : R extends Iterable<infer T> ? T : unknown;

export type StreamValue<D, K extends string> = K extends keyof StreamsOf<D>
  ? StreamsOf<D>[K] extends (...args: never[]) => infer R
    ? SourceValue<R>
    : unknown
  : unknown;

export type ChannelName<D> = NamesOf<ChannelsOf<D>>;
export type ChannelArgs<D, K extends string> = K extends keyof ChannelsOf<D> ? ChannelRest<ChannelsOf<D>[K]> : unknown[];
export type ChannelInput<D, K extends string> = K extends keyof ChannelsOf<D>
  ? ChannelsOf<D>[K] extends (state: never, input: Observable<infer I>, ...args: never[]) => unknown
    ? I
    : unknown
  : unknown;
export type ChannelOutput<D, K extends string> = K extends keyof ChannelsOf<D>
  ? ChannelsOf<D>[K] extends (...args: never[]) => infer R
    ? SourceValue<R>
    : unknown
  : unknown;

/** The arguments `init` takes, for `system.local(def, { args })`. */
export type InitArgs<D> = D extends ActorDefinition<infer _S, infer _R, infer _St, infer _Ch, infer A> ? A : unknown[];
