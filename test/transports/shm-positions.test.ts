/**
 * shm-positions.test.ts: ring positions stay exact however far a link runs.
 *
 * Positions cross between JavaScript and native code as doubles, exact only below 2^53; the
 * link rebases them (native keeps the absolute u64) every 2^48 bytes. No test can move 2^48
 * bytes, so here both ends of one segment rebase every few KiB, at points that do not line up
 * with the ring's wrap, while random frames (some in pieces) go both ways at once.
 */
import { expect } from 'chai';
import type { ShmLink } from '../../src/transports/shm/link.js';
import { prng, randInt, randomBytes } from '../setup/random.js';
import { withTimeout } from '../setup/timing.js';
import { localShmPair } from './shm-local-pair.js';

const RING = 64 * 1024;

/** Counts the link's calls to its endpoint's rebase(): the path under test must really run. */
function countRebases(link: ShmLink): { n: number } {
  const count = { n: 0 };
  const ep = (link as unknown as { carrier: { ep: { rebase(delta: number): void } } }).carrier.ep;
  const original = ep.rebase.bind(ep);
  // an own property: the native method on the prototype is read-only
  Object.defineProperty(ep, 'rebase', {
    value: (delta: number) => {
      count.n++;
      original(delta);
    },
  });
  return count;
}

/** Sends `frames` on `from` and resolves with the first mismatch seen on `to` (or undefined). */
async function carry(from: ShmLink, to: ShmLink, frames: Buffer[]): Promise<string | undefined> {
  let next = 0;
  let bad: string | undefined;
  const done = new Promise<void>((resolve) =>
    to.onFrame((f) => {
      if (bad === undefined && !Buffer.from(f.buffer, f.byteOffset, f.byteLength).equals(frames[next]!)) {
        bad = `frame ${next} (${frames[next]!.length} B) arrived as ${f.byteLength} B of other bytes`;
      }
      if (++next === frames.length) resolve();
    }),
  );
  for (const f of frames) if (!from.send(f)) await from.drain();
  await withTimeout(done, 20_000, `all ${frames.length} frames`);
  return bad;
}

describe('shm positions', function () {
  it('rebased every few KiB on both sides, both ways at once: frames arrive whole, in order, byte-exact', async function () {
    const [a, b] = localShmPair(RING, [24 * 1024 + 8, 40 * 1024 + 16]);
    const rebasesA = countRebases(a);
    const rebasesB = countRebases(b);
    const rand = prng(0x9e3779b9);
    const frames = (): Buffer[] =>
      Array.from({ length: 1500 }, (_, i) => randomBytes(rand, i % 50 === 0 ? randInt(rand, 33 * 1024, 100 * 1024) : randInt(rand, 0, 2000)));
    const [ab, ba] = [frames(), frames()];
    const [badAB, badBA] = await Promise.all([carry(a, b, ab), carry(b, a, ba)]);
    expect(badAB).to.equal(undefined);
    expect(badBA).to.equal(undefined);
    // Each side rebases its receive ring after a drain (send positions never leave native
    // code): a few MiB each way against thresholds of a few dozen KiB means many.
    expect(rebasesA.n).to.be.greaterThan(20);
    expect(rebasesB.n).to.be.greaterThan(20);
    await Promise.all([a.close(), b.close()]);
    expect((await a.closed).kind).to.equal('closed');
  });
});
