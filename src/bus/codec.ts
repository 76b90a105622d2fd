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
 * - What cannot cross is refused by the walk with BadValueError (a function, a Symbol, an
 *   object of more than 65,535 keys), never written as something else; the walk keeps no
 *   path, so the offending part's path is searched for only once one is refused.
 * - Decoded byte arrays are copies (copyBuffers), never views into a link's frame, because
 *   a frame is only valid during the link's callback and messages outlive it.
 * - Map round-trips: msgpackr writes Map as a plain msgpack map, which would come back as an
 *   object, so encode() swaps Maps for a tagged wrapper first. The walk that looks for Maps
 *   only copies the parts of a value that contain one.
 * - msgpackr extensions are process-wide; the two we add are keyed to private classes
 *   (MapBox and WireRef subclasses), so other msgpackr users in the process are not affected
 *   when they encode, and only see our two type bytes when they decode.
 */
import { addExtension, Packr, RESERVE_START_SPACE } from 'msgpackr';
import { BadValueError, ProtocolError } from '../errors.js';
import { ScanError, scanMsgpack, scanValue, type ExtShape, type Refusals } from './msgpack-scan.js';
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

/**
 * What the last prepare() learnt about the value it walked (module state, read right after
 * the call, so the hot path allocates no result object):
 * - `bound`: an upper bound on msgpackr's output for it, in bytes;
 * - `modelled`: false when it met something msgpackr writes by rules this walk does not
 *   model (class instances, which may have toJSON; bigint; functions): then the output must be
 *   scanned to keep the "encode never produces what decode refuses" invariant;
 * - `depth`: the deepest level of the scanner's count the value can reach (conservative:
 *   empty containers count too, where the scanner does not count them).
 */
let bound = 0;
let modelled = true;
let depth = 0;
/** Only nil, booleans, numbers, strings, Buffers and arrays of them (plain-encode.ts writes those). */
let plain = true;

/** The ceiling of a string's UTF-8 size and msgpack header (3 bytes per UTF-16 unit, 5 of header). */
function strBound(s: string): number {
  return 5 + 3 * s.length;
}

/**
 * Returns `value` with every Map (at any depth) replaced by a MapBox and every Error by an
 * ErrorBox (`value` itself if there are none), measuring it on the way (see `bound`).
 * `level` is the scanner's nesting level at which the value sits.
 */
