/**
 * shm-stress.test.ts: ten million records of random sizes (a few of them large enough to be
 * fragmented) from this process to a child over one `shm:` pair, each with its seq and a
 * checksum of its payload, verified one by one on the other side. Speed is not asserted here
 * (that is `switchyard bench`); loss, reordering, duplication and corruption are.
 */
import { expect } from 'chai';
import { fileURLToPath } from 'node:url';
import { spawnWithLink } from '../../src/index.js';
import { fnv1a, stressChecksum } from '../fixtures/shm-stress.js';
import { prng, randInt, randomBytes } from '../setup/random.js';
import { withTimeout } from '../setup/timing.js';
import { nextFrame } from './harness.js';

const FIXTURE = fileURLToPath(new URL('../fixtures/shm-stress.js', import.meta.url));
const RECORDS = 10_000_000;
const BATCH = 4096;

describe('shm stress', function () {
  this.timeout(120_000);

  it(`moves ${RECORDS.toLocaleString('en')} checksummed records of random sizes to a child, none lost, reordered or corrupted`, async function () {
    const { link, child } = await spawnWithLink('shm', FIXTURE);
    const exited = new Promise((r) => child.once('exit', r));
    try {
      expect((await nextFrame(link)).toString()).to.equal('ready');
      const rand = prng(0xc0ffee);
      // Payloads come from a pool (hashed once) so the sender is not the bottleneck; which
      // payload, its size, and the seq mixed into the checksum change with every record.
      const pool = Array.from({ length: 1024 }, (_, i) => randomBytes(rand, i % 256 === 255 ? randInt(rand, 2_200_000, 3_000_000) : randInt(rand, 0, 200)));
      const hashes = pool.map((p) => fnv1a(p, 0));
      let bytes = 0;
      let big = 0;
      for (let seq = 0; seq < RECORDS; ) {
        const n = Math.min(BATCH, RECORDS - seq);
        const picks = new Uint16Array(n);
        let total = 0;
        for (let i = 0; i < n; i++) {
          // One record in ~50,000 is a multi-MiB one (above half the 4 MiB ring: fragmented).
          let k = Math.floor(rand() * 1024);
          if (k % 256 === 255 && rand() > 0.005) k--;
          picks[i] = k;
          total += 8 + pool[k]!.length;
        }
        const buf = Buffer.allocUnsafe(total);
        let off = 0;
        let full = false;
        for (let i = 0; i < n; i++, seq++) {
          const p = pool[picks[i]!]!;
          buf.writeUInt32LE(seq >>> 0, off);
          buf.writeUInt32LE(stressChecksum(seq, hashes[picks[i]!]!), off + 4);
          p.copy(buf, off + 8);
          const record = buf.subarray(off, off + 8 + p.length);
          off += record.length;
          bytes += record.length;
          if (p.length > 1_000_000) big++;
          full = !link.send(record) || full;
        }
        if (full) await link.drain();
      }
      const report = nextFrame(link, 60_000);
      link.send(Buffer.alloc(0));
      const r = JSON.parse((await report).toString()) as { records: number; bytes: number; bad: number; firstBad: string };
      expect(r.firstBad).to.equal('');
      expect(r.bad).to.equal(0);
      expect(r.records).to.equal(RECORDS);
      expect(r.bytes).to.equal(bytes);
      expect(big, 'fragmented records in the mix').to.be.above(100);
    } finally {
      await link.close();
      await withTimeout(exited, 10_000, 'the stress child to exit');
    }
  });
});
