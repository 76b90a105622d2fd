/**
 * msgpack-scan.ts: checks that bytes from a peer are one well-formed MessagePack value that
 * is safe to hand to msgpackr, before msgpackr sees them.
 *
 * Why a separate pass: msgpackr decodes recursively (deep nesting would end in a stack
 * overflow half-way through its internal state), trusts declared lengths when it allocates
 * arrays, and accepts record definitions (`r` extensions) that persist in the decoder and
 * drive code generation. This scanner is iterative, O(bytes), allocates nothing per value,
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
  let pos = start;
  // remaining[d] = values still expected in the container at depth d; depth 0 is the top.
  const remaining: number[] = [1];
  let depth = 0;

  const need = (n: number): void => {
    if (n > end - pos) throw new ScanError(`truncated input: ${n} bytes declared at offset ${pos - start}, ${end - pos} left`);
  };
  const u8 = (): number => buf[pos++]!;
  const u16 = (): number => {
    need(2);
    const v = (buf[pos]! << 8) | buf[pos + 1]!;
    pos += 2;
    return v;
  };
  const u32 = (): number => {
    need(4);
    const v = buf[pos]! * 0x1000000 + ((buf[pos + 1]! << 16) | (buf[pos + 2]! << 8) | buf[pos + 3]!);
    pos += 4;
    return v;
  };
  const skip = (n: number): void => {
    need(n);
    pos += n;
  };
  const open = (values: number): void => {
    // every value takes at least one byte: a count that cannot fit is a lie
    if (values > end - pos) throw new ScanError(`container of ${values} values at offset ${pos - start} cannot fit in ${end - pos} bytes`);
    if (values === 0) return;
    if (depth + 1 > maxDepth) throw new ScanError(`nesting deeper than ${maxDepth}`);
    depth++;
    remaining[depth] = values;
  };
  const ext = (length: number, fixext1: boolean): void => {
    need(1 + length);
    const type = u8();
    let shape = extensions.get(type);
    if (shape === undefined) {
      if (refusals === undefined) throw new ScanError(`extension type ${type} is not accepted`);
      refusals.first ??= `extension type ${type} is not accepted`;
      shape = refusals.knownTags.has(type) && fixext1 && buf[pos] === 0 ? 'tag' : 'data';
    }
    if (shape === 'tag' && (!fixext1 || buf[pos] !== 0)) throw new ScanError(`extension type ${type} must be a one-byte tag with data byte 0`);
    pos += length;
    if (shape === 'tag') {
      // the tag wraps the next value: one more value at a deeper level
      open(1);
    }
  };

  while (depth >= 0) {
    if (remaining[depth] === 0) {
      depth--;
      continue;
    }
    remaining[depth]!--;
    if (pos >= end) throw new ScanError('truncated input');
    const t = u8();
    if (t <= 0x7f || t >= 0xe0) continue; // fixints
    if (t <= 0x8f) {
      open((t - 0x80) * 2);
      continue;
    }
    if (t <= 0x9f) {
      open(t - 0x90);
      continue;
    }
    if (t <= 0xbf) {
      skip(t - 0xa0);
      continue;
    }
    switch (t) {
      case 0xc0: case 0xc2: case 0xc3: break;
      case 0xc4: case 0xd9: need(1); skip(u8()); break;
      case 0xc5: case 0xda: skip(u16()); break;
      case 0xc6: case 0xdb: skip(u32()); break;
      case 0xc7: need(1); ext(u8(), false); break;
      case 0xc8: ext(u16(), false); break;
      case 0xc9: ext(u32(), false); break;
      case 0xca: skip(4); break;
      case 0xcb: skip(8); break;
      case 0xcc: case 0xd0: skip(1); break;
      case 0xcd: case 0xd1: skip(2); break;
      case 0xce: case 0xd2: skip(4); break;
      case 0xcf: case 0xd3: skip(8); break;
      case 0xd4: ext(1, true); break;
      case 0xd5: ext(2, false); break;
      case 0xd6: ext(4, false); break;
      case 0xd7: ext(8, false); break;
      case 0xd8: ext(16, false); break;
      case 0xdc: open(u16()); break;
      case 0xdd: open(u32()); break;
      case 0xde: open(u16() * 2); break;
      case 0xdf: open(u32() * 2); break;
      default: throw new ScanError(`invalid MessagePack byte 0x${t.toString(16)} at offset ${pos - 1 - start}`);
    }
  }
  return pos;
}
