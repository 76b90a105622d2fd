/**
 * plain-decode.ts: decodes the plain part of MessagePack by hand (nil, booleans, integers of
 * up to 32 bits, float 64, str, bin, arrays), for payloads made only of those: a tell's
 * `["sink", [1, <bytes>]]` is the common case. Anything else (maps, extensions, 64-bit
 * integers, float 32) makes it give up (NOT_PLAIN) and the caller decodes with msgpackr, so
 * the rules that live there (the `__proto__` key, refs, bigint, typed arrays) stay in one
 * place.
 *
 * Why: in the receiver's profile of a tell loop, msgpackr's unpack of such a payload (entry,
 * state reset, DataView) cost more than the values themselves.
 *
 * Invariants: safe on any bytes, scanned or not: every declared length and count is checked
 * against the bytes left before anything is read or allocated, arrays nest at most `maxDepth`
 * deep (counted as the scan counts: a non-empty array is one level), and anything it cannot
 * vouch for (truncation, a lie, too deep, bytes after the value) is NOT_PLAIN, never an
 * exception, so a caller can always fall back to the scan and msgpackr, which name the fault.
 * It produces exactly what msgpackr would with the bus's options: str as JS
 * strings (UTF-8), bin as a Buffer copy (never a view into the frame, which is only valid
 * during the link's callback; below 4 KiB from Node's small-Buffer pool, from 4 KiB a view
 * into a shared arena of copies: copy-arena.ts), arrays as plain arrays; it has no side effects
 * before it gives up.
 */

import { copyOut } from './copy-arena.js';

/** Returned when the value is not in the plain subset; decode it another way. */
export const NOT_PLAIN: unique symbol = Symbol('not plain');

let src: Buffer = Buffer.alloc(0);
let pos = 0;
/** Where the bytes end: no read goes past it. */
let limit = 0;
/** Levels of non-empty arrays still allowed. */
let depthLeft = 0;

/**
 * Past this many levels the decoder gives up (a recursion per level) and the iterative scan
 * and msgpackr take the value, whatever the configured maxDepth.
 */
const MAX_RECURSION = 64;

/**
 * Decodes the one value in `bytes[start, end)`, or returns NOT_PLAIN. Short strings are
 * looked up in `strings` (a message name repeats every message). `maxDepth`: the levels of
 * non-empty arrays allowed (as msgpack-scan.ts counts them).
 */
export function decodePlain(bytes: Buffer, start: number, end: number, strings: ShortStrings, maxDepth = MAX_RECURSION): unknown {
  const v = decodePlainAt(bytes, start, end, strings, maxDepth);
  return v !== NOT_PLAIN && plainEnd === end ? v : NOT_PLAIN;
}

/** Where the value decodePlainAt() returned ends. */
export let plainEnd = 0;

/**
 * Decodes the one value starting at `start`, reading nothing at or past `end`; plainEnd says
 * where it ended (bytes after it are the caller's). NOT_PLAIN as decodePlain().
 */
export function decodePlainAt(bytes: Buffer, start: number, end: number, strings: ShortStrings, maxDepth: number): unknown {
  if (start >= end) return NOT_PLAIN;
  src = bytes;
  pos = start;
  limit = end;
  depthLeft = Math.min(maxDepth, MAX_RECURSION);
  const v = value(strings);
  src = EMPTY;
  plainEnd = pos;
  return v;
}

/** The `n` bytes at pos are there (and n is a length, not NaN or negative). */
function fits(n: number): boolean {
  return n <= limit - pos;
}

const EMPTY = Buffer.alloc(0);

/** One value at pos; the caller made sure pos < limit. */
function value(strings: ShortStrings): unknown {
  const b = src;
  const t = b[pos++]!;
  if (t < 0x80) return t;
  if (t >= 0xe0) return t - 0x100;
  if (t >= 0xa0 && t <= 0xbf) return str(t - 0xa0, strings);
  if (t >= 0x90 && t <= 0x9f) return array(t - 0x90, strings);
  let n: number;
  // the fixed part after the type byte (1, 2, 4 or 8 bytes): checked once for every form
  if (t >= 0xc4 && !fits(FIXED[t - 0xc4]!)) return NOT_PLAIN;
  switch (t) {
    case 0xc0:
      return null;
    case 0xc2:
      return false;
    case 0xc3:
      return true;
    case 0xcc:
      return b[pos++]!;
    case 0xcd:
      n = b.readUInt16BE(pos);
      pos += 2;
      return n;
    case 0xce:
      n = b.readUInt32BE(pos);
      pos += 4;
      return n;
    case 0xd0:
      return b.readInt8(pos++);
    case 0xd1:
      n = b.readInt16BE(pos);
      pos += 2;
      return n;
    case 0xd2:
      n = b.readInt32BE(pos);
      pos += 4;
      return n;
    case 0xcb:
      n = b.readDoubleBE(pos);
      pos += 8;
      return n;
    case 0xd9:
      return str(b[pos++]!, strings);
    case 0xda:
      n = b.readUInt16BE(pos);
      pos += 2;
      return str(n, strings);
    case 0xdb:
      n = b.readUInt32BE(pos);
      pos += 4;
      return str(n, strings);
    case 0xc4:
      return bin(b[pos++]!);
    case 0xc5:
      n = b.readUInt16BE(pos);
      pos += 2;
      return bin(n);
    case 0xc6:
      n = b.readUInt32BE(pos);
      pos += 4;
      return bin(n);
    case 0xdc:
      n = b.readUInt16BE(pos);
      pos += 2;
      return array(n, strings);
    case 0xdd:
      n = b.readUInt32BE(pos);
      pos += 4;
      return array(n, strings);
    default:
      return NOT_PLAIN;
  }
}

