/**
 * spill.ts: where an shm link's Link-level claims go while its send ring is full (link.ts):
 * one Buffer of ours, used as a ring of whole frames, each queued on commit and written into
 * the shm ring by flush(), oldest first.
 *
 * Why: the bus claims room for a frame before it encodes; with the ring full that claim
 * failed and the bus wrote the frame into a new Buffer of its own, a fresh allocation per
 * large tell (page faults, collector work) on top of the copy into the ring. The spill is
 * the same first copy into memory that is reused.
 *
 * Invariants: a frame's bytes stay where they were claimed until written() says the ring has
 * them; frames are written in the order they were taken, so live bytes are [tail, head), or
 * [tail, wrapEnd) then [0, head) once wrapped, and take() never hands out a live byte. A
 * frame never wraps: take() gives `n` contiguous bytes or -1. Every frame holds at least one
 * byte, an empty one too, so no two live frames start at one offset and the frames before a
 * wrap end exactly at wrapEnd.
 */

/** Frames claimed while the ring is full, in order, until the carrier's flush() writes them into the ring. */
export class Spill {
  readonly bytes: Buffer;
  /** Live frames are [tail, head), or [tail, wrapEnd) then [0, head) once wrapped. */
  private head = 0;
  private tail = 0;
  private wrapped = false;
  private wrapEnd = 0;
  /** Frames queued from here and not yet written to the ring. */
  private live = 0;

  constructor(size: number) {
    this.bytes = Buffer.allocUnsafeSlow(size);
  }

  /** Room for `n` bytes at the returned offset, or -1. */
  take(n: number): number {
    n = n > 0 ? n : 1;
    if (this.live === 0) {
      this.head = this.tail = this.wrapEnd = 0;
      this.wrapped = false;
    }
    if (!this.wrapped) {
      if (this.bytes.length - this.head >= n) return this.head;
      if (this.tail >= n) {
        this.wrapped = true;
        this.wrapEnd = this.head;
        this.head = 0;
        return 0;
      }
      return -1;
    }
    return this.tail - this.head >= n ? this.head : -1;
  }

  /** The frame claimed at `at` was committed with `length` bytes: a view to queue. */
  committed(at: number, length: number): Buffer {
    this.head = at + (length > 0 ? length : 1);
    this.live++;
    return this.bytes.subarray(at, at + length);
  }

  /** The oldest spilled frame (a view committed() gave) is in the ring now. */
  written(frame: Uint8Array): void {
    this.live--;
    this.tail = frame.byteOffset - this.bytes.byteOffset + (frame.length > 0 ? frame.length : 1);
    if (this.wrapped && this.tail === this.wrapEnd) {
      this.wrapped = false;
      this.tail = 0;
    }
  }

  isSpilled(frame: Uint8Array): boolean {
    return frame.buffer === this.bytes.buffer;
  }
}
