/**
 * msgpack-scan.ts: checks that bytes from a peer are one well-formed MessagePack value that
 * is safe to hand to msgpackr, before msgpackr sees them.
 *
 * Why a separate pass: msgpackr decodes recursively (deep nesting would end in a stack
 * overflow half-way through its internal state), trusts declared lengths when it allocates
 * arrays, and accepts record definitions (`r` extensions) that persist in the decoder and
 * drive code generation. This scanner is iterative, O(bytes), allocates nothing per value
 * (nor per scan, once its depth stack has grown),
 * and rejects:
 * - nesting deeper than `maxDepth` (arrays, maps, and the value an extension tag wraps),
 * - any declared length or count that cannot fit in the bytes that remain,
 * - extension types not in the allow-list (records, structured-clone ids and pointers,
 *   bundled strings, and every type we did not register),
 * - the reserved byte 0xc1, truncated input, and bytes after the value.
 *
 * Extensions come in two shapes (msgpackr's): "data" extensions whose payload is the
 * ext data itself (timestamps, bigints, typed arrays), and "tag" extensions, a fixext1 tag
 * followed by one ordinary value (Set, Error, RegExp, and our own Map and ref tags).
 *
 * Refusing a value is not always refusing the frame: given a `refusals` record, an
 * extension type that is well formed but not accepted is noted there (the first one) and
 * skipped by its length, so the caller can fail the one message that carried it and keep
 * the connection. Tag-shaped types we know (`knownTags`) are skipped with the value they
 * wrap; any other type is skipped as standard MessagePack data. Everything structural
 * (lengths, depth, 0xc1, truncation) still throws.
 */

/** How an allowed extension type is laid out. */
export type ExtShape = 'data' | 'tag';

/** Thrown for any rejected input; the codec turns it into a ProtocolError. */
export class ScanError extends Error {}

/** Where a scan that may go on past a refused extension notes it. */
export interface Refusals {
  /** Why the first refused value was refused; undefined while none was. */
  first: string | undefined;
  /** Extension types laid out as tags that are refused (skipped with the value they wrap). */
  readonly knownTags: ReadonlySet<number>;
  /**
   * Set by each scan: true if every value scanned was in the subset plain-decode.ts reads (no
   * map, extension, float 32 or 64-bit integer), so a reader can skip straight to the general
   * decoder when it is false instead of trying the plain one first and decoding twice.
   */
  plain: boolean;
}

/**
 * Scans `buf[start, end)`; throws ScanError if it is not exactly one safe value.
 * `extensions` maps an ext type byte (0..255; -1 is 255) to its shape.
 */
export function scanMsgpack(
  buf: Uint8Array,
  extensions: ReadonlyMap<number, ExtShape>,
  maxDepth: number,
  start = 0,
  end = buf.length,
  refusals?: Refusals,
): void {
  const pos = scanValue(buf, extensions, maxDepth, start, end, refusals);
  if (pos !== end) throw new ScanError(`${end - pos} bytes after the value`);
}

/**
 * Scans one value starting at `start` (bounded by `end`) with the same checks, and returns
 * where it ends: bytes after it are the caller's business.
 */
export function scanValue(
  buf: Uint8Array,
  extensions: ReadonlyMap<number, ExtShape>,
  maxDepth: number,
  start: number,
  end: number,
  refusals?: Refusals,
): number {
  // One scanner, reused: a scan per frame allocated its helpers and its stack each time (it
  // showed in the receiver's profile). A scan never calls out, so it cannot re-enter.
  const s = idle ?? new Scanner();
  idle = undefined;
  try {
    return s.run(buf, extensions, maxDepth, start, end, refusals);
  } finally {
    s.buf = EMPTY;
    s.refusals = undefined;
    idle = s;
  }
}

const EMPTY = new Uint8Array(0);
let idle: Scanner | undefined;

class Scanner {
  buf: Uint8Array = EMPTY;
  pos = 0;
  start = 0;
  end = 0;
  depth = 0;
  maxDepth = 0;
  extensions: ReadonlyMap<number, ExtShape> = new Map();
  refusals: Refusals | undefined;
  /** remaining[d] = values still expected in the container at depth d; depth 0 is the top. */
  readonly remaining: number[] = [0];

