/**
 * copy-arena.ts: the one copy a receiver makes of a large bin out of a link's memory (the shm
 * ring, a socket chunk), which must outlive the link's callback: carved from a shared arena,
 * as Node's own pool does for small Buffers, instead of a Buffer of its own per payload.
 *
 * Why: the receiver of 64 KiB and 1 MiB tells spent its time on allocating, not copying: a new
 * ArrayBuffer per payload cost zero-filling, page faults and the collector's per-buffer work
 * (receiver CPU per 64 KiB message 15.8 us with one Buffer each, 5.6-8.7 us with one 4 MiB
 * arena per 64; per 1 MiB message 233 -> 135 us; figures and profiles in the commits). A pool
 * of native blocks handed out as external Buffers was tried first and cost as much as one
 * Buffer each.
 *
 * Invariants:
 * - copyOut's result is a Buffer of exactly `end - start` bytes, every one copied from the
 *   source, never a view of the source, never overlapping any other result; carves are
 *   8-byte aligned (a Float64Array over one works).
 * - Up to ARENA_MAX bytes it is a view into an ARENA_BYTES arena shared with other results
 *   (`.buffer` is the arena, `byteOffset` is usually not 0), so a copy kept for long keeps its
 *   whole arena alive: a user keeping small parts of many messages should copy them
 *   (Buffer.from). Larger results have memory of their own. Nothing is zeroed first: every
 *   byte of a result is written before it is returned, and an arena's unused tail holds only
 *   earlier copies of this process.
 */

/** Bytes of one arena, and the largest result carved from one. */
export const ARENA_BYTES = 4 * 1024 * 1024;
export const ARENA_MAX = ARENA_BYTES / 4;

let arena: Buffer = Buffer.alloc(0);
let arenaAt = 0;

/** A copy of `src[start, end)` (see the invariants above). */
export function copyOut(src: Uint8Array, start: number, end: number): Buffer {
  const n = end - start;
  let out: Buffer;
  if (n <= ARENA_MAX) {
    if (arena.length - arenaAt < n) {
      arena = Buffer.allocUnsafeSlow(ARENA_BYTES);
      arenaAt = 0;
    }
    out = arena.subarray(arenaAt, arenaAt + n);
    arenaAt = (arenaAt + n + 7) & ~7;
  } else out = Buffer.allocUnsafeSlow(n);
  out.set(src.subarray(start, end));
  return out;
}
