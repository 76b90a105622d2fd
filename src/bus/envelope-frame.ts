/**
 * envelope-frame.ts: one envelope as one frame, in protocol version 1's layout (PROTOCOL.md
 * B.2: the MessagePack array `[type, id, to, from, payload]`, `hops` appended when
 * forwarded), with the header written and read by hand and msgpackr used for the payload
 * only.
 *
 * Why by hand: a profile of a tell loop put the sender's time in msgpackr packing the
 * whole array (two address strings each time) and in a second scan of that output, and the
 * receiver's in decoding the same two strings into new JS strings every message. The header
 * is five small fields: writing them from cached bytes and reading them against cached
 * strings costs a few comparisons.
 *
 * Invariants:
 * - What we write is MessagePack a generic decoder reads as the same array msgpackr would
 *   have written (integers in their shortest form, strings as str), so the wire is unchanged.
 * - Sending: a plain payload (plain-encode.ts) is written by hand straight into memory
 *   claimed from the link (or a slab of ours when it cannot claim), header and all: one
 *   write of each value into the wire's memory. A large other payload is packed by msgpackr
 *   into a claim when the link can claim and the payload walk bounds its size; otherwise into msgpackr's buffer with
 *   room left in front for the header (no copy), then send(). Our own output is scanned only
 *   when the walk could not vouch for it (codec.ts). A claim is always committed, with a
 *   harmless `ping` if the payload could not be written into it (see commitFiller).
 * - Receiving: a small frame (up to UNSCANNED_MAX) whose header is in its shortest forms and
 *   whose payload is plain is read by hand without a scan, every length, count and depth
 *   checked as it is read (the same bound on peer input the scan gives); anything else, and
 *   anything that read refuses, is scanned first (codec.ts), then the header is read by hand,
 *   and the payload too when it is plain (plain-decode.ts); only the rest is given to msgpackr. A header in a form the
 *   fast reader does not take (a longer integer or string form) goes through the general
 *   decoder, with the same checks. A payload holding a refused value yields an envelope with
 *   `refused` set and no payload, so that message alone fails (PROTOCOL.md B.3).
 */
import { FrameTooLargeError, ProtocolError } from '../errors.js';
import type { Link } from '../transports/core/transport.js';
import { badMessage, checkOutput, decodeScanned, MIN_TARGET, newRefusals, packInto, packWithRoom, plainBound, preparedBound, prepare, scanFrame, valueEnd, type RefDecoder } from './codec.js';
import { writePlain } from './plain-encode.js';
import { checkEnvelope, MAX_ADDRESS, MAX_HOPS, MSG_NAMES, MsgType, type Envelope } from './envelope.js';
import { decodePlain, decodePlainAt, NOT_PLAIN, plainEnd, ShortStrings } from './plain-decode.js';

/** msgpackr checks room against its end minus a margin; a claim leaves it that much more. */
const SLACK = 64;
/**
 * Payloads whose bound is below this go by send(): the link copies a small frame into its
 * slab anyway, and packing into a claim costs msgpackr a DataView per claimed view (it showed
 * in the profile). Above it, a claim saves the copy a ring or datagram would make.
 */
const CLAIM_FROM = 8 * 1024;
/**
 * Frames up to this size are first read without the scan (EnvelopeReader.readPlain), with
 * every bound checked as they are read: the scan was a fifth of reading a 64 B tell. Larger
 * frames are scanned first, so a payload that turns out not to be plain half-way is never
 * decoded (and its bins copied) twice.
 */
const UNSCANNED_MAX = 2048;
/** Header bytes that fit msgpackr's reserved room (its limit is 255). */
const MAX_ROOM = 255;

/** An address (`to`/`from`) as msgpack str bytes, cached per connection: a handful are in use. */
export class AddressBytes {
  private readonly cache = new Map<string, Uint8Array>();
  // the last two found (a message's `to` and `from`), checked before the map
  private k0 = '';
  private v0: Uint8Array = EMPTY_STR;
  private k1 = '';
  private v1: Uint8Array = EMPTY_STR;

  get(s: string): Uint8Array {
    if (s === this.k0) return this.v0;
    if (s === this.k1) return this.v1;
    const b = this.lookup(s);
    this.k1 = this.k0;
    this.v1 = this.v0;
    this.k0 = s;
    this.v0 = b;
    return b;
  }

