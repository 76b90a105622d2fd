/**
 * codec.ts: the bus's one MessagePack configuration (msgpackr), for everything the bus puts
 * on the wire.
 *
 * Invariants:
 * - Decoding a peer's bytes is bounded and safe: every frame is first checked by
 *   scanMsgpack (depth, declared lengths, an allow-list of extension types), so records,
 *   structured-clone references and unknown extensions never reach msgpackr. msgpackr stores
 *   a `__proto__` key as the own property `__proto_`, so no payload can reach a prototype.
 *   The only classes a peer can make us build are Map, Set, Date, typed arrays, Buffer,
 *   plain Errors (name, message, code: data only), RegExp, and actor refs (validated, through the `refs` hook).
 * - encode() never produces what decode() would refuse: a value nested deeper than the bound
 *   (or otherwise unacceptable to the scanner) is refused with a RangeError at the sender,
 *   so an honest sender fails that one call instead of making its peer close the connection
 *   (and with it every other request on it).
 * - Decoded byte arrays are copies (copyBuffers), never views into a link's frame, because
 *   a frame is only valid during the link's callback and messages outlive it.
 * - Map round-trips: msgpackr writes Map as a plain msgpack map, which would come back as an
 *   object, so encode() swaps Maps for a tagged wrapper first. The walk that looks for Maps
 *   only copies the parts of a value that contain one.
 * - msgpackr extensions are process-wide; the two we add are keyed to private classes
 *   (MapBox and WireRef subclasses), so other msgpackr users in the process are not affected
 *   when they encode, and only see our two type bytes when they decode.
 */
import { addExtension, Packr } from 'msgpackr';
import { ProtocolError } from '../errors.js';
import { ScanError, scanMsgpack, type ExtShape } from './msgpack-scan.js';
import { WireRef } from './wire-ref.js';

/** Extension type bytes the bus itself defines (application range 0..127). */
export const EXT_MAP = 0x6d; // 'm'
export const EXT_REF = 0x52; // 'R'
export const EXT_ERROR = 0x45; // 'E'

/** Extension types accepted from peers, and their layout (see msgpack-scan.ts). */
const ACCEPTED: ReadonlyMap<number, ExtShape> = new Map<number, ExtShape>([
  [0x00, 'data'], // undefined
  [0xff, 'data'], // -1: timestamp (Date)
  [0x42, 'data'], // bigint beyond 64 bits
  [0x74, 'data'], // typed arrays, ArrayBuffer, DataView
  [0x73, 'tag'], // Set
  [EXT_ERROR, 'tag'], // Error, as {name, message, code?} (never msgpackr's 0x65, see below)
  [0x78, 'tag'], // RegExp
  [EXT_MAP, 'tag'],
  [EXT_REF, 'tag'],
]);

/** Default bound on nesting (arrays, maps, tagged values) in a decoded value. */
export const DEFAULT_MAX_DEPTH = 100;

/** Holds a Map's entries on the way out; never escapes this file. */
class MapBox {
  constructor(readonly entries: unknown[]) {}
}

/**
 * Holds an Error on the way out. msgpackr's own Error extension (0x65) looks the error's
 * name up in a plain object of constructors, so a peer naming `valueOf` or `constructor`
 * gets msgpackr's internal table or a boxed primitive back; ours carries data only.
 */
class ErrorBox {
  constructor(readonly data: { name: string; message: string; code?: string }) {}
}

function boxError(err: Error): ErrorBox {
  const code = (err as { code?: unknown }).code;
  return new ErrorBox({ name: String(err.name), message: String(err.message), ...(typeof code === 'string' ? { code } : {}) });
}

/** How decode() turns a wire ref into a live ref, and who receives it. Set per call. */
export interface RefDecoder {
  decodeRef(node: string, actor: string): unknown;
}

let currentRefs: RefDecoder | undefined;

const NAME = /^[^/\s]{1,200}$/;

addExtension({
  Class: MapBox,
  type: EXT_MAP,
  write: (box: MapBox) => box.entries,
  read: (entries: unknown) => {
    if (!Array.isArray(entries)) throw new ScanError('a Map must carry an array of entries');
    const map = new Map<unknown, unknown>();
    for (const e of entries) {
      if (!Array.isArray(e) || e.length !== 2) throw new ScanError('a Map entry must be a [key, value] pair');
      map.set(e[0], e[1]);
    }
    return map;
  },
});

addExtension({
  Class: ErrorBox,
  type: EXT_ERROR,
  write: (box: ErrorBox) => box.data,
  read: (data: unknown) => {
    const d = data as { name?: unknown; message?: unknown; code?: unknown } | null;
    if (typeof d !== 'object' || d === null || typeof d.name !== 'string' || typeof d.message !== 'string' || (d.code !== undefined && typeof d.code !== 'string')) {
      throw new ScanError('an Error must be {name: string, message: string, code?: string}');
    }
    const err = new Error(d.message);
    Object.defineProperty(err, 'name', { value: d.name, writable: true, configurable: true, enumerable: false });
    if (d.code !== undefined) Object.defineProperty(err, 'code', { value: d.code, writable: true, configurable: true, enumerable: true });
    return err;
  },
});