  run(buf: Uint8Array, extensions: ReadonlyMap<number, ExtShape>, maxDepth: number, start: number, end: number, refusals: Refusals | undefined): number {
    this.buf = buf;
    this.extensions = extensions;
    this.maxDepth = maxDepth;
    this.start = this.pos = start;
    this.end = end;
    this.refusals = refusals;
    this.depth = 0;
    const remaining = this.remaining;
    remaining[0] = 1;
    let plain = true;
    while (this.depth >= 0) {
      if (remaining[this.depth] === 0) {
        this.depth--;
        continue;
      }
      remaining[this.depth]!--;
      if (this.pos >= end) throw new ScanError('truncated input');
      const t = buf[this.pos++]!;
      if (t <= 0x7f || t >= 0xe0) continue; // fixints
      if (t <= 0x8f) {
        plain = false;
        this.open((t - 0x80) * 2);
        continue;
      }
      if (t <= 0x9f) {
        this.open(t - 0x90);
        continue;
      }
      if (t <= 0xbf) {
        this.skip(t - 0xa0);
        continue;
      }
      switch (t) {
        case 0xc0: case 0xc2: case 0xc3: break;
        case 0xc4: case 0xd9: this.need(1); this.skip(buf[this.pos++]!); break;
        case 0xc5: case 0xda: this.skip(this.u16()); break;
        case 0xc6: case 0xdb: this.skip(this.u32()); break;
        case 0xc7: this.need(1); this.ext(buf[this.pos++]!, false); break;
        case 0xc8: this.ext(this.u16(), false); break;
        case 0xc9: this.ext(this.u32(), false); break;
        case 0xca: this.skip(4); break;
        case 0xcb: this.skip(8); break;
        case 0xcc: case 0xd0: this.skip(1); break;
        case 0xcd: case 0xd1: this.skip(2); break;
        case 0xce: case 0xd2: this.skip(4); break;
        case 0xcf: case 0xd3: this.skip(8); break;
        case 0xd4: this.ext(1, true); break;
        case 0xd5: this.ext(2, false); break;
        case 0xd6: this.ext(4, false); break;
        case 0xd7: this.ext(8, false); break;
        case 0xd8: this.ext(16, false); break;
        case 0xdc: this.open(this.u16()); break;
        case 0xdd: this.open(this.u32()); break;
        case 0xde: this.open(this.u16() * 2); break;
        case 0xdf: this.open(this.u32() * 2); break;
        default: throw new ScanError(`invalid MessagePack byte 0x${t.toString(16)} at offset ${this.pos - 1 - this.start}`);
      }
      // what the switch let through beyond the plain subset (nil, bool, int 8..32, float 64, str, bin, array)
      if (t >= 0xc7 && t <= 0xca) plain = false;
      else if (t === 0xcf || t === 0xd3 || (t >= 0xd4 && t <= 0xd8) || t >= 0xde) plain = false;
    }
    if (refusals !== undefined) refusals.plain = plain;
    return this.pos;
  }

  private need(n: number): void {
    if (n > this.end - this.pos) throw new ScanError(`truncated input: ${n} bytes declared at offset ${this.pos - this.start}, ${this.end - this.pos} left`);
  }

  private u16(): number {
    this.need(2);
    const b = this.buf;
    const p = this.pos;
    this.pos = p + 2;
    return (b[p]! << 8) | b[p + 1]!;
  }

  private u32(): number {
    this.need(4);
    const b = this.buf;
    const p = this.pos;
    this.pos = p + 4;
    return b[p]! * 0x1000000 + ((b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!);
  }

  private skip(n: number): void {
    this.need(n);
    this.pos += n;
  }

  private open(values: number): void {
    // every value takes at least one byte: a count that cannot fit is a lie
    if (values > this.end - this.pos) throw new ScanError(`container of ${values} values at offset ${this.pos - this.start} cannot fit in ${this.end - this.pos} bytes`);
    if (values === 0) return;
    if (this.depth + 1 > this.maxDepth) throw new ScanError(`nesting deeper than ${this.maxDepth}`);
    this.remaining[++this.depth] = values;
  }

  private ext(length: number, fixext1: boolean): void {
    this.need(1 + length);
    const buf = this.buf;
    const type = buf[this.pos++]!;
    let shape = this.extensions.get(type);
    if (shape === undefined) {
      const refusals = this.refusals;
      if (refusals === undefined) throw new ScanError(`extension type ${type} is not accepted`);
      refusals.first ??= `extension type ${type} is not accepted`;
      shape = refusals.knownTags.has(type) && fixext1 && buf[this.pos] === 0 ? 'tag' : 'data';
    }
    if (shape === 'tag' && (!fixext1 || buf[this.pos] !== 0)) throw new ScanError(`extension type ${type} must be a one-byte tag with data byte 0`);
    this.pos += length;
    // a tag wraps the next value: one more value at a deeper level
    if (shape === 'tag') this.open(1);
  }
}