  private lookup(s: string): Uint8Array {
    let b = this.cache.get(s);
    if (b === undefined) {
      b = strBytes(s);
      // bounded: a node talking to very many actors re-encodes instead of growing without end
      if (this.cache.size >= 1024) this.cache.clear();
      this.cache.set(s, b);
    }
    return b;
  }
}

/** The empty string's bytes (fixstr of length 0). */
const EMPTY_STR = Uint8Array.of(0xa0);

function strBytes(s: string): Uint8Array {
  const n = Buffer.byteLength(s, 'utf8');
  const h = n < 32 ? 1 : n < 0x100 ? 2 : n < 0x10000 ? 3 : 5;
  const b = Buffer.allocUnsafe(h + n);
  if (h === 1) b[0] = 0xa0 | n;
  else if (h === 2) {
    b[0] = 0xd9;
    b[1] = n;
  } else if (h === 3) {
    b[0] = 0xda;
    b.writeUInt16BE(n, 1);
  } else {
    b[0] = 0xdb;
    b.writeUInt32BE(n, 1);
  }
  b.write(s, h, 'utf8');
  return b;
}

function idSize(id: number): number {
  return id < 0x80 ? 1 : id < 0x100 ? 2 : id < 0x10000 ? 3 : id < 0x1_0000_0000 ? 5 : 9;
}

/** Writes `[type, id, to, from` (the array header says whether hops follows the payload). */
function writeHead(b: Uint8Array, env: Envelope, to: Uint8Array, from: Uint8Array): void {
  b[0] = env.hops > 0 ? 0x96 : 0x95;
  b[1] = env.type;
  const id = env.id;
  let p = 2;
  if (id < 0x80) b[p++] = id;
  else if (id < 0x100) {
    b[p++] = 0xcc;
    b[p++] = id;
  } else if (id < 0x10000) {
    b[p++] = 0xcd;
    b[p++] = id >>> 8;
    b[p++] = id & 0xff;
  } else if (id < 0x1_0000_0000) {
    b[p++] = 0xce;
    b[p++] = id >>> 24;
    b[p++] = (id >>> 16) & 0xff;
    b[p++] = (id >>> 8) & 0xff;
    b[p++] = id & 0xff;
  } else {
    // above 32 bits msgpackr writes a float 64 (a uint 64 would decode as bigint)
    b[p++] = 0xcb;
    new DataView(b.buffer, b.byteOffset + p, 8).setFloat64(0, id);
    p += 8;
  }
  b.set(to, p);
  b.set(from, p + to.length);
}

/** Limits for one send. */
export interface SendLimits {
  maxDepth: number;
  /** The largest frame the peer accepts (its hello); Infinity when it did not say. */
  peerMaxFrame: number;
}

/**
 * Encodes `env` and queues it on `link`. Returns the link's backpressure signal. Throws
 * (nothing sent) RangeError/TypeError for a payload that cannot be encoded within the
 * limits, FrameTooLargeError for a frame above the peer's (or the link's) maxFrame.
 */
export function sendEnvelope(link: Link, env: Envelope, limits: SendLimits, addresses: AddressBytes): boolean {
  const to = addresses.get(env.to);
  const from = addresses.get(env.from);
  const head = 2 + idSize(env.id) + to.length + from.length;
  const tail = env.hops > 0 ? 1 : 0;
  const linkMax = link.capabilities.maxFrame;
  // plain payloads are written by hand, straight into the link's memory when it can claim
  const plain = plainBound(env.payload, 1, limits.maxDepth);
  if (plain >= 0) {
    const sent = sendPlain(link, env, limits, to, from, head + plain + tail);
    if (sent !== undefined) return sent;
  }
  const prepared = prepare(env.payload, 1);
  const bound = preparedBound(limits.maxDepth);
  if (bound >= CLAIM_FROM && head <= MAX_ROOM && link.claim !== undefined) {
    const need = head + bound + tail;
    const want = Math.max(MIN_TARGET, need + SLACK);
    if (need <= limits.peerMaxFrame && want <= linkMax) {
      const region = link.claim(want);
      if (region !== null) return commitInto(link, region, env, prepared, head, tail, to, from, limits);
    }
  }
  let frame: Uint8Array;
  if (head <= MAX_ROOM && tail === 0) {
    frame = packWithRoom(prepared, head);
    if (bound < 0) checkOutput(frame, head, frame.length, limits.maxDepth - 1);
    writeHead(frame, env, to, from);
  } else {
    const payload = packWithRoom(prepared, 0);
    if (bound < 0) checkOutput(payload, 0, payload.length, limits.maxDepth - 1);
    frame = Buffer.allocUnsafe(head + payload.length + tail);
    writeHead(frame, env, to, from);
    frame.set(payload, head);
    if (tail) frame[head + payload.length] = env.hops;
  }
  // refused here, the message fails alone; sent, it would make the peer close the link
  if (frame.length > limits.peerMaxFrame) throw new FrameTooLargeError(frame.length, limits.peerMaxFrame, 'send');
  return link.send(frame);
}

