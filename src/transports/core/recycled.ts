/**
 * recycled.ts: copies of large byte ranges into Buffers whose memory is recycled
 * (native/recycled_buffers.cc): the one copy a receiver makes of a large payload out of a
 * link's memory (the shm ring, a socket chunk), which must outlive the link's callback.
 *
 * Why: with a new malloc'ed Buffer per payload, the receiver of 64 KiB and 1 MiB tells spent
 * its time page-faulting fresh memory and zeroing it, not copying (profile in the commit).
 *
 * Invariants: the result is a Buffer of exactly `end - start` bytes with memory of its own
 * (never shared with another result, never a view of the source), every byte copied from the
 * source. Below RECYCLED_FROM it is an ordinary unzeroed Buffer (a native call would cost more
 * than malloc saves there).
 */
import { native } from '../../native.js';

/** Bytes from which a copy goes into recycled memory (the native pool's smallest class). */
export const RECYCLED_FROM = 16 * 1024;
const RECYCLED_MAX = native.recycledMax;

/** A copy of `src[start, end)` in memory of its own. */
export function copyOut(src: Uint8Array, start: number, end: number): Buffer {
  const n = end - start;
  const out = n >= RECYCLED_FROM && n <= RECYCLED_MAX ? native.recycledBuffer(n) : Buffer.allocUnsafeSlow(n);
  out.set(src.subarray(start, end));
  return out;
}

/** [bytes waiting for reuse, blocks reused so far] (for tests). */
export function recycledStats(): [number, number] {
  return native.recycledStats();
}