function box(value: unknown, level: number): unknown {
  switch (typeof value) {
    case 'number':
      bound += 9;
      return value;
    case 'string':
      bound += strBound(value);
      return value;
    case 'boolean':
      bound += 1;
      return value;
    case 'undefined':
      plain = false;
      bound += 3;
      return value;
    case 'object':
      break;
    default:
      // a function or Symbol cannot cross: refused here (msgpackr would write a function as
      // nil and throw a plain Error for a Symbol); the path is found only now, on this rare path
      if (typeof value !== 'bigint') throw new CannotCross(value, `a ${typeof value}`);
      // bigint (int64 or ext 0x42): msgpackr decides
      modelled = false;
      plain = false;
      bound += 9;
      return value;
  }
  if (value === null) {
    bound += 1;
    return value;
  }
  if (level > DEFAULT_MAX_DEPTH * 2) throw new RangeError('value is nested too deeply to encode');
  // bytes first: the commonest large argument, written whole (bin, or ext 0x74 with a kind byte)
  if (ArrayBuffer.isView(value)) {
    bound += 7 + value.byteLength;
    // a Buffer is bin; any other view is ext 0x74, which msgpackr writes
    if (!Buffer.isBuffer(value)) plain = false;
    return value;
  }
  if (level + 1 > depth) depth = level + 1;
  if (Array.isArray(value)) {
    bound += 5;
    let copy: unknown[] | undefined;
    for (let i = 0; i < value.length; i++) {
      const v: unknown = value[i];
      const b = box(v, level + 1);
      if (b !== v && !copy) copy = value.slice(0, i);
      if (copy) copy.push(b);
    }
    return copy ?? value;
  }
  plain = false;
  const proto: unknown = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) {
    if (value instanceof Error) {
      const e = boxError(value);
      // tag, then a map of up to three string pairs
      if (level + 2 > depth) depth = level + 2;
      bound += 3 + 5 + 3 * 12 + strBound(e.data.name) + strBound(e.data.message) + (e.data.code !== undefined ? strBound(e.data.code) : 0);
      return e;
    }
    if (value instanceof Map) {
      // tag, an array of entries, each a [key, value] array
      if (level + 3 > depth) depth = level + 3;
      bound += 3 + 5;
      const entries: unknown[] = [];
      for (const [k, v] of value) {
        bound += 1;
        entries.push([box(k, level + 3), box(v, level + 3)]);
      }
      return new MapBox(entries);
    }
    if (value instanceof Set) {
      if (level + 2 > depth) depth = level + 2;
      bound += 3 + 5;
      let changed = false;
      const items: unknown[] = [];
      for (const v of value) {
        const b = box(v, level + 2);
        if (b !== v) changed = true;
        items.push(b);
      }
      return changed ? new Set(items) : value;
    }
    if (value instanceof Date) {
      bound += 15;
      return value;
    }
    if (value instanceof ArrayBuffer) {
      bound += 7 + value.byteLength;
      return value;
    }
    if (value instanceof RegExp) {
      if (level + 2 > depth) depth = level + 2;
      bound += 3 + 1 + strBound(value.source) + strBound(value.flags);
      return value;
    }
    if (value instanceof WireRef) {
      if (level + 2 > depth) depth = level + 2;
      bound += 3 + 1 + strBound(value.node) + strBound(value.actor);
      return value;
    }
    // anything else msgpackr writes as a map of its own properties, or through toJSON
    modelled = false;
  }
  // plain objects (and the rest, as a map of own properties): a Map inside is boxed too
  bound += 5;
  let copy: Record<string, unknown> | undefined;
  const keys = Object.keys(value);
  // msgpackr writes an object's map header in 16 bits
  if (keys.length > MAX_KEYS) throw new CannotCross(value, `an object of ${keys.length} keys (at most ${MAX_KEYS})`);
  for (const k of keys) {
    const v = (value as Record<string, unknown>)[k];
    bound += strBound(k);
    const b = box(v, level + 1);
    if (b !== v && !copy) copy = { ...(value as Record<string, unknown>) };
    if (copy) copy[k] = b;
  }
  return copy ?? value;
}

/**
 * Boxes and measures `value` sitting at scanner level `level` (0 for a frame's top value).
 * Returns the value to give msgpackr; `preparedBound()` then says what packing it can cost.
 */
export function prepare(value: unknown, level: number): unknown {
  bound = 0;
  modelled = true;
  depth = 0;
  plain = true;
  try {
    return box(value, level);
  } catch (err) {
    if (err instanceof CannotCross) throw new BadValueError(err.what, pathTo(value, err.value) ?? 'value');
    throw err;
  }
}

/** Most own keys of an object the bus sends (its map header is 16 bits). */
const MAX_KEYS = 0xffff;

/** Thrown inside the walk, which keeps no path (it costs nothing per ordinary value); prepare() finds it. */
class CannotCross {
  constructor(
    readonly value: unknown,
    readonly what: string,
  ) {}
}

/** Where `target` sits in `root` (`value[1].a`), by the walk box() makes; only after a refusal. */
function pathTo(root: unknown, target: unknown): string | undefined {
  const seen = new Set<unknown>();
  const key = (k: string): string => (/^[A-Za-z_$][\w$]*$/.test(k) ? `.${k}` : `[${JSON.stringify(k)}]`);
  const show = (k: unknown): string => (typeof k === 'string' ? JSON.stringify(k) : String(k));
  const find = (v: unknown, at: string): string | undefined => {
    if (v === target) return at;
    if (v === null || typeof v !== 'object' || seen.has(v) || ArrayBuffer.isView(v)) return undefined;
    seen.add(v);
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) {
        const p = find(v[i], `${at}[${i}]`);
        if (p !== undefined) return p;
      }
    } else if (v instanceof Map) {
      let i = 0;
      for (const [k, x] of v) {
        const p = find(k, `${at}.keys()[${i++}]`) ?? find(x, `${at}.get(${show(k)})`);
        if (p !== undefined) return p;
      }
    } else if (v instanceof Set) {
      let i = 0;
      for (const x of v) {
        const p = find(x, `${at}.values()[${i++}]`);
        if (p !== undefined) return p;
      }
    } else if (!(v instanceof Error)) {
      for (const k of Object.keys(v)) {
        const p = find((v as Record<string, unknown>)[k], at + key(k));
        if (p !== undefined) return p;
      }
    }
    return undefined;
  };
  return find(root, 'value');
}