/**
 * Writes a plain payload's frame (at most `need` bytes) into a claim, or a slab of ours, and
 * queues it; undefined (nothing done) when `need` is above what the peer or the link takes.
 */
function sendPlain(link: Link, env: Envelope, limits: SendLimits, to: Uint8Array, from: Uint8Array, need: number): boolean | undefined {
  if (need > limits.peerMaxFrame || need > link.capabilities.maxFrame) return undefined;
  const region = link.claim !== undefined ? link.claim(need) : null;
  if (region !== null) {
    let len: number;
    try {
      len = writeFrame(region, env, to, from);
    } catch (err) {
      commitFiller(link, region, from);
      throw err;
    }
    return link.commit!(len);
  }
  const own = ownRoom(need);
  const len = writeFrame(own, env, to, from);
  slabAt += len;
  return link.send(own.subarray(0, len));
}

/** Writes header, plain payload and hops into `b` (room for the bound); returns the length. */
function writeFrame(b: Uint8Array, env: Envelope, to: Uint8Array, from: Uint8Array): number {
  writeHead(b, env, to, from);
  let len = writePlain(b, 2 + idSize(env.id) + to.length + from.length, env.payload);
  if (env.hops > 0) b[len++] = env.hops;
  // only a value that changed since the walk measured it (an accessor) can outgrow the bound
  if (len > b.length) throw new RangeError('value cannot be sent: it changed while being encoded');
  return len;
}

/**
 * Frames for a link that cannot claim are written in a slab of our own, each in its own
 * region (a link may keep a frame by reference until it is written, so none is reused).
 */
let slab: Buffer = Buffer.allocUnsafeSlow(0);
let slabAt = 0;
const SLAB_BYTES = 64 * 1024;

function ownRoom(need: number): Buffer {
  if (slab.length - slabAt < need) {
    slab = Buffer.allocUnsafeSlow(Math.max(SLAB_BYTES, need));
    slabAt = 0;
  }
  return slab.subarray(slabAt, slabAt + need);
}

function commitInto(
  link: Link,
  region: Uint8Array,
  env: Envelope,
  prepared: unknown,
  head: number,
  tail: number,
  to: Uint8Array,
  from: Uint8Array,
  limits: SendLimits,
): boolean {
  let out: Uint8Array;
  try {
    out = packInto(prepared, head, region);
  } catch (err) {
    commitFiller(link, region, from);
    throw err;
  }
  let len = out.length;
  if (out.buffer !== region.buffer || out.byteOffset !== region.byteOffset) {
    // msgpackr wanted more room than the walk's bound: it wrote elsewhere. Copy it in if it
    // fits the claim; if not, the claim becomes a ping and the frame goes by send().
    if (len + tail > region.length || len + tail > limits.peerMaxFrame) {
      commitFiller(link, region, from);
      const frame = Buffer.allocUnsafe(len + tail);
      frame.set(out);
      writeHead(frame, env, to, from);
      if (tail) frame[len] = env.hops;
      if (frame.length > limits.peerMaxFrame) throw new FrameTooLargeError(frame.length, limits.peerMaxFrame, 'send');
      return link.send(frame);
    }
    region.set(out);
  }
  writeHead(region, env, to, from);
  if (tail) region[len++] = env.hops;
  return link.commit!(len);
}

