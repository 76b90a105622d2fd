/**
 * envelope.ts: the bus's message shape, `[type, id, to, from, payload]` (plus an optional
 * hop count when a node forwards it), and its checked conversion to and from frames.
 * docs/PROTOCOL.md §5 is the normative description; the numbers below must match it.
 *
 * Addressing (see PROTOCOL.md): `to` is `"node/actor"` for messages travelling toward the
 * actor that serves a request (tell, ask, sub, credit/cancel for a stream, channel input),
 * a bare `"node"` for messages travelling back to the requester (reply, error, next,
 * complete, and credit/cancel for a channel's input), and `""` for messages that concern
 * only the link itself (hello, ping, pong, bye).
 */
import { ProtocolError } from '../errors.js';
import { decode, encode, type DecodeLimits, type RefDecoder } from './codec.js';

export const MsgType = {
  hello: 0,
  tell: 1,
  ask: 2,
  reply: 3,
  error: 4,
  sub: 5,
  next: 6,
  complete: 7,
  cancel: 8,
  credit: 9,
  ping: 10,
  pong: 11,
  bye: 12,
  /** Version 2: a handshake proof of the shared secret (PROTOCOL.md B.4). */
  auth: 13,
} as const;
export type MsgType = (typeof MsgType)[keyof typeof MsgType];

export const MSG_NAMES: readonly string[] = Object.keys(MsgType);

/** The protocol versions this implementation speaks, newest last. */
export const PROTOCOL_VERSIONS: readonly number[] = [1, 2];

/** Forwarded at most this many times; a loop in the routes ends here. */
export const MAX_HOPS = 16;

export interface Envelope {
  type: MsgType;
  /** Request id, chosen by the requester; 0 when the type has none. */
  id: number;
  to: string;
  from: string;
  payload: unknown;
  /** Times forwarded so far (absent on the wire when 0). */
  hops: number;
  /**
   * Set on a received message whose payload held a value we refuse (an extension type not
   * accepted): why. The payload is then undefined, and only this message fails.
   */
  refused?: string | undefined;
}

/** Longest `to` or `from`, in characters. */
export const MAX_ADDRESS = 512;

/** Encodes an envelope; throws (RangeError/TypeError) for a payload that cannot be sent within `limits`. */
export function encodeEnvelope(e: Envelope, limits?: DecodeLimits): Uint8Array {
  return encode(e.hops > 0 ? [e.type, e.id, e.to, e.from, e.payload, e.hops] : [e.type, e.id, e.to, e.from, e.payload], limits);
}

/**
 * A non-negative safe integer from the wire, or undefined. MessagePack `uint 64`/`int 64`
 * decode as bigint (other languages use them for any value above 2^32), so a bigint in the
 * safe range is accepted as the number it is.
 */
export function wireInt(v: unknown): number | undefined {
  if (typeof v === 'bigint') return v >= 0n && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : undefined;
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? v : undefined;
}

/** Decodes and checks the envelope's shape; the payload's meaning is checked by its handler. */
export function decodeEnvelope(frame: Uint8Array, refs: RefDecoder, limits?: DecodeLimits): Envelope {
  return checkEnvelope(decode(frame, refs, limits));
}

/** Checks a decoded value is an envelope (ProtocolError ERR_BAD_MESSAGE if not) and returns it as one. */
export function checkEnvelope(v: unknown): Envelope {
  if (!Array.isArray(v) || (v.length !== 5 && v.length !== 6)) {
    throw new ProtocolError('a bus message must be an array of 5 or 6 elements [type, id, to, from, payload, hops?]', 'ERR_BAD_MESSAGE');
  }
  const [rawType, rawId, to, from, payload, rawHops = 0] = v as [unknown, unknown, unknown, unknown, unknown, unknown];
  const type = wireInt(rawType);
  if (type === undefined || type >= MSG_NAMES.length) {
    throw new ProtocolError(`unknown message type ${String(rawType)}`, 'ERR_BAD_MESSAGE');
  }
  const id = wireInt(rawId);
  if (id === undefined) {
    throw new ProtocolError(`message id must be an integer 0 .. 2^53-1, got ${String(rawId)}`, 'ERR_BAD_MESSAGE');
  }
  if (typeof to !== 'string' || typeof from !== 'string' || to.length > MAX_ADDRESS || from.length > MAX_ADDRESS) {
    throw new ProtocolError('message "to" and "from" must be strings of at most 512 characters', 'ERR_BAD_MESSAGE');
  }
  const hops = wireInt(rawHops);
  if (hops === undefined || hops > MAX_HOPS) {
    throw new ProtocolError(`hop count must be an integer 0..${MAX_HOPS}`, 'ERR_BAD_MESSAGE');
  }
  return { type: type as MsgType, id, to, from, payload, hops, refused: undefined };
}

/** Splits `"node/actor"` or `"node"` into its parts. */
export function splitAddress(to: string): { node: string; actor: string | undefined } {
  const slash = to.indexOf('/');
  return slash < 0 ? { node: to, actor: undefined } : { node: to.slice(0, slash), actor: to.slice(slash + 1) };
}
