/**
 * plain-encode.ts: writes the plain part of MessagePack by hand (nil, booleans, numbers, str,
 * Buffer as bin, arrays) straight into a target, usually memory claimed from the link: the
 * counterpart of plain-decode.ts. Used only for values codec.ts's walk found plain
 * (preparedPlain()), whose size it bounded, so the target is known to be large enough.
 *
 * Why: msgpackr's pack of a tell's ["sink", [1, <bytes>]] (entry, state, its own buffer)
 * led the sender's profile once the envelope header was written by hand; and a value packed
 * by msgpackr can only be copied into a small claim, not written there.
 *
 * Invariants: what it writes means what msgpackr would have written (a generic decoder
 * reads the same value): integers of up to 32 bits in their shortest form, every other
 * number (larger, fractional, NaN, infinities) as float 64, -0 as 0 (as msgpackr, PROTOCOL.md
 * B.3); strings as UTF-8 str with the shortest header; Buffers as bin. Non-Buffer typed
 * arrays, undefined, objects and the rest are never plain: msgpackr keeps them.
 */

const EMPTY = new Uint8Array(0);
let out: Uint8Array = EMPTY;
let pos = 0;
/** float 64 bytes, turned big-endian by hand: no DataView per message. */
const f64 = new Float64Array(1);
const f64Bytes = new Uint8Array(f64.buffer);
const LITTLE_ENDIAN = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1;

function u16(n: number): void {
  out[pos++] = n >>> 8;
  out[pos++] = n & 0xff;
}

function u32(n: number): void {
  out[pos++] = n >>> 24;
  out[pos++] = (n >>> 16) & 0xff;
  out[pos++] = (n >>> 8) & 0xff;
  out[pos++] = n & 0xff;
}

/** Writes `value` (plain, walked) into `target` at `at`; returns where it ends. */
export function writePlain(target: Uint8Array, at: number, value: unknown): number {
  // an accessor in the value could send from inside: that send must not write over this one
  if (out !== EMPTY) throw new RangeError('value cannot be sent: encoding it sent another message');
  out = target;
  pos = at;
  try {
    write(value);
  } finally {
    out = EMPTY;
  }
  return pos;
}


function write(v: unknown): void {
  switch (typeof v) {
    case 'number':
      number(v);
      return;
    case 'string':
      str(v);
      return;
    case 'boolean':
      out[pos++] = v ? 0xc3 : 0xc2;
      return;
  }
  if (v === null) {
    out[pos++] = 0xc0;
    return;
  }
  if (Array.isArray(v)) {
    const n = v.length;
    header(n, 0x90, 0xdc, 0xdd, 16);
    for (let i = 0; i < n; i++) write(v[i]);
    return;
  }
  // the walk let nothing else through but Buffers
  const b = v as Buffer;
  const n = b.length;
  if (n < 0x100) {
    out[pos++] = 0xc4;
    out[pos++] = n;
  } else if (n < 0x10000) {
    out[pos++] = 0xc5;
    u16(n);
  } else {
    out[pos++] = 0xc6;
    u32(n);
  }
  out.set(b, pos);
  pos += n;
}

function number(v: number): void {
  if (v >>> 0 === v) {
    // 0 .. 2^32-1, and -0 (which msgpackr also writes as 0)
    if (v < 0x80) out[pos++] = v;
    else if (v < 0x100) {
      out[pos++] = 0xcc;
      out[pos++] = v;
    } else if (v < 0x10000) {
      out[pos++] = 0xcd;
      u16(v);
    } else {
      out[pos++] = 0xce;
      u32(v);
    }
  } else if (v >> 0 === v) {
    if (v >= -0x20) out[pos++] = v & 0xff;
    else if (v >= -0x80) {
      out[pos++] = 0xd0;
      out[pos++] = v & 0xff;
    } else if (v >= -0x8000) {
      out[pos++] = 0xd1;
      u16(v & 0xffff);
    } else {
      out[pos++] = 0xd2;
      u32(v >>> 0);
    }
  } else {
    out[pos++] = 0xcb;
    f64[0] = v;
    if (LITTLE_ENDIAN) for (let i = 7; i >= 0; i--) out[pos++] = f64Bytes[i]!;
    else for (let i = 0; i < 8; i++) out[pos++] = f64Bytes[i]!;
  }
}

/** An array or str header: fix form below `fixLimit`, else 16 or 32 bits. */
function header(n: number, fix: number, h16: number, h32: number, fixLimit: number): void {
  if (n < fixLimit) out[pos++] = fix | n;
  else if (n < 0x10000) {
    out[pos++] = h16;
    u16(n);
  } else {
    out[pos++] = h32;
    u32(n);
  }
}

function str(s: string): void {
  const len = s.length;
  if (len < 32) {
    // short ASCII, the common case (names, keys): bytes written as they are read
    let i = 0;
    const at = pos + 1;
    for (; i < len; i++) {
      const c = s.charCodeAt(i);
      if (c >= 0x80) break;
      out[at + i] = c;
    }
    if (i === len) {
      out[pos] = 0xa0 | len;
      pos = at + len;
      return;
    }
  }
  const n = Buffer.byteLength(s, 'utf8');
  if (n < 32) out[pos++] = 0xa0 | n;
  else if (n < 0x100) {
    out[pos++] = 0xd9;
    out[pos++] = n;
  } else header(n, 0, 0xda, 0xdb, 0);
  if (Buffer.isBuffer(out)) out.write(s, pos, n, 'utf8');
  else wholeBufferOf(out).write(s, out.byteOffset + pos, n, 'utf8');
  pos += n;
}

/**
 * A Buffer over the whole memory behind `target` (a claim in the shm ring is a plain
 * Uint8Array, a new view each message): made once per memory, not once per string.
 */
let wholeSource: ArrayBufferLike | undefined;
let whole: Buffer | undefined;
function wholeBufferOf(target: Uint8Array): Buffer {
  if (wholeSource !== target.buffer) {
    wholeSource = target.buffer;
    whole = Buffer.from(target.buffer);
  }
  return whole!;
}
