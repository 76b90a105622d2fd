/**
 * nats-handshake.ts: the HELLO a client sends to open a nats link and the WELCOME that
 * answers it (docs/PROTOCOL.md §9). Both carry what each side chose for itself: the credit
 * it grants, its largest datagram, its heartbeat and its silence timeout.
 *
 *   HELLO    0x10 | version u8 | window u32 | datagram u32 | heartbeatMs u32 | timeoutMs u32 | linkId (32 ASCII hex) | extensions
 *   WELCOME  0x11 | version u8 | window u32 | datagram u32 | heartbeatMs u32 | timeoutMs u32 | extensions
 *   extensions: zero or more `tag u8 | length u16 | length bytes`, to the end of the message
 *
 * Extensions are how a side offers something optional (a feature the other may not use):
 * each tag is listed below with the feature that owns it; a tag a side does not know is
 * skipped, so a feature can be added without another version.
 *
 * Invariants: decode() returns null for anything malformed (wrong version, kind, a
 * window of 0, a datagram too small to carry a piece, a bad link id, an extension cut short
 * or given twice): the caller ignores it, as a listener ignores junk on a shared subject.
 * Values are clamped by the caller, never trusted.
 */
import { MIN_DATAGRAM } from '../datagram/datagram-link.js';
import { KIND_HELLO, KIND_WELCOME } from '../datagram/handshake-kinds.js';
import { isLinkId } from './nats-address.js';

const VERSION = 2;
const FIXED_BYTES = 18;
const LINK_ID_BYTES = 32;
const EXTENSION_HEAD = 3;
/** The most bytes one extension may hold (its length field is a u16). */
const MAX_EXTENSION = 0xffff;

/** Extension tags, each owned by one feature (tags are reserved here before the feature lands). */
export const Extension = {
  /** Per-process liveness instead of per-link heartbeats: the side's publisher id (nats-liveness.ts). */
  liveness: 1,
  /** The same-host upgrade offer (upgrade-offer.ts, upgrading-link.ts). */
  upgrade: 2,
} as const;

export interface Hello {
  window: number;
  datagram: number;
  heartbeatMs: number;
  timeoutMs: number;
  /** Optional parts by tag (see Extension); tags this side does not know are kept, unused. */
  extensions?: ReadonlyMap<number, Uint8Array>;
}

function encodeFixed(kind: number, h: Hello, extra: number): Buffer {
  let size = FIXED_BYTES + extra;
  for (const value of h.extensions?.values() ?? []) {
    if (value.length > MAX_EXTENSION) throw new RangeError(`a nats handshake extension holds at most ${MAX_EXTENSION} bytes, not ${value.length}`);
    size += EXTENSION_HEAD + value.length;
  }
  const b = Buffer.alloc(size);
  b[0] = kind;
  b[1] = VERSION;
  b.writeUInt32BE(h.window, 2);
  b.writeUInt32BE(h.datagram, 6);
  b.writeUInt32BE(h.heartbeatMs, 10);
  b.writeUInt32BE(h.timeoutMs, 14);
  let at = FIXED_BYTES + extra;
  for (const [tag, value] of h.extensions ?? []) {
    b[at] = tag;
    b.writeUInt16BE(value.length, at + 1);
    b.set(value, at + EXTENSION_HEAD);
    at += EXTENSION_HEAD + value.length;
  }
  return b;
}

/** The extensions from `at` to the end, or null if one is cut short, given twice or not a u8 tag. */
function decodeExtensions(v: Buffer, at: number): Map<number, Uint8Array> | null {
  const found = new Map<number, Uint8Array>();
  while (at < v.length) {
    if (v.length - at < EXTENSION_HEAD) return null;
    const tag = v[at]!;
    const length = v.readUInt16BE(at + 1);
    const end = at + EXTENSION_HEAD + length;
    if (end > v.length || found.has(tag)) return null;
    found.set(tag, v.subarray(at + EXTENSION_HEAD, end));
    at = end;
  }
  return found;
}

function decodeFixed(b: Uint8Array, kind: number, fixed: number): Hello | null {
  if (b.length < fixed || b[0] !== kind || b[1] !== VERSION) return null;
  const v = Buffer.from(b.buffer, b.byteOffset, b.byteLength);
  const extensions = decodeExtensions(v, fixed);
  if (extensions === null) return null;
  const h = { window: v.readUInt32BE(2), datagram: v.readUInt32BE(6), heartbeatMs: v.readUInt32BE(10), timeoutMs: v.readUInt32BE(14), extensions };
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