/** Bytes after the type byte of each form from 0xc4 (bin 8) to 0xdf (map 32): what fits() checks first. */
const FIXED = [
  1, 2, 4, 0, 0, 0, 0, 8, // c4-c6 bin, c7-ca ext and float 32 (not plain), cb float 64
  1, 2, 4, 0, 1, 2, 4, 0, // cc-ce uint, cf uint 64 (not plain), d0-d2 int, d3 int 64 (not plain)
  0, 0, 0, 0, 0, // d4-d8 fixext (not plain)
  1, 2, 4, 2, 4, 0, 0, // d9-db str, dc-dd array, de-df map (not plain)
];

function str(n: number, strings: ShortStrings): string | typeof NOT_PLAIN {
  if (!fits(n)) return NOT_PLAIN;
  const at = pos;
  pos += n;
  return n <= ShortStrings.MAX ? strings.read(src, at, pos) : src.toString('utf8', at, pos);
}

/**
 * From this size a bin's copy is carved from a shared arena (copy-arena.ts): the receiver's
 * profile of 64 KiB tells showed half its time in slice()'s Buffer constructor (calloc) and
 * most of the rest in page faults and per-buffer costs. Below it, Node's own pool serves, and
 * a small bin kept for long does not keep an arena alive.
 */
const COPY_OUT_FROM = 4096;

function bin(n: number): Buffer | typeof NOT_PLAIN {
  if (!fits(n)) return NOT_PLAIN;
  const at = pos;
  pos += n;
  // a copy (never a view of the frame), every byte written
  if (n >= COPY_OUT_FROM) return copyOut(src, at, pos);
  // slice() looked up the species and zero-filled a new ArrayBuffer of its own (12% of the
  // receiver of 64 B tells). Up to V8's on-heap size a Buffer of its own costs the collector
  // nothing extra and a loop copies fastest; above it Node's small-Buffer pool serves, as
  // Buffer.from does (one external ArrayBuffer per 8 KiB, not one per bin).
  if (n <= ON_HEAP) {
    const out = Buffer.allocUnsafeSlow(n);
    const b = src;
    // four bytes a turn: a third less time than one (64 B: 58 ns against 81 in a micro benchmark)
    let i = 0;
    for (const whole = n & ~3; i < whole; i += 4) {
      out[i] = b[at + i]!;
      out[i + 1] = b[at + i + 1]!;
      out[i + 2] = b[at + i + 2]!;
      out[i + 3] = b[at + i + 3]!;
    }
    for (; i < n; i++) out[i] = b[at + i]!;
    return out;
  }
  const out = Buffer.allocUnsafe(n);
  src.copy(out, 0, at, pos);
  return out;
}

/** V8 keeps typed arrays of up to this many bytes on its heap (typed_array_max_size_in_heap). */
const ON_HEAP = 64;

function array(n: number, strings: ShortStrings): unknown[] | typeof NOT_PLAIN {
  // every value takes at least a byte: a count that cannot fit is a lie, refused before the
  // allocation it asks for
  if (!fits(n)) return NOT_PLAIN;
  if (n === 0) return [];
  if (depthLeft === 0) return NOT_PLAIN;
  depthLeft--;
  const out = new Array<unknown>(n);
  for (let i = 0; i < n; i++) {
    if (pos >= limit) return NOT_PLAIN;
    const v = value(strings);
    if (v === NOT_PLAIN) return NOT_PLAIN;
    out[i] = v;
  }
  depthLeft++;
  return out;
}

/**
 * Strings a connection's messages keep carrying (addresses, message names), found by their
 * bytes, so one that comes again allocates nothing. A few slots, replaced in turn.
 */
export class ShortStrings {
  /** Longest string kept, in bytes. */
  static readonly MAX = 64;
  private readonly bytes: (Uint8Array | undefined)[];
  private readonly strings: string[];
  private next = 0;

  /** @param slots how many recent strings are kept (16 for payload strings, 8 for addresses) */
  constructor(private readonly slots = 16) {
    this.bytes = new Array<Uint8Array | undefined>(slots).fill(undefined);
    this.strings = new Array<string>(slots).fill('');
  }

  read(from: Buffer, start: number, end: number): string {
    const n = end - start;
    for (let i = 0; i < this.slots; i++) {
      const b = this.bytes[i];
      if (b === undefined || b.length !== n) continue;
      let j = 0;
      while (j < n && b[j] === from[start + j]) j++;
      if (j === n) return this.strings[i]!;
    }
    const s = from.toString('utf8', start, end);
    const slot = this.next;
    this.next = (slot + 1) % this.slots;
    this.bytes[slot] = Uint8Array.prototype.slice.call(from, start, end);
    this.strings[slot] = s;
    return s;
  }
}