addExtension({
  Class: WireRef,
  type: EXT_REF,
  write: (ref: WireRef) => [ref.node, ref.actor],
  read: (data: unknown) => {
    if (!Array.isArray(data) || data.length !== 2 || typeof data[0] !== 'string' || typeof data[1] !== 'string' || !NAME.test(data[0]) || !NAME.test(data[1])) {
      throw new ScanError('an actor ref must be [node, actor] with names of 1-200 characters and no "/" or spaces');
    }
    if (!currentRefs) throw new ScanError('actor refs are not accepted here');
    return currentRefs.decodeRef(data[0], data[1]);
  },
});

const packr = new Packr({
  useRecords: false,
  moreTypes: true,
  structuredClone: false,
  copyBuffers: true,
  int64AsType: 'bigint',
  mapsAsObjects: true,
  bundleStrings: false,
  useBigIntExtension: true,
});

/** Values msgpackr writes whole (by an extension or as bytes): nothing inside them to box. */
function isLeaf(value: object): boolean {
  return (
    ArrayBuffer.isView(value) || value instanceof ArrayBuffer || value instanceof Date || value instanceof RegExp ||
    value instanceof WireRef || value instanceof MapBox || value instanceof ErrorBox
  );
}

/** Returns `value` with every Map (at any depth) replaced by a MapBox; `value` itself if it has none. */
function boxMaps(value: unknown, depth: number): unknown {
  if (typeof value !== 'object' || value === null) return value;
  if (depth > DEFAULT_MAX_DEPTH * 2) throw new RangeError('value is nested too deeply to encode');
  if (value instanceof Error) return boxError(value);
  if (value instanceof Map) {
    const entries: unknown[] = [];
    for (const [k, v] of value) entries.push([boxMaps(k, depth + 1), boxMaps(v, depth + 1)]);
    return new MapBox(entries);
  }
  if (Array.isArray(value)) {
    let copy: unknown[] | undefined;
    for (let i = 0; i < value.length; i++) {
      const v = value[i];
      const b = boxMaps(v, depth + 1);
      if (b !== v && !copy) copy = value.slice(0, i);
      if (copy) copy.push(b);
    }
    return copy ?? value;
  }
  if (value instanceof Set) {
    let changed = false;
    const items: unknown[] = [];
    for (const v of value) {
      const b = boxMaps(v, depth + 1);
      if (b !== v) changed = true;
      items.push(b);
    }
    return changed ? new Set(items) : value;
  }
  if (!isLeaf(value)) {
    // plain objects, and anything else msgpackr writes as a map of its own properties
    // (null-prototype objects, class instances): a Map inside must be boxed there too
    let copy: Record<string, unknown> | undefined;
    for (const k of Object.keys(value)) {
      const v = (value as Record<string, unknown>)[k];
      const b = boxMaps(v, depth + 1);
      if (b !== v && !copy) copy = { ...(value as Record<string, unknown>) };
      if (copy) copy[k] = b;
    }
    return copy ?? value;
  }
  return value;
}

/** Limits applied to bytes from a peer (decode), and checked before sending (encode). */
export interface DecodeLimits {
  maxDepth?: number;
}

/**
 * Encodes one value. Throws (a plain TypeError/RangeError) if it cannot be encoded, or if the
 * result is something decode() with the same limits would reject (too deep, for instance).
 */
export function encode(value: unknown, limits: DecodeLimits = {}): Uint8Array {
  const bytes = packr.pack(boxMaps(value, 0));
  const maxDepth = limits.maxDepth ?? DEFAULT_MAX_DEPTH;
  // every level of nesting takes at least one byte: shorter output cannot be too deep
  if (bytes.length > maxDepth) {
    try {
      scanMsgpack(bytes, ACCEPTED, maxDepth);
    } catch (err) {
      if (err instanceof ScanError) throw new RangeError(`value cannot be sent: the peer would refuse it (${err.message})`);
      throw err;
    }
  }
  return bytes;
}

/**
 * Decodes one value from a peer. `refs` turns wire refs into live ones; without it a ref is
 * rejected. Throws ProtocolError for anything malformed or not accepted.
 */
export function decode(bytes: Uint8Array, refs?: RefDecoder, limits: DecodeLimits = {}): unknown {
  const maxDepth = limits.maxDepth ?? DEFAULT_MAX_DEPTH;
  const saved = currentRefs;
  try {
    scanMsgpack(bytes, ACCEPTED, maxDepth);
    currentRefs = refs;
    // msgpackr copies `bin` with the source's own class: a Buffer source gives Buffers, a plain
    // Uint8Array (the shm transport's ring views) would give Uint8Arrays. One answer for every
    // transport: view the frame as a Buffer (no copy).
    const source = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    return packr.unpack(source);
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    throw new ProtocolError(`undecodable message from peer: ${why}`, 'ERR_BAD_MESSAGE', { cause: err });
  } finally {
    currentRefs = saved;
  }
}
