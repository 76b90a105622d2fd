/**
 * shm-claim.test.ts: writing frames in place on an shm link (Link.claim()/commit(), straight
 * into the send ring) and the one receive path a batch record adds: a pause in the middle of
 * a record of many frames. Both ends of one segment live in this process (shm-local-pair.ts),
 * so the ring's control lines can be read directly.
 */
import { expect } from 'chai';
import { TransportError } from '../../src/index.js';
import { withTimeout } from '../setup/timing.js';
import { localShmPair, mappingOf } from './shm-local-pair.js';

const RING = 64 * 1024;
/** ring[0].consumer.position (native/shm_ring.h, docs/PROTOCOL.md §8): side 1's release of side 0's records. */
const RING0_CONSUMER = 128;

function consumerPosition(mapping: Uint8Array): bigint {
  return new DataView(mapping.buffer, mapping.byteOffset).getBigUint64(RING0_CONSUMER, true);
}

describe('shm claim/commit and batch records', function () {
  it('a frame written in place with claim()/commit() arrives byte-exact, in order with send()', async function () {
    const [a, b] = localShmPair(RING);
    const got: string[] = [];
    const all = new Promise<void>((resolve) =>
      b.onFrame((f) => {
        got.push(Buffer.from(f).toString());
        if (got.length === 3) resolve();
      }),
    );
    a.send(Buffer.from('before'));
    const view = a.claim!(100);
    expect(view).to.be.instanceOf(Uint8Array);
    expect(view!.length).to.equal(100);
    const n = Buffer.from(view!.buffer, view!.byteOffset, view!.length).write('in place, 19 bytes!');
    expect(a.commit!(n)).to.equal(true);
    a.send(Buffer.from('after'));
    await withTimeout(all, 3000, 'three frames');
    expect(got).to.deep.equal(['before', 'in place, 19 bytes!', 'after']);
    await Promise.all([a.close(), b.close()]);
  });

  it('claim() on a full ring and a full spill returns null; commit() without a claim, a bad length, and a second claim are typed errors', async function () {
    const [a, b] = localShmPair(RING);
    // b never reads: fill a's send ring until frames queue; claims then go to the spill
    // (shm-spill.test.ts) until it is full too.
    while (a.send(Buffer.alloc(1000, 1)));
    let spilled = 0;
    for (let v = a.claim!(1000); v !== null; v = a.claim!(1000)) {
      a.commit!(1000);
      spilled++;
    }
    expect(spilled, 'the spill took claims').to.be.greaterThan(0);
    expect(a.claim!(1000)).to.equal(null);

    let error: unknown;
    try {
      a.commit!(1);
    } catch (err) {
      error = err;
    }
    expect(error).to.be.instanceOf(TransportError);
    expect((error as TransportError).code).to.equal('ERR_NO_CLAIM');

    const [c, d] = localShmPair(RING);
    const view = c.claim!(16);
    expect(view).to.not.equal(null);
    for (const bad of [17, -1, 1.5]) {
      error = undefined;
      try {
        c.commit!(bad);
      } catch (err) {
        error = err;
      }
      expect(error, `commit(${bad})`).to.be.instanceOf(RangeError);
    }
    error = undefined;
    try {
      c.claim!(8);
    } catch (err) {
      error = err;
    }
    expect(error).to.be.instanceOf(TransportError);
    expect((error as TransportError).code).to.equal('ERR_CLAIM_OPEN');
    expect(c.commit!(0)).to.equal(true);
    const empty = new Promise<number>((resolve) => d.onFrame((f) => resolve(f.length)));
    expect(await withTimeout(empty, 3000, 'the empty frame')).to.equal(0);
    await Promise.all([a.close(), b.close(), c.close(), d.close()]);
  });

  it('a pause in the middle of a record of many frames: the rest waits, its space is not released, and comes after resume()', async function () {
    const [a, b] = localShmPair(RING);
    const frames = Array.from({ length: 10 }, (_, i) => Buffer.from(`frame ${i}`));
    const got: string[] = [];
    let resumed!: () => void;
    const allIn = new Promise<void>((resolve) => (resumed = resolve));
    b.onFrame((f) => {
      got.push(Buffer.from(f).toString());
      if (got.length === 3) b.pause();
      if (got.length === frames.length) resumed();
    });
    // One tick: the ten frames go as one record.
    for (const f of frames) a.send(f);
    await withTimeout((async () => {
      while (got.length < 3) await new Promise((r) => setTimeout(r, 5));
    })(), 3000, 'the first three frames');
    await new Promise((r) => setTimeout(r, 50));
    expect(got).to.deep.equal(frames.slice(0, 3).map(String));
    // Frames 3.. are views into that record: none of it may be handed back to the producer yet.
    expect(consumerPosition(mappingOf(b))).to.equal(0n);
    b.resume();
    await withTimeout(allIn, 3000, 'the rest after resume()');
    expect(got).to.deep.equal(frames.map(String));
    await withTimeout((async () => {
      while (consumerPosition(mappingOf(b)) === 0n) await new Promise((r) => setTimeout(r, 5));
    })(), 3000, 'the record released');
    await Promise.all([a.close(), b.close()]);
  });

  it('a sink that asks for batches (batching): a record goes up as one FrameBatch, and a pause inside it holds the rest', async function () {
    const [a, b] = localShmPair(RING);
    // The carrier asks its sink (the link) whether a batch handler is set (onFrames). Pinned
    // true here, so the second half drives the batch path under a one-frame handler too.
    Object.defineProperty(b, 'batching', { value: true });
    const frames = Array.from({ length: 10 }, (_, i) => Buffer.from(`frame ${i}`));
    const batches: string[][] = [];
    const first = new Promise<void>((resolve) =>
      b.onFrames!((batch) => {
        batches.push(Array.from({ length: batch.count }, (_, i) => Buffer.from(batch.bytes.subarray(batch.starts[i], batch.starts[i]! + batch.lengths[i]!)).toString()));
        resolve();
      }),
    );
    for (const f of frames) a.send(f);
    await withTimeout(first, 3000, 'the batch');
    expect(batches).to.deep.equal([frames.map(String)]);

    // The same path under a one-frame handler: LinkCore takes frames out of the batch one by
    // one, and a pause leaves the rest of the batch held.
    const got: string[] = [];
    b.onFrame((f) => {
      got.push(Buffer.from(f).toString());
      if (got.length === 2) b.pause();
    });
    for (const f of frames) a.send(f);
    await withTimeout((async () => {
      while (got.length < 2) await new Promise((r) => setTimeout(r, 5));
    })(), 3000, 'two frames');
    await new Promise((r) => setTimeout(r, 50));
    expect(got).to.have.length(2);
    const released = consumerPosition(mappingOf(b));
    b.resume();
    await withTimeout((async () => {
      while (got.length < 10) await new Promise((r) => setTimeout(r, 5));
    })(), 3000, 'the rest');
    expect(got).to.deep.equal(frames.map(String));
    await withTimeout((async () => {
      while (consumerPosition(mappingOf(b)) === released) await new Promise((r) => setTimeout(r, 5));
    })(), 3000, 'the second record released');
    await Promise.all([a.close(), b.close()]);
  });
});
