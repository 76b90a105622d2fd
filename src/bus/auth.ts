/**
 * auth.ts: the shared-secret challenge-response of the bus handshake (PROTOCOL.md B.4,
 * protocol version 2). Each side sends a fresh random nonce in its hello; each proves it
 * knows the secret with an HMAC-SHA256 over a context string, its role, both nonces and both
 * node ids. The secret never crosses the wire, a proof is good for one connection only (the
 * other side's nonce is new each time, so a replayed handshake fails), and the role in the
 * input keeps a side's own proof from being reflected back at it.
 *
 * Invariants: proofs are compared in constant time (timingSafeEqual) and only at equal
 * length; the bytes hashed are exactly those B.4 lists, so a peer in another language can
 * compute them.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/** Bytes of each side's hello nonce. */
export const AUTH_NONCE_BYTES = 32;
/** Shortest secret accepted: a secret an attacker can guess offline from one captured handshake is no secret. */
export const MIN_SECRET_BYTES = 16;
/** First bytes of every proof's input: the protocol and the purpose, so the MAC is good for nothing else. */
export const AUTH_CONTEXT = 'switchyard-auth-v2';

/** Who opened the link: the side that connected is the client, the side that accepted the server. */
export type AuthRole = 'client' | 'server';

/** What a connection needs to authenticate: the secret and its own role. */
export interface AuthConfig {
  secret: Buffer;
  role: AuthRole;
}

/** A fresh nonce for one hello. */
export function newNonce(): Buffer {
  return randomBytes(AUTH_NONCE_BYTES);
}

/** The secret as bytes (a string is UTF-8), checked for length; throws a RangeError naming the rule. */
export function secretBytes(secret: string | Uint8Array): Buffer {
  const b = typeof secret === 'string' ? Buffer.from(secret, 'utf8') : Buffer.from(secret);
  if (b.length < MIN_SECRET_BYTES) throw new RangeError(`a secret must be at least ${MIN_SECRET_BYTES} bytes, got ${b.length} (use 32 random bytes)`);
  return b;
}

function withLength(s: string): Buffer {
  const b = Buffer.from(s, 'utf8');
  const len = Buffer.alloc(2);
  len.writeUInt16BE(b.length);
  return Buffer.concat([len, b]);
}

/**
 * The proof `role` sends: HMAC-SHA256(secret, AUTH_CONTEXT || 0x00 || role || 0x00 ||
 * clientNonce || serverNonce || u16 len || clientNode || u16 len || serverNode), strings in
 * UTF-8, lengths big-endian.
 */
export function authProof(secret: Buffer, role: AuthRole, clientNonce: Uint8Array, serverNonce: Uint8Array, clientNode: string, serverNode: string): Buffer {
  return createHmac('sha256', secret)
    .update(Buffer.from(`${AUTH_CONTEXT}\u0000${role}\u0000`, 'ascii'))
    .update(clientNonce)
    .update(serverNonce)
    .update(withLength(clientNode))
    .update(withLength(serverNode))
    .digest();
}

/** Does `got` (from the wire, any type) equal `expected`? Constant time for a proof of the right length. */
export function proofMatches(expected: Buffer, got: unknown): boolean {
  if (!(got instanceof Uint8Array) || got.length !== expected.length) return false;
  return timingSafeEqual(expected, got);
}
