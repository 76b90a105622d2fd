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
