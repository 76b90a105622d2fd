/**
 * shm-batch.test.ts: RecordBatch (src/transports/shm/batch.ts), the split of one shm data
 * record into a FrameBatch: exact splits, every way a record can fail to split, frames above
 * maxFrame, growth past its first arrays, and drop() after a partial hand-up.
 */
import { expect } from 'chai';
import { BATCH_MALFORMED, BATCH_TOO_LARGE, RecordBatch } from '../../src/transports/shm/batch.js';

/** `frames` in the stream framing, at offset `at` of a fresh 64 KiB "ring". */
function ring(frames: Uint8Array[], at = 0): { bytes: Uint8Array; length: number } {
  const bytes = new Uint8Array(64 * 1024);
  const view = new DataView(bytes.buffer);
  let p = at;
  for (const f of frames) {
    view.setUint32(p, f.length);
    bytes.set(f, p + 4);
    p += 4 + f.length;
  }
  return { bytes, length: p - at };
}

function framesOf(batch: RecordBatch): string[] {
  return Array.from({ length: batch.count }, (_, i) => Buffer.from(batch.bytes.subarray(batch.starts[i], batch.starts[i]! + batch.lengths[i]!)).toString());
}

describe('shm RecordBatch', function () {
  it('splits a record exactly into its frames, empty ones included', function () {
    const frames = ['a', '', 'hello', 'x'.repeat(300)].map((t) => Buffer.from(t));
    const { bytes, length } = ring(frames, 40);
    const batch = new RecordBatch(bytes);
    expect(batch.split(40, length, 1000)).to.equal(4);
    expect(framesOf(batch)).to.deep.equal(frames.map(String));
  });

  it('refuses a record that does not split exactly, or a frame above maxFrame', function () {
    const { bytes, length } = ring([Buffer.from('abc'), Buffer.from('defgh')]);
    const batch = new RecordBatch(bytes);
    expect(batch.split(0, length - 1, 1000), 'last frame cut short').to.equal(BATCH_MALFORMED);
    expect(batch.count).to.equal(0);
    expect(batch.split(0, length + 2, 1000), 'two bytes where a length should be').to.equal(BATCH_MALFORMED);
    expect(batch.split(0, length, 4), 'a 5-byte frame over maxFrame 4').to.equal(BATCH_TOO_LARGE);
    expect(batch.tooLarge).to.equal(5);
    new DataView(bytes.buffer).setUint32(0, 0xffff_fff0);
    expect(batch.split(0, length, 2 ** 32), 'a length near 2^32').to.equal(BATCH_MALFORMED);
  });

  it('grows past its first arrays, and drop(k) keeps the rest in order', function () {
    const frames = Array.from({ length: 1000 }, (_, i) => Buffer.from(`f${i}`));
    const { bytes, length } = ring(frames);
    const batch = new RecordBatch(bytes);
    expect(batch.split(0, length, 100)).to.equal(1000);
    batch.drop(997);
    expect(framesOf(batch)).to.deep.equal(['f997', 'f998', 'f999']);
  });
});
