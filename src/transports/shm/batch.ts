/**
 * batch.ts: the frames of one shm data record, split out and handed up as one FrameBatch.
 *
 * A data record's payload (native/shm_ring.h owns the record around it) is a run of frames in
 * the project's stream framing (docs/PROTOCOL.md §1, framing.ts): u32 big-endian length, then
 * that many bytes, repeated until the payload ends exactly.
 *
 * Invariants:
 * - The payload lies in memory the peer shares and may still be writing (it is hostile until
 *   proven otherwise): every length is read once, checked against the bytes left in the
 *   record before it is used, and only the checked copy is kept. A record that does not split
 *   exactly is malformed; a frame above maxFrame is too large. Nothing is handed up from a
 *   record that fails either check.
 * - starts/lengths are reused from record to record (grown, never shrunk): no allocation per
 *   record once the largest batch has been seen. Offsets are relative to `bytes`, the receive
 *   ring, so they fit an Int32Array (a ring is at most 1 GiB).
 * - After a consumer took only the first k frames (a pause), drop(k) keeps the rest, in order,
 *   as the batch to hand up next.
 */
import type { FrameBatch } from '../core/transport.js';
import { HEADER_BYTES } from '../stream/framing.js';

/** split() results below 0. */
export const BATCH_MALFORMED = -1;
export const BATCH_TOO_LARGE = -2;

export class RecordBatch implements FrameBatch {
  starts = new Int32Array(64);
  lengths = new Int32Array(64);
  count = 0;
  /** After BATCH_TOO_LARGE: the length that was too large. */
  tooLarge = 0;

  /** The same bytes, for one big-endian load per length (not four byte loads). */
  private readonly view: DataView;

  /** @param bytes the receive ring, which frames are views of. */
  constructor(readonly bytes: Uint8Array) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  /**
   * Splits the record payload at `start` (offset in `bytes`), `length` bytes long. Returns the
   * number of frames (also `count`), or BATCH_MALFORMED / BATCH_TOO_LARGE (count is then 0).
   */
  split(start: number, length: number, maxFrame: number): number {
    const view = this.view;
    const end = start + length;
    let at = start;
    let n = 0;
    this.count = 0;
    while (at < end) {
      if (end - at < HEADER_BYTES) return BATCH_MALFORMED;
      const len = view.getUint32(at);
      at += HEADER_BYTES;
      if (len > end - at) return BATCH_MALFORMED;
      if (len > maxFrame) {
        this.tooLarge = len;
        return BATCH_TOO_LARGE;
      }
      if (n === this.starts.length) this.grow();
      this.starts[n] = at;
      this.lengths[n] = len;
      n++;
      at += len;
    }
    this.count = n;
    return n;
  }

  /** Forgets the first `k` frames (already handed up); the rest become frames 0.. */
  drop(k: number): void {
    this.starts.copyWithin(0, k, this.count);
    this.lengths.copyWithin(0, k, this.count);
    this.count -= k;
  }

  private grow(): void {
    const starts = new Int32Array(this.starts.length * 2);
    const lengths = new Int32Array(this.lengths.length * 2);
    starts.set(this.starts);
    lengths.set(this.lengths);
    this.starts = starts;
    this.lengths = lengths;
  }
}