/**
 * A claim must be committed (the contract has no abort), so a claim we could not fill
 * becomes a `ping` (id 0): valid, and harmless (the peer answers pong, which we ignore).
 */
function commitFiller(link: Link, region: Uint8Array, from: Uint8Array): void {
  region[0] = 0x95;
  region[1] = MsgType.ping;
  region[2] = 0;
  region[3] = 0xa0;
  region.set(from, 4);
  region[4 + from.length] = 0xc0;
  link.commit!(5 + from.length);
}

/** One connection's receiving state: the refusals record and address strings, reused. */
export class EnvelopeReader {
  private readonly refusals = newRefusals();
  // The strings a connection's messages keep naming (`to`, `from`): found by their bytes, so
  // a message that names them again allocates no string.
  private readonly strings = new ShortStrings(8);
  private readonly payloadStrings = new ShortStrings();
  private at = 0;

  constructor(
    private readonly refs: RefDecoder,
    private readonly maxDepth: number,
  ) {}

  /**
   * Reads the frame `src[start, end)`. Throws ProtocolError (ERR_BAD_MESSAGE) for a frame
   * that is not a valid envelope; a payload with a refused value gives `refused`.
   */
  read(src: Buffer, start: number, end: number): Envelope {
    if (end - start <= UNSCANNED_MAX) {
      const env = this.readPlain(src, start, end);
      if (env !== undefined) return env;
    }
    const refusals = this.refusals;
    refusals.first = undefined;
    scanFrame(src, start, end, this.maxDepth, refusals);
    const fast = this.readFast(src, start, end);
    if (fast !== undefined) return fast;
    if (refusals.first !== undefined) {
      // the header is in a form only the general decoder reads, and it must not see the value
      throw badMessage(`${refusals.first} (in a message whose header is not in its shortest form)`);
    }
    return checkEnvelope(decodeScanned(src, start, end, this.refs));
  }

  /**
   * A small frame whose header is in its shortest forms and whose payload is plain, read
   * without the scan: every read here is checked against `end`, and the payload's decoder
   * bounds counts, lengths and depth as the scan would (plain-decode.ts). Anything it does
   * not vouch for, malformed or merely unusual, is undefined and goes the scanned way, which
   * names the fault exactly as before.
   */
  private readPlain(src: Buffer, start: number, end: number): Envelope | undefined {
    if (end - start < 5) return undefined;
    const b0 = src[start];
    if (b0 !== 0x95 && b0 !== 0x96) return undefined;
    let type: number;
    let id: number;
    let to: string | undefined;
    let from: string | undefined;
    const head = this.head;
    const n = this.headLength;
    let same = n > 0 && n < end - start;
    for (let i = 1; same && i < n; i++) same = src[start + i] === head[i];
    if (same) {
      // the bytes of the last tell's header: the same values (b0 is checked above, the
      // array's length, not the header's)
      type = MsgType.tell;
      id = 0;
      to = this.headTo;
      from = this.headFrom;
      this.at = start + n;
    } else {
      type = src[start + 1]!;
      if (type >= MSG_NAMES.length) return undefined;
      this.at = start + 2;
      id = this.uint(src, end);
      if (id < 0) return undefined;
      to = this.str(src, end);
      if (to === undefined) return undefined;
      from = this.str(src, end);
      if (from === undefined || this.at >= end) return undefined;
      if (type === MsgType.tell && id === 0) this.keepHead(src, start, to, from);
    }
    // the envelope array is the first level of the scan's depth
    const payload = decodePlainAt(src, this.at, end, this.payloadStrings, this.maxDepth - 1);
    if (payload === NOT_PLAIN) return undefined;
    let hops = 0;
    this.at = plainEnd;
    if (b0 === 0x96) {
      if (this.at >= end) return undefined;
      hops = this.uint(src, end);
      if (hops < 0 || hops > MAX_HOPS) return undefined;
    }
    if (this.at !== end) return undefined;
    return { type: type as MsgType, id, to, from, payload, hops, refused: undefined };
  }

  /**
   * The last tell's header bytes after b0 (type, id 0, to, from) and its addresses: a
   * connection's tells repeat one header, which is then compared as bytes, not parsed.
   */
  private readonly head = new Uint8Array(2 + 2 * (3 + 4 * MAX_ADDRESS));
  private headLength = 0;
  private headTo = '';
  private headFrom = '';