/**
 * The bound prepare() would give a plain value sitting at `level` (nil, booleans, numbers,
 * strings, Buffers and arrays of them, nested at most `maxDepth` as preparedBound() counts),
 * or -1 for anything else, which then goes through prepare(). The same sums as box(), without
 * its boxing and state: a tell's arguments were walked twice as slowly by the general walk.
 */
export function plainBound(value: unknown, level: number, maxDepth: number): number {
  switch (typeof value) {
    case 'number':
      return 9;
    case 'string':
      return strBound(value);
    case 'boolean':
      return 1;
    case 'object':
      break;
    default:
      return -1;
  }
  if (value === null) return 1;
  if (Array.isArray(value)) {
    // deeper than the peer takes, or than box() walks: prepare() decides
    if (level + 1 > maxDepth || level > DEFAULT_MAX_DEPTH) return -1;
    let b = 5;
    for (let i = 0; i < value.length; i++) {
      const e = plainBound(value[i], level + 1, maxDepth);
      if (e < 0) return -1;
      b += e;
    }
    return b;
  }
  return Buffer.isBuffer(value) ? 7 + value.byteLength : -1;
}

/** After prepare(): whether the value is plain (plain-encode.ts can write it, unboxed). */
export function preparedPlain(): boolean {
  return plain;
}

/**
 * After prepare(): an upper bound on the packed size, or -1 when the packed bytes must be
 * scanned before sending (not modelled, or possibly deeper than `maxDepth`).
 */
export function preparedBound(maxDepth: number): number {
  return modelled && depth <= maxDepth ? bound : -1;
}

/**
 * Refuses (RangeError) packed bytes `[start, end)` that a peer with `maxDepth` would refuse.
 * For output prepare() could not vouch for.
 */
export function checkOutput(bytes: Uint8Array, start: number, end: number, maxDepth: number): void {
  // every level of nesting takes at least one byte: shorter output cannot be too deep
  if (end - start <= maxDepth && modelled) return;
  try {
    scanMsgpack(bytes, ACCEPTED, maxDepth, start, end);
  } catch (err) {
    if (err instanceof ScanError) throw new RangeError(`value cannot be sent: the peer would refuse it (${err.message})`);
    throw err;
  }
}

/**
 * msgpackr's own buffer, as a view we can hand back to useBuffer() after packing into
 * claimed memory (its write position is module state that every Packr shares).
 */
let home: Buffer | undefined;
/** Where our last result in `home` ends: msgpackr resumes there, never over a result of ours. */
let homeEnd = 0;

/**
 * Packs a prepared value with `room` bytes (0..255) left free before it, in msgpackr's own
 * buffer (each result its own region, never overwritten). The caller writes its header in
 * the room.
 */
export function packWithRoom(prepared: unknown, room: number): Uint8Array {
  const out = packr.pack(prepared, RESERVE_START_SPACE | room);
  if (home === undefined || home.buffer !== out.buffer) home = Buffer.from(out.buffer);
  homeEnd = out.byteOffset + out.length;
  return out;
}

/**
 * Packs a prepared value into `target` (claimed link memory of at least MIN_TARGET bytes)
 * after `room` free bytes, and returns the packed bytes: a view at `target`'s start when
 * they fit, or (msgpackr ran out of room and moved on) a view elsewhere, which the caller
 * must copy or give up on. msgpackr is put back on its own buffer before this returns, so no
 * later pack (ours or another library's) writes into memory the link now owns.
 */
