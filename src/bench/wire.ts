/**
 * wire.ts: the first-byte tags the bench and its peer agree on.
 */
/** Frames starting with ECHO are sent back (round trips). */
export const ECHO = 0x01;
/** Frames starting with SINK are counted (throughput). */
export const SINK = 0x02;
