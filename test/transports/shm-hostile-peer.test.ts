/**
 * shm-hostile-peer.test.ts: a peer shares our mapping and can write anything into it. Whatever
 * it writes, our side ends the link (or goes on), but never hangs, crashes or reads outside
 * the ring. Both ends live in this process (shm-local-pair.ts), so "the peer" is simply the
 * other end's view of the same memory.
 */
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { withTimeout } from '../setup/timing.js';
import { localShmPair, mappingOf } from './shm-local-pair.js';

const RING = 64 * 1024;
/** Offsets fixed by native/shm_ring.h (static_asserts there). */
const DOORBELL_0 = 320;
const RING0_PRODUCER = 64;
const RING0_DATA = 4096;

describe('shm: a hostile peer', function () {
  it('zeroes the doorbell our waiter sleeps on: close() still returns, within a second', async function () {
    const [a, b] = localShmPair(RING);
    a.onFrame(() => {});
    b.onFrame(() => {});
    await new Promise((r) => setTimeout(r, 200)); // a's waiter has spun, then gone to sleep
    // A zeroed doorbell swallows the post that would stop the waiter: only a bounded wait ends it.
    mappingOf(b).fill(0, DOORBELL_0, DOORBELL_0 + 32);
    const t0 = performance.now();
    await withTimeout(a.close(), 3000, 'close() with a swallowed wake-up');
    expect(performance.now() - t0).to.be.lessThan(1000);
    await b.close();
  });

  it('writes 0xff over the doorbell our waiter sleeps on: no abort, every frame still arrives, close() returns', async function () {
    const child = spawn(process.execPath, [fileURLToPath(new URL('../fixtures/shm-scribble.js', import.meta.url))], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (out += s));
    const [code, signal] = await withTimeout(new Promise<[number | null, string | null]>((r) => child.once('exit', (c, s) => r([c, s]))), 20_000, 'the scribbled process');
    expect(signal, 'the process died of a signal (glibc aborts on a corrupted sem_t)').to.equal(null);
    expect(code).to.equal(0);
    expect(JSON.parse(out)).to.deep.equal({ got: 200 });
  });

  it('publishes a producer position past what the ring can hold: our side ends as protocol-error (ERR_SHM_CORRUPT)', async function () {
    const [a, b] = localShmPair(RING);
    const first = new Promise<void>((resolve) => b.onFrame(() => resolve()));
    a.send(Buffer.from('a real record first'));
    await withTimeout(first, 3000, 'the real record');
    // Side 0 produces into ring 0. As "side 0", claim ten rings' worth of records: b's waiter,
    // armed after the first record, sees the position move (at the latest at its next timed
    // look) and b reads it.
    new DataView(mappingOf(a).buffer).setBigUint64(RING0_PRODUCER, BigInt(RING * 10), true);
    const reason = await withTimeout(b.closed, 3000, 'b to notice');
    expect(reason.kind).to.equal('protocol-error');
    expect((reason.error as { code?: string }).code).to.equal('ERR_SHM_CORRUPT');
    await a.close();
  });

  it('commits a data record whose frames do not add up to it: our side ends as protocol-error (ERR_SHM_CORRUPT)', async function () {
    const [a, b] = localShmPair(RING);
    const first = new Promise<void>((resolve) => b.onFrame(() => resolve()));
    a.send(Buffer.from('a real record first')); // 19 B: one record of 8 + 24 bytes
    await withTimeout(first, 3000, 'the real record');
    // As "side 0": a well-formed record (8 bytes of payload) holding a frame that claims 100.
    const ring = new DataView(mappingOf(a).buffer, RING0_DATA);
    ring.setUint32(32, 8, true); // record length
    ring.setUint32(36, 0, true); // flags: data
    ring.setUint32(40, 100); // the frame's big-endian length: past the record's end
    new DataView(mappingOf(a).buffer).setBigUint64(RING0_PRODUCER, 48n, true);
    const reason = await withTimeout(b.closed, 3000, 'b to notice');
    expect(reason.kind).to.equal('protocol-error');
    expect((reason.error as { code?: string }).code).to.equal('ERR_SHM_CORRUPT');
    await a.close();
  });
});
