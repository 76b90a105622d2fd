/**
 * framing.ts: the u32 big-endian length prefix (perl's `pack("N", length)`) for every
 * byte-stream transport, written once.
 *
 *   +----------------+---------------------+
 *   | length: u32 BE | payload: length B   |   repeated; length 0 is a valid, empty frame
 *   +----------------+---------------------+
 *
 * FrameEncoder batches: small frames are copied (with their prefix) into a shared slab, so a
 * burst of sends in one tick becomes one buffer and one write; large frames are not copied:
 * only their 4-byte prefix goes into the slab and the payload is queued by reference. A frame
 * can also be claimed in the slab and written there in place (claim/commit), whatever its size.
 *
 * FrameDecoder is a push parser: it accepts chunks of any size and split (one byte at a time
 * works), hands out frames that lie inside one chunk as views of that chunk (no copy), and
 * copies only frames that straddle chunks, once, into a buffer of exactly their size. A length
 * above `maxFrame` is a protocol error: the decoder stops and reports it; it never allocates
 * for it. It can be paused mid-chunk (the handler may call pause()), keeping the rest.
 * Given a batch consumer that wants batches, the whole frames lying in one chunk go up as one
 * FrameBatch over that chunk instead of one view each: a receiver of small frames paid for a
 * view object, a call chain and a clock read per frame. A consumer that takes fewer than
 * the batch holds (paused, or ending) gets the rest again from the first frame it did not take.
 */
import { FrameTooLargeError } from '../../errors.js';
import type { FrameBatch } from '../core/transport.js';

/** Bytes of the length prefix. */
export const HEADER_BYTES = 4;
/** Frames up to this size are copied into the slab; larger ones are queued by reference. */
export const COPY_LIMIT = 8 * 1024;
/** Size of each batching slab. */
export const SLAB_BYTES = 64 * 1024;

const EMPTY = Buffer.alloc(0);

/** Turns frames into prefixed byte buffers, batching small ones. */
export class FrameEncoder {
  private slab: Buffer = Buffer.allocUnsafeSlow(SLAB_BYTES);
  private start = 0; // first byte of the slab not yet handed out by take()
  private end = 0; // next free byte of the slab
  private out: Buffer[] = [];
  private pending = 0;
  private claimAt = 0;

  /** Bytes encoded and not yet taken. */
  get pendingBytes(): number {
    return this.pending;
  }

  /** The slab claim() offsets point into (replaced when a claim does not fit the current one). */
  get memory(): Buffer {
    return this.slab;
  }

  /**
   * Reserves room in the slab for one frame of up to `maxBytes` and returns the offset of its
   * payload: the caller writes the frame there and calls commit(), so it goes out with no copy
   * of its own. The caller has already checked `maxBytes` against maxFrame.
   */
  claim(maxBytes: number): number {
    this.reserve(HEADER_BYTES + maxBytes);
    this.claimAt = this.end;
    return this.end + HEADER_BYTES;
  }

  /** Ends the claim with a frame of `length` bytes (at most what was claimed). */
  commit(length: number): void {
    const at = this.claimAt;
    this.slab.writeUInt32BE(length, at);
    this.end = at + HEADER_BYTES + length;
    this.pending += HEADER_BYTES + length;
  }

  /** Appends one frame. The caller has already checked it against maxFrame. */
  encode(frame: Uint8Array): void {
    const n = frame.byteLength;
    if (n <= COPY_LIMIT) {
      this.reserve(HEADER_BYTES + n);
      this.slab.writeUInt32BE(n, this.end);
      this.slab.set(frame, this.end + HEADER_BYTES);
      this.end += HEADER_BYTES + n;
    } else {
      this.reserve(HEADER_BYTES);
      this.slab.writeUInt32BE(n, this.end);
      this.end += HEADER_BYTES;
      this.cut();
      this.out.push(Buffer.isBuffer(frame) ? frame : Buffer.from(frame.buffer, frame.byteOffset, n));
    }
    this.pending += HEADER_BYTES + n;
  }

  /** Everything encoded since the last call, in order, ready to write. */
  take(): Buffer[] {
    this.cut();
    const out = this.out;
    this.out = [];
    this.pending = 0;
    return out;
  }

  private reserve(bytes: number): void {
    if (this.slab.length - this.end >= bytes) return;
    this.cut();
    // Bytes already handed out stay owned by their writes; start a fresh slab.
    this.slab = Buffer.allocUnsafeSlow(Math.max(SLAB_BYTES, bytes));
    this.start = this.end = 0;
  }

  private cut(): void {
    if (this.end > this.start) {
      this.out.push(this.slab.subarray(this.start, this.end));
      this.start = this.end;
    }
  }
}

/** Encodes one frame as a single buffer (prefix + payload). For tests and one-off writes. */
export function encodeFrame(frame: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(HEADER_BYTES + frame.byteLength);
  out.writeUInt32BE(frame.byteLength, 0);
  out.set(frame, HEADER_BYTES);
  return out;
}

/** Frames of one chunk handed up at once, at most: a pause is noticed at least this often. */
const MAX_BATCH = 1024;

/** Where a decoder may send frames a chunk at a time. */
export interface BatchConsumer {
  /** Asked per chunk: false sends frames one at a time (onFrame). */
  wanted(): boolean;
  /** Takes the batch (valid during the call only); returns how many frames it took, from the first. */
  deliver(batch: FrameBatch): number;
}

/** The frames of one chunk, reused. */
class ChunkBatch implements FrameBatch {
  bytes: Uint8Array = EMPTY;
  readonly starts = new Float64Array(MAX_BATCH);
  readonly lengths = new Float64Array(MAX_BATCH);
  count = 0;
}

