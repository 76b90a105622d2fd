/**
 * wire.ts: the probes the bench sends and the replies its peers give, as bytes.
 *
 * Every byte-carrying channel (our Links, the raw Unix socket, worker and child_process
 * 'advanced' messages) uses this one layout, so every peer answers the same way:
 *
 *   ECHO   [0x01][seq u32 BE][filler...]          peer sends it back unchanged (round trips)
 *   SINK   [0x02][phase u32 BE][filler...]        peer counts it under `phase` (throughput)
 *   REPORT [0x03][phase u32 BE][nonce u32 BE]     peer answers REPORT [0x03][nonce][frames u32][bytes f64]
 *   ACK    [0x04][phase u32 BE][frames u32 BE]    peer -> bench, every `ackEvery` sinks (credit, for
 *                                                 channels without backpressure of their own)
 *   QUIT   [0x05]                                 peer closes its end and exits (for carriers whose
 *                                                 close the peer cannot see, such as datagrams)
 *
 * Counts are cumulative per phase and REPORT never resets them, so a repeated REPORT (after a
 * lost datagram) gets the same answer. Probes carry a u32, so the smallest probe is MIN_SIZE.
 */
export const ECHO = 0x01;
export const SINK = 0x02;
export const REPORT = 0x03;
export const ACK = 0x04;
export const QUIT = 0x05;

/** The smallest message the bench sends: the tag, a u32, and room to spare. */
export const MIN_SIZE = 8;
/** The byte every probe's payload is filled with (the peer checks it on sinks). */
export const FILLER = 0xab;

export type Probe =
  | { readonly tag: 'echo'; readonly seq: number }
  | { readonly tag: 'sink'; readonly phase: number }
  | { readonly tag: 'report'; readonly phase: number; readonly nonce: number };

export type Reply =
  | { readonly tag: 'echo'; readonly seq: number }
  | { readonly tag: 'report'; readonly nonce: number; readonly frames: number; readonly bytes: number }
  | { readonly tag: 'ack'; readonly phase: number; readonly frames: number };

/** A probe frame of `size` bytes (at least MIN_SIZE; REPORT is always 9). */
export function encodeProbe(probe: Probe, size: number): Buffer {
  if (probe.tag === 'report') {
    const b = Buffer.alloc(9);
    b[0] = REPORT;
    b.writeUInt32BE(probe.phase, 1);
    b.writeUInt32BE(probe.nonce, 5);
    return b;
  }
  const b = Buffer.alloc(size, FILLER);
  b[0] = probe.tag === 'echo' ? ECHO : SINK;
  b.writeUInt32BE(probe.tag === 'echo' ? probe.seq : probe.phase, 1);
  return b;
}

/** Decodes a reply frame; an unknown one is an Error (a peer bug, not noise to skip). */
export function decodeReply(frame: Uint8Array): Reply {
  const b = Buffer.from(frame.buffer, frame.byteOffset, frame.byteLength);
  switch (b[0]) {
    case ECHO:
      return { tag: 'echo', seq: b.readUInt32BE(1) };
    case REPORT:
      return { tag: 'report', nonce: b.readUInt32BE(1), frames: b.readUInt32BE(5), bytes: b.readDoubleBE(9) };
    case ACK:
      return { tag: 'ack', phase: b.readUInt32BE(1), frames: b.readUInt32BE(5) };
    default:
      throw new Error(`bench: unexpected reply tag ${b[0]} (${b.byteLength} bytes)`);
  }
}
