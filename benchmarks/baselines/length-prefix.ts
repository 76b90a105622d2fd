/**
 * length-prefix.ts: the hand-written framing of the raw Unix socket baseline: a u32 BE
 * length, then the bytes; what a Node user writes when they skip a library. Writes are corked
 * for the rest of the tick (one writev per tick, as our stream Links do), so the comparison is
 * with a competent hand-rolled version, not a naive one.
 */
import type { Socket } from 'node:net';

/** Reassembles frames from socket chunks. A frame is a view into a chunk Node never reuses. */
export class LengthPrefixReader {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private need = -1;

  push(chunk: Buffer, onFrame: (frame: Buffer) => void): void {
    if (chunk.length) this.chunks.push(chunk);
    this.buffered += chunk.length;
    for (;;) {
      if (this.need < 0) {
        if (this.buffered < 4) return;
        this.need = this.take(4).readUInt32BE(0);
      }
      if (this.buffered < this.need) return;
      const frame = this.take(this.need);
      this.need = -1;
      onFrame(frame);
    }
  }

  private take(n: number): Buffer {
    if (n === 0) return Buffer.alloc(0);
    this.buffered -= n;
    const first = this.chunks[0]!;
    if (first.length > n) {
      this.chunks[0] = first.subarray(n);
      return first.subarray(0, n);
    }
    if (first.length === n) {
      this.chunks.shift();
      return first;
    }
    const out = Buffer.allocUnsafe(n);
    let at = 0;
    while (at < n) {
      const c = this.chunks[0]!;
      const k = Math.min(c.length, n - at);
      c.copy(out, at, 0, k);
      at += k;
      if (k === c.length) this.chunks.shift();
      else this.chunks[0] = c.subarray(k);
    }
    return out;
  }
}

/** Writes one length-prefixed frame; false = the socket is above its high-water mark. */
export function writeFrame(socket: Socket, frame: Uint8Array): boolean {
  if (!socket.writableCorked) {
    socket.cork();
    process.nextTick(() => socket.uncork());
  }
  const head = Buffer.allocUnsafe(4);
  head.writeUInt32BE(frame.byteLength, 0);
  socket.write(head);
  return socket.write(frame);
}