/** Reassembles frames from chunks. */
export class FrameDecoder {
  private readonly header = Buffer.alloc(HEADER_BYTES);
  private headerFill = 0;
  private body: Buffer | null = null;
  private bodyFill = 0;
  private readonly queue: Buffer[] = [];
  private offset = 0; // consumed bytes of queue[0]
  private paused = false;
  private running = false;
  private failed = false;

  /**
   * @param maxFrame largest acceptable frame length.
   * @param onFrame called with each whole frame; a view valid at least for the call.
   * @param onError called once with the protocol error; the decoder then stops for good.
   */
  private batch: ChunkBatch | undefined;

  constructor(
    private readonly maxFrame: number,
    private readonly onFrame: (frame: Buffer) => void,
    private readonly onError: (error: FrameTooLargeError) => void,
    private readonly batches?: BatchConsumer,
  ) {}

  /** Bytes received and not yet delivered (partial frame plus queued chunks). */
  get bufferedBytes(): number {
    let n = this.headerFill + (this.body === null ? 0 : HEADER_BYTES + this.bodyFill) - this.offset;
    for (const c of this.queue) n += c.length;
    return n;
  }

  /** True while received bytes wait undelivered (behind a pause, or a partial frame). */
  get hasQueued(): boolean {
    return this.queue.length > 0;
  }

  /** Feeds a chunk; delivers every whole frame it completes unless paused. */
  push(chunk: Buffer): void {
    if (this.failed || chunk.length === 0) return;
    this.queue.push(chunk);
    if (!this.paused && !this.running) this.run();
  }

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
    if (!this.running && !this.failed) this.run();
  }

  /** Stops for good and drops what is buffered. */
  stop(): void {
    this.failed = true;
    this.queue.length = 0;
    this.body = null;
    this.offset = this.headerFill = this.bodyFill = 0;
  }

  private run(): void {
    this.running = true;
    // asked once per run, not per frame: the consumer takes batches or single frames
    const batching = this.batches !== undefined && this.batches.wanted();
    try {
      while (!this.paused && !this.failed && this.queue.length > 0) {
        const chunk = this.queue[0]!;
        let off = this.offset;
        if (off >= chunk.length) {
          this.queue.shift();
          this.offset = 0;
          continue;
        }
        if (this.body !== null) {
          const n = Math.min(chunk.length - off, this.body.length - this.bodyFill);
          chunk.copy(this.body, this.bodyFill, off, off + n);
          this.bodyFill += n;
          this.offset = off + n;
          if (this.bodyFill === this.body.length) {
            const frame = this.body;
            this.body = null;
            this.bodyFill = 0;
            this.onFrame(frame);
          }
          continue;
        }
        if (this.headerFill > 0 || chunk.length - off < HEADER_BYTES) {
          const n = Math.min(HEADER_BYTES - this.headerFill, chunk.length - off);
          chunk.copy(this.header, this.headerFill, off, off + n);
          this.headerFill += n;
          this.offset = off + n;
          if (this.headerFill < HEADER_BYTES) continue;
          this.headerFill = 0;
          const len = this.header.readUInt32BE(0);
          if (!this.accept(len)) return;
          if (len === 0) this.onFrame(EMPTY);
          else {
            this.body = Buffer.allocUnsafe(len);
            this.bodyFill = 0;
          }
          continue;
        }
        const len = chunk.readUInt32BE(off);
        if (!this.accept(len)) return;
        off += HEADER_BYTES;
        if (chunk.length - off >= len) {
          if (batching) {
            if (!this.deliverBatch(chunk, off, len)) return;
            continue;
          }
          this.offset = off + len;
          this.onFrame(chunk.subarray(off, off + len));
          continue;
        }
        // The frame straddles chunks: copy once into a buffer of exactly its size.
        this.body = Buffer.allocUnsafe(len);
        this.bodyFill = chunk.copy(this.body, 0, off);
        this.offset = chunk.length;
      }
    } finally {
      this.running = false;
    }
  }

  /**
   * Hands up the whole frame at `off` (`len` bytes, checked) and the whole frames after it in
   * `chunk`, as one batch. A length above maxFrame ends the batch before it: the next turn of
   * run() reads it again and fails, after the frames before it were delivered. Returns false
   * when the consumer took less than the batch (paused or ending): run() stops there.
   */
  private deliverBatch(chunk: Buffer, off: number, len: number): boolean {
    const batch = (this.batch ??= new ChunkBatch());
    const { starts, lengths } = batch;
    const end = chunk.length;
    starts[0] = off;
    lengths[0] = len;
    let n = 1;
    let p = off + len;
    while (n < MAX_BATCH && end - p >= HEADER_BYTES) {
      const l = chunk.readUInt32BE(p);
      if (l > this.maxFrame || end - p - HEADER_BYTES < l) break;
      starts[n] = p + HEADER_BYTES;
      lengths[n] = l;
      n++;
      p += HEADER_BYTES + l;
    }
    batch.bytes = chunk;
    batch.count = n;
    let took: number;
    try {
      took = this.batches!.deliver(batch);
    } finally {
      batch.bytes = EMPTY;
    }
    if (took >= n) {
      this.offset = p;
      return true;
    }
    // from the first frame not taken, header and all
    this.offset = starts[took]! - HEADER_BYTES;
    return false;
  }

  private accept(len: number): boolean {
    if (len <= this.maxFrame) return true;
    this.stop();
    this.onError(new FrameTooLargeError(len, this.maxFrame, 'receive'));
    return false;
  }
}
