/**
 * shm-spill.test.ts: Link-level claims on an shm link whose send ring is full go into the
 * spill (src/transports/shm/spill.ts) and reach the peer in order, byte-exact, between frames
 * sent with send(); the spill never hands out bytes of a frame not yet in the ring, through
 * any sequence of claims, commits and writes, wraps included; and it is bounded: once it is
 * full too, claim() returns null.
 */
import { expect } from 'chai';
import { Spill } from '../../src/transports/shm/spill.js';
import { prng, randInt } from '../setup/random.js';
import { withTimeout } from '../setup/timing.js';
import { localShmPair, mappingOf } from './shm-local-pair.js';

const RING = 64 * 1024;

describe('shm spill', function () {
  it('never hands out a live byte, keeps frames in order, and wraps (10,000 random steps against a model)', function () {
    const rand = prng(12);
    const spill = new Spill(4096);
    const live: { at: number; length: number; fill: number; view: Buffer }[] = [];
    let wraps = 0;
    let lastAt = 0;
    for (let step = 0; step < 10_000; step++) {
      if (live.length > 0 && rand() < 0.45) {
        // flush() writes the oldest frame into the ring: its bytes must be what was committed
        const f = live.shift()!;
        const bytes = spill.bytes.subarray(f.at, f.at + f.length);
        expect(bytes.every((v) => v === f.fill), `frame at ${f.at} intact until written`).to.equal(true);
        spill.written(f.view);
        continue;
      }
      const want = randInt(rand, 0, 1500);
      const at = spill.take(want);
      if (at < 0) {
        expect(live.length, 'refused only while frames are live').to.be.greaterThan(0);
        continue;
      }
      expect(at + Math.max(want, 1), 'contiguous, inside').to.be.at.most(4096);
      const length = randInt(rand, 0, want);
      for (const f of live) {
        // an empty frame holds one byte: no two frames may start at one offset either
        const overlap = at < f.at + Math.max(f.length, 1) && f.at < at + Math.max(length, 1);
        expect(overlap, `[${at}, ${at + length}) overlaps live [${f.at}, ${f.at + f.length})`).to.equal(false);
      }
      if (at < lastAt) wraps++;
      lastAt = at;
      const fill = step & 0xff;
      const view = spill.committed(at, length);
      expect(view.byteOffset - spill.bytes.byteOffset).to.equal(at);
      view.fill(fill);
      live.push({ at, length, fill, view });
    }
    expect(wraps, 'the spill wrapped').to.be.greaterThan(10);
  });

  it('claims on a full ring go to the spill and arrive in order, byte-exact, between sent frames; a full spill refuses', async function () {
    const [a, b] = localShmPair(RING);
    const expected: Buffer[] = [];
    const frame = (i: number, n: number): Buffer => Buffer.alloc(n, i & 0xff);
    // b reads nothing yet: sends and claims alternate until a claim is refused (the ring
    // full, then the spill full behind it).
    const ring = mappingOf(a).buffer; // read with no claim open: the mapping
    let i = 0;
    let spilled = 0;
    for (; i < 2000; i++) {
      const f = frame(i, 3000);
      if (i % 2 === 0) {
        a.send(f);
      } else {
        const v = a.claim!(f.length);
        if (v === null) break;
        if (v.buffer !== ring) spilled++;
        v.set(f);
        a.commit!(f.length);
      }
      expected.push(f);
    }
    expect(i, 'a claim was refused: the spill is bounded').to.be.below(2000);
    expect(spilled, 'claims went to the spill').to.be.greaterThan(2);
    const got: Buffer[] = [];
    const all = new Promise<void>((resolve) =>
      b.onFrame((f) => {
        got.push(Buffer.from(f));
        if (got.length === expected.length) resolve();
      }),
    );
    await withTimeout(all, 5000, 'every frame');
    expect(got.length).to.equal(expected.length);
    got.forEach((g, k) => expect(g.equals(expected[k]!), `frame ${k}`).to.equal(true));
    // after the spill emptied, claims go to the ring again and still arrive
    const last = a.claim!(5);
    expect(last).to.not.equal(null);
    last!.set([1, 2, 3, 4, 5]);
    a.commit!(5);
    const tail = new Promise<Buffer>((resolve) => b.onFrame((f) => resolve(Buffer.from(f))));
    expect([...(await withTimeout(tail, 3000, 'the last frame'))]).to.deep.equal([1, 2, 3, 4, 5]);
    await Promise.all([a.close(), b.close()]);
  });
});
