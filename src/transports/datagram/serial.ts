/**
 * serial.ts: serial-number arithmetic (RFC 1982) for the u32 counters the datagram wire
 * carries: a DATA's dseq, a CREDIT's grant, a PING's next (docs/PROTOCOL.md §5) and a
 * fragment's seq (fragment.ts). Written once: the link and the reassembler used to keep two
 * formulations of it.
 *
 * Invariants: a side keeps its counters unwrapped (plain numbers that grow past 2^32; exact
 * in a double up to 2^53, centuries of traffic); only the wire is mod 2^32. A wire value is
 * read as the unwrapped number nearest to a reference the reader already holds, so it is
 * right as long as the two are less than 2^31 apart, which credit and the reassembler's
 * bounded window guarantee.
 */

/** 2^32: the modulus of every wire counter. */
export const U32 = 2 ** 32;

/**
 * The unwrapped number congruent to `wire` (mod 2^32) nearest to `ref`: within
 * [ref - 2^31, ref + 2^31). `ref` is unwrapped and >= 0; `wire` is a u32.
 */
export function unwrapSerial(wire: number, ref: number): number {
  // `| 0` reduces the distance mod 2^32 to a signed 32-bit value, in one instruction: a
  // distance of 2^31 or more forward is a smaller one backward.
  return ref + ((wire - (ref % U32)) | 0);
}
