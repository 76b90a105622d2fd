/**
 * host.ts: what the bus needs from the layer above it (the actor system) to serve requests
 * that arrive for this node. The bus never imports the actors layer; the actor system
 * implements this interface and hands it to its BusNode.
 */
import type { Observable } from 'rxjs';
import type { StreamSource } from './source.js';

/** Something full (an actor's mailbox) that lets its senders go on again once it has drained. */
export interface Backpressure {
  /** Runs `resume` exactly once, when there is room again (or the thing is gone). */
  whenRelieved(resume: () => void): void;
}

/**
 * Where the host reports that what a request was delivered to is now full: the bus pauses
 * reading the connection the request came on (one object per connection, so reporting costs
 * no allocation per message).
 */
export interface PressureSink {
  pressed(by: Backpressure): void;
}

export interface LocalHost {
  /**
   * Delivers a tell to a local actor. Throws (a SwitchyardError with code ERR_NO_ACTOR or
   * ERR_NO_HANDLER) if there is no such actor or message; handler errors are the host's to report.
   * A tell is never refused for room: if the mailbox is full after it, `sink.pressed()` is told.
   */
  tell(actor: string, message: string, args: unknown[], sink: PressureSink): void;
  /** Runs an ask on a local actor; rejects with what the handler threw. Full mailbox: as tell. */
  ask(actor: string, message: string, args: unknown[], sink: PressureSink): Promise<unknown>;
  /** Opens a stream of a local actor: an Observable (subscribed once) or an iterable (pulled by credit). */
  stream(actor: string, name: string, args: unknown[], sink: PressureSink): Promise<StreamSource>;
  /** Opens a channel of a local actor, fed by `input`. */
  channel(actor: string, name: string, input: Observable<unknown>, args: unknown[], sink: PressureSink): Promise<StreamSource>;
  /** Builds the live ref for a ref that arrived in a message. */
  makeRef(node: string, actor: string): unknown;
  /** Reports an error nobody is waiting for (a failed tell, a bad route). */
  reportError(err: unknown, context: string): void;
}
