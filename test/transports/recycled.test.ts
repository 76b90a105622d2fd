/**
 * recycled.test.ts: copies of large payloads into recycled memory (src/transports/core/
 * recycled.ts over native/recycled_buffers.cc): each copy is exact and owns its memory, and a
 * block goes back into use only once nothing can reach the Buffer that had it, however many
 * are taken and collected meanwhile.
 */
import { expect } from 'chai';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { copyOut, RECYCLED_FROM, recycledStats } from '../../src/transports/core/recycled.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** A full collection, then a turn for finalizers that run after it. */
async function collect(): Promise<void> {
  for (let i = 0; i < 3; i++) {
    gc();
    await new Promise((r) => setImmediate(r));
  }
}

describe('recycled copies', function () {
  it('copy exactly the range asked for into memory of their own, below and above the pooled sizes', function () {
    const src = Buffer.alloc(2 * 1024 * 1024 + 10);
    for (let i = 0; i < src.length; i++) src[i] = (i * 7) & 0xff;
    for (const n of [1, 4095, RECYCLED_FROM - 1, RECYCLED_FROM, RECYCLED_FROM + 1, 65_536, 1_048_576, 2 * 1024 * 1024]) {
      const b = copyOut(src, 3, 3 + n);
      expect(Buffer.isBuffer(b), `${n}: a Buffer`).to.equal(true);
      expect(b.length, `${n}: length`).to.equal(n);
      expect(b.byteOffset, `${n}: not a view into a shared slab`).to.equal(0);
      expect(b.buffer.byteLength, `${n}: its ArrayBuffer is exactly its length`).to.equal(n);
      expect(b.equals(src.subarray(3, 3 + n)), `${n}: bytes`).to.equal(true);
      b[0] ^= 0xff;
      expect(src[3], `${n}: not a view of the source`).to.equal(21);
    }
  });

  it('never hands out the memory of a Buffer still reachable, while collected ones are reused', async function () {
    const n = 64 * 1024;
    const src = Buffer.alloc(n, 0x22);
    const kept = copyOut(Buffer.alloc(n, 0x11), 0, n);
    const keptView = kept.subarray(100, 200); // a view alone must keep the block too
    const [, reusedBefore] = recycledStats();
    for (let round = 0; round < 5; round++) {
      for (let i = 0; i < 200; i++) copyOut(src, 0, n); // dropped at once
      await collect();
    }
    const fresh = Array.from({ length: 200 }, () => copyOut(src, 0, n));
    const [, reusedAfter] = recycledStats();
    expect(reusedAfter - reusedBefore, 'collected blocks were taken again').to.be.greaterThan(0);
    expect(kept.every((v) => v === 0x11), 'the kept Buffer is untouched').to.equal(true);
    expect(keptView.every((v) => v === 0x11), 'its view too').to.equal(true);
    expect(fresh.every((b) => b.every((v) => v === 0x22))).to.equal(true);
    for (const b of fresh) expect(b.buffer).to.not.equal(kept.buffer);
  });
});