export function packInto(prepared: unknown, room: number, target: Uint8Array): Uint8Array {
  // msgpackr writes long strings with Buffer#utf8Write: a claim that is a plain Uint8Array
  // (the shm ring's) goes in as a Buffer over the same memory, or such a string throws
  packr.useBuffer(Buffer.isBuffer(target) ? target : Buffer.from(target.buffer, target.byteOffset, target.byteLength));
  try {
    return packr.pack(prepared, RESERVE_START_SPACE | room);
  } finally {
    if (home === undefined) {
      home = Buffer.allocUnsafeSlow(8192);
      homeEnd = 0;
    }
    packr.useBuffer(home);
    packr.position = homeEnd;
  }
}

/** msgpackr moves to a fresh buffer when fewer than 2 KiB remain: a claim must be larger. */
export const MIN_TARGET = 4096;

/** Limits applied to bytes from a peer (decode), and checked before sending (encode). */
export interface DecodeLimits {
  maxDepth?: number;
}

/**
 * Encodes one value. Throws BadValueError for a value that cannot cross, RangeError if the
 * result is something decode() with the same limits would reject (too deep, for instance).
 */
export function encode(value: unknown, limits: DecodeLimits = {}): Uint8Array {
  const maxDepth = limits.maxDepth ?? DEFAULT_MAX_DEPTH;
  const bytes = packWithRoom(prepare(value, 0), 0);
  // our own output is scanned only when the walk could not vouch for it
  if (preparedBound(maxDepth) < 0) checkOutput(bytes, 0, bytes.length, maxDepth);
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
    throw badMessage(err);
  } finally {
    currentRefs = saved;
  }
}

/**
 * Tag-shaped extension types that are refused (the message fails) rather than misread as
 * data: msgpackr's own Error extension (0x65), which our Error (0x45) replaces.
 */
const REFUSED_TAGS: ReadonlySet<number> = new Set([0x65]);

/** A fresh record for scanFrame()'s refusals. */
export function newRefusals(): Refusals {
  return { first: undefined, knownTags: REFUSED_TAGS, plain: false };
}

/** valueEnd()'s record, reused: a forwarded message is read once per hop, not one record per message. */
const VALUE_END_REFUSALS = newRefusals();

/** What every undecodable message from a peer is: ProtocolError ERR_BAD_MESSAGE, quoting why. */
export function badMessage(err: unknown): ProtocolError {
  const why = err instanceof Error ? err.message : String(err);
  return new ProtocolError(`undecodable message from peer: ${why}`, 'ERR_BAD_MESSAGE', { cause: err });
}

/**
 * Checks the frame `bytes[start, end)` from a peer: ProtocolError (ERR_BAD_MESSAGE) for
 * anything structural; a value of a refused extension type is noted in `refusals` instead,
 * so only the message carrying it fails.
 */
export function scanFrame(bytes: Uint8Array, start: number, end: number, maxDepth: number, refusals: Refusals): void {
  try {
    scanMsgpack(bytes, ACCEPTED, maxDepth, start, end, refusals);
  } catch (err) {
    // a refused extension met first is the likelier cause (msgpackr's records, say, are
    // not standard MessagePack, so skipping one as data misreads what follows)
    throw badMessage(refusals.first !== undefined ? `${refusals.first}, and then: ${err instanceof Error ? err.message : String(err)}` : err);
  }
}

/** Where the value at `start` ends, in bytes scanFrame() already checked. */
export function valueEnd(bytes: Uint8Array, start: number, end: number): number {
  try {
    // the bytes were scanned already: a refused extension is skipped, not noted again
    VALUE_END_REFUSALS.first = undefined;
    return scanValue(bytes, ACCEPTED, Number.MAX_SAFE_INTEGER, start, end, VALUE_END_REFUSALS);
  } catch (err) {
    throw badMessage(err);
  }
}

/** Reused for every range decode: msgpackr reads it and keeps nothing. */
const range = { start: 0, end: 0 };

/**
 * Decodes the value `bytes[start, end)` of a frame scanFrame() passed without refusals.
 * `bytes` is a Buffer so that byte arrays decode as Buffers on every transport.
 */
export function decodeScanned(bytes: Buffer, start: number, end: number, refs: RefDecoder | undefined): unknown {
  const saved = currentRefs;
  try {
    currentRefs = refs;
    range.start = start;
    range.end = end;
    return packr.unpack(bytes, range);
  } catch (err) {
    throw badMessage(err);
  } finally {
    currentRefs = saved;
  }
}
