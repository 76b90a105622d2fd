/**
 * frames.ts: comparing lists of frames in tests, with a message that names the first
 * difference rather than dumping two buffers.
 */
import { expect } from 'chai';

/** Asserts byte-identical frames, with a readable message on the first difference. */
export function expectFrames(actual: Buffer[], expected: Buffer[], what = ''): void {
  const sizes = (fs: Buffer[]) => fs.map((f) => f.length).join(',');
  expect(actual.length, `${what} frame count (got sizes ${sizes(actual)})`).to.equal(expected.length);
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i]!;
    const e = expected[i]!;
    expect(a.length, `${what} frame ${i} length`).to.equal(e.length);
    expect(a.equals(e), `${what} frame ${i} (${e.length} bytes) content`).to.equal(true);
  }
}

/**
 * `count` frames numbered 0.. in their first 4 bytes (u32 BE), of `min + (i % spread)` bytes:
 * for order and loss checks that need varied sizes.
 */
export function* sequencedFrames(count: number, min = 16, spread = 48): Generator<Buffer> {
  for (let i = 0; i < count; i++) {
    const b = Buffer.alloc(min + (i % spread));
    b.writeUInt32BE(i, 0);
    yield b;
  }
}

/** Sends every frame, waiting for drain() whenever send() says so. */
export async function sendAll(link: { send(f: Uint8Array): boolean; drain(): Promise<void> }, frames: Iterable<Uint8Array>): Promise<void> {
  for (const f of frames) if (!link.send(f)) await link.drain();
}
