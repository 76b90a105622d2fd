/**
 * wire-ref.ts: the base class of everything the codec writes as an actor ref: a (node,
 * actor) pair. The actors layer subclasses it (ActorRef); the bus only needs the two names,
 * so it never imports the actors layer.
 */
export abstract class WireRef {
  /** The node (system) id the actor lives on. */
  abstract readonly node: string;
  /** The actor's name on that node. */
  abstract readonly actor: string;
}
