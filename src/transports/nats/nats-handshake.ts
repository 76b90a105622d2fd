/**
 * nats-handshake.ts: the HELLO a client sends to open a nats link and the WELCOME that
 * answers it (docs/PROTOCOL.md §9). Both carry what each side chose for itself: the credit
 * it grants, its largest datagram, its heartbeat and its silence timeout.
 *
 *   HELLO    0x10 | version u8 | window u32 | datagram u32 | heartbeatMs u32 | timeoutMs u32 | linkId (32 ASCII hex)
 *   WELCOME  0x11 | version u8 | window u32 | datagram u32 | heartbeatMs u32 | timeoutMs u32
 *
 * Invariants: decode() returns null for anything malformed (wrong length, version, kind, a
 * window of 0, a datagram too small to carry a piece, a bad link id): the caller ignores it,
 * as a listener ignores junk on a shared subject. Values are clamped by the caller, never trusted.
 */
import { MIN_DATAGRAM } from '../datagram/datagram-link.js';
import { KIND_HELLO, KIND_WELCOME } from '../datagram/handshake-kinds.js';
import { isLinkId } from './nats-address.js';

const VERSION = 1;
const FIXED_BYTES = 18;
const LINK_ID_BYTES = 32;

export interface Hello {
  window: number;
  datagram: number;
  heartbeatMs: number;
  timeoutMs: number;
}

function encodeFixed(kind: number, h: Hello, extra: number): Buffer {
  const b = Buffer.alloc(FIXED_BYTES + extra);
  b[0] = kind;
  b[1] = VERSION;
  b.writeUInt32BE(h.window, 2);
  b.writeUInt32BE(h.datagram, 6);
  b.writeUInt32BE(h.heartbeatMs, 10);
  b.writeUInt32BE(h.timeoutMs, 14);
  return b;
}

function decodeFixed(b: Uint8Array, kind: number, length: number): Hello | null {
  if (b.length !== length || b[0] !== kind || b[1] !== VERSION) return null;
  const v = Buffer.from(b.buffer, b.byteOffset, b.byteLength);
  const h = { window: v.readUInt32BE(2), datagram: v.readUInt32BE(6), heartbeatMs: v.readUInt32BE(10), timeoutMs: v.readUInt32BE(14) };
  if (h.window < 1 || h.datagram < MIN_DATAGRAM + 64 || h.heartbeatMs < 1) return null;
  return h;
}

export function encodeHello(h: Hello, linkId: string): Buffer {
  const b = encodeFixed(KIND_HELLO, h, LINK_ID_BYTES);
  b.write(linkId, FIXED_BYTES, 'latin1');
  return b;
}

export function decodeHello(b: Uint8Array): { hello: Hello; linkId: string } | null {
  const hello = decodeFixed(b, KIND_HELLO, FIXED_BYTES + LINK_ID_BYTES);
  if (hello === null) return null;
  const linkId = Buffer.from(b.buffer, b.byteOffset + FIXED_BYTES, LINK_ID_BYTES).toString('latin1');
  return isLinkId(linkId) ? { hello, linkId } : null;
}

export function encodeWelcome(h: Hello): Buffer {
  return encodeFixed(KIND_WELCOME, h, 0);
}

export function decodeWelcome(b: Uint8Array): Hello | null {
  return decodeFixed(b, KIND_WELCOME, FIXED_BYTES);
}