  private keepHead(src: Buffer, start: number, to: string, from: string): void {
    const n = this.at - start;
    if (n > this.head.length) return;
    for (let i = 1; i < n; i++) this.head[i] = src[start + i]!;
    this.headLength = n;
    this.headTo = to;
    this.headFrom = from;
  }

  /** The header in its shortest forms (what every MessagePack encoder writes), or undefined. */
  private readFast(src: Buffer, start: number, end: number): Envelope | undefined {
    const b0 = src[start];
    if (b0 !== 0x95 && b0 !== 0x96) return undefined;
    const type = src[start + 1]!;
    if (type >= MSG_NAMES.length) return undefined; // the general path names the fault
    this.at = start + 2;
    const id = this.uint(src, end);
    if (id < 0) return undefined;
    const to = this.str(src, end);
    if (to === undefined) return undefined;
    const from = this.str(src, end);
    if (from === undefined) return undefined;
    const p = this.at;
    let payloadEnd = end;
    let hops = 0;
    if (b0 === 0x96) {
      payloadEnd = valueEnd(src, p, end);
      this.at = payloadEnd;
      hops = this.uint(src, end);
      if (hops < 0 || this.at !== end) return undefined;
      if (hops > MAX_HOPS) throw new ProtocolError(`hop count must be an integer 0..${MAX_HOPS}`, 'ERR_BAD_MESSAGE');
    }
    const { first: refused, plain } = this.refusals;
    let payload: unknown;
    if (refused === undefined) {
      // the plain subset by hand; maps, extensions and the rest by msgpackr. The scan said
      // which it is, so a payload holding a map is decoded once, not tried and then decoded.
      payload = plain ? decodePlain(src, p, payloadEnd, this.payloadStrings) : NOT_PLAIN;
      if (payload === NOT_PLAIN) payload = decodeScanned(src, p, payloadEnd, this.refs);
    }
    return { type: type as MsgType, id, to, from, payload, hops, refused };
  }

  /**
   * A non-negative integer in the forms msgpackr writes (fixint, uint 8/16/32, whole float 64),
   * or -1 (also when it would run past `end`; the caller made sure `at` < `end`).
   */
  private uint(src: Buffer, end: number): number {
    const p = this.at;
    const t = src[p]!;
    if (t < 0x80) {
      this.at = p + 1;
      return t;
    }
    switch (t) {
      case 0xcc:
        if (p + 2 > end) return -1;
        this.at = p + 2;
        return src[p + 1]!;
      case 0xcd:
        if (p + 3 > end) return -1;
        this.at = p + 3;
        return src.readUInt16BE(p + 1);
      case 0xce:
        if (p + 5 > end) return -1;
        this.at = p + 5;
        return src.readUInt32BE(p + 1);
      case 0xcb: {
        if (p + 9 > end) return -1;
        const v = src.readDoubleBE(p + 1);
        if (!Number.isSafeInteger(v) || v < 0) return -1;
        this.at = p + 9;
        return v;
      }
      default:
        return -1;
    }
  }

  /** A str of at most MAX_ADDRESS characters within `end`, or undefined (the general path decides). */
  private str(src: Buffer, end: number): string | undefined {
    const p = this.at;
    if (p >= end) return undefined;
    const t = src[p]!;
    let n: number;
    let h: number;
    if (t >= 0xa0 && t <= 0xbf) {
      n = t - 0xa0;
      h = 1;
    } else if (t === 0xd9) {
      if (p + 2 > end) return undefined;
      n = src[p + 1]!;
      h = 2;
    } else if (t === 0xda) {
      if (p + 3 > end) return undefined;
      n = src.readUInt16BE(p + 1);
      h = 3;
    } else return undefined;
    // A UTF-8 character is at most 4 bytes: longer than that cannot be an address, and is not
    // copied into the cache (the general path refuses it).
    if (n > 4 * MAX_ADDRESS || p + h + n > end) return undefined;
    this.at = p + h + n;
    const s = this.strings.read(src, p + h, p + h + n);
    return s.length <= MAX_ADDRESS ? s : undefined;
  }
}
