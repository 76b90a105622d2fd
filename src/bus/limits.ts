/**
 * limits.ts: what one peer may make this node hold on its behalf, beyond what the Link and
 * the mailbox already bound (issue 14, Deliver 4). Checked per connection, in O(1) per request.
 *
 * - pendingAsksPerPeer: asks received on one connection and not yet answered. One more is
 *   answered at once with an `error` of code ERR_LIMIT (PROTOCOL.md B.7); the connection
 *   carries on. An error rather than a pause: the asks a peer is waiting on may need answers
 *   that arrive on this same connection, and pausing it could then never end.
 * - streamsPerPeer: streams and channels open on one connection (served here). A `sub`
 *   beyond it is answered with `error` ERR_LIMIT; the connection carries on.
 * - replyHighWater: bytes waiting to be written on one connection above which we stop
 *   reading its requests, until the link drains (a peer that asks and never reads).
 */
export interface BusLimits {
  /** Asks from one peer being served at once. Default 16,384. */
  pendingAsksPerPeer: number;
  /** Streams and channels one peer may have open here at once. Default 1,024. */
  streamsPerPeer: number;
}

/**
 * 16,384 asks: above the mailbox limit (10,000), so a peer asking one slow actor meets the
 * mailbox's backpressure before this error; below what would pin real memory (an ask held
 * here costs a few hundred bytes plus its arguments, bounded by the mailbox and maxFrame).
 */
export const DEFAULT_PENDING_ASKS_PER_PEER = 16_384;
/** 1,024 streams: each holds a subscription and up to bufferSize values. */
export const DEFAULT_STREAMS_PER_PEER = 1_024;

/** Checks one limit option: a positive safe integer, or the default when absent. */
export function limitOption(name: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
    throw new RangeError(`limits.${name} must be a positive integer, got ${String(value)}`);
  }
  return value;
}
