/**
 * datagram-wire.ts: the datagrams a link's two ends exchange once it is open, on every
 * datagram transport (docs/PROTOCOL.md §5), laid out in this one file. Every datagram starts
 * with a one-byte kind; integers are big-endian u32, counters mod 2^32 (serial.ts):
 *
 *   DATA   0x01 | dseq u32 | fragment piece (fragment.ts: 16-byte header + payload)
 *   CREDIT 0x02 | grant u32                  "you may send DATA with dseq < grant"
 *   BYE    0x03 | next u32                   "I sent DATA up to next-1 and will send no more"
 *   PING   0x04 | next u32 | grant u32       heartbeat: liveness, and lost CREDITs repaired
 *
 * The handshake that opens a link is each transport's own (§6 msgq, §7 udp) and uses kinds
 * from 0x10 up.
 */
import { FRAGMENT_HEADER_BYTES } from './fragment.js';
import { U32 } from './serial.js';

export const KIND_DATA = 0x01;
export const KIND_CREDIT = 0x02;
export const KIND_BYE = 0x03;
export const KIND_PING = 0x04;
/** Bytes before the fragment header in a DATA datagram: kind and dseq. */
export const DATA_HEADER_BYTES = 5;
/** Bytes of a DATA's headers together (kind, dseq, fragment header): where its payload starts. */
export const DATA_PAYLOAD_OFFSET = DATA_HEADER_BYTES + FRAGMENT_HEADER_BYTES;
/** The smallest datagram that can carry a DATA with one payload byte. */
export const MIN_DATAGRAM = DATA_PAYLOAD_OFFSET + 1;
/** The length of a CREDIT or a BYE. */
export const CREDIT_BYTES = 5;
export const BYE_BYTES = 5;
/** The length of a PING. */
export const PING_BYTES = 9;

/** Writes DATA's kind and dseq (unwrapped; the wire takes it mod 2^32) at the start of `d`. */
export function writeDataHeader(d: Buffer, dseq: number): void {
  d[0] = KIND_DATA;
  d.writeUInt32BE(dseq % U32, 1);
}

export function encodeCredit(grant: number): Buffer {
  const c = Buffer.allocUnsafe(CREDIT_BYTES);
  c[0] = KIND_CREDIT;
  c.writeUInt32BE(grant % U32, 1);
  return c;
}

export function encodeBye(next: number): Buffer {
  const b = Buffer.allocUnsafe(BYE_BYTES);
  b[0] = KIND_BYE;
  b.writeUInt32BE(next % U32, 1);
  return b;
}

export function encodePing(next: number, grant: number): Buffer {
  const p = Buffer.allocUnsafe(PING_BYTES);
  p[0] = KIND_PING;
  p.writeUInt32BE(next % U32, 1);
  p.writeUInt32BE(grant % U32, 5);
  return p;
}
