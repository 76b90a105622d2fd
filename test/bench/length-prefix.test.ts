/**
 * length-prefix.test.ts: the raw-socket baseline's hand-written framing reassembles frames
 * from chunks split at every byte offset, so the baseline measures a correct protocol.
 */
import { expect } from 'chai';
import { LengthPrefixReader } from '../../benchmarks/baselines/length-prefix.js';

function framed(frames: Buffer[]): Buffer {
  return Buffer.concat(frames.flatMap((f) => [Buffer.from([0, 0, f.length >> 8, f.length & 0xff]), f]));
}

describe('bench: raw socket length prefix', function () {
  const frames = [Buffer.from('a'), Buffer.alloc(0), Buffer.alloc(300, 7), Buffer.from('hello')];
  const wire = framed(frames);

  it('reassembles frames split at every offset into two chunks', function () {
    for (let cut = 0; cut <= wire.length; cut++) {
      const reader = new LengthPrefixReader();
      const got: Buffer[] = [];
      reader.push(wire.subarray(0, cut), (f) => got.push(Buffer.from(f)));
      reader.push(wire.subarray(cut), (f) => got.push(Buffer.from(f)));
      expect(got, `cut at ${cut}`).to.deep.equal(frames);
    }
  });

  it('reassembles frames fed one byte at a time', function () {
    const reader = new LengthPrefixReader();
    const got: Buffer[] = [];
    for (let i = 0; i < wire.length; i++) reader.push(wire.subarray(i, i + 1), (f) => got.push(Buffer.from(f)));
    expect(got).to.deep.equal(frames);
  });
});
