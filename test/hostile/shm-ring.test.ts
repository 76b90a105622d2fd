/**
 * shm-ring.test.ts: the shm ring reader (native Endpoint::Read, through the addon's
 * ShmEndpoint.read()) and the writer's claim, over a segment a hostile peer has filled with
 * garbage: record lengths near 2^32 and near the end of the data area, unknown flags,
 * padding that does not end at the wrap, producer positions behind us, unaligned, past the
 * ring or near 2^64, consumer positions the same.
 *
 * Both ends are mapped in this process straight from the addon (as shm-positions.test.ts
 * does through the link), and "the peer" writes into the shared mapping. Invariants checked
 * every case: read() returns a record that lies inside the receive ring's data area and
 * below the published position, nothing (readEmpty), or a corruption code; the read position
 * only moves forward, and only past records it returned or padding; a sequence of reads ends
 * within capacity / 8 + 1 calls (no loop that does not advance). claim() returns a region
 * inside the send ring, "full", or "corrupt".
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { closeSync } from 'node:fs';
import { native, type ShmEndpoint } from '../../src/native.js';
import { runs } from './runs.js';

const CAP = 4096;
const L = native.shmLayout;
/** Offsets in the control page (native/shm_ring.h, static_asserted there). */
const RING0_PRODUCER = 64;
const RING0_CONSUMER = 128;

function pair(): [ShmEndpoint, ShmEndpoint] {
  const fd = native.shmMemfd(L.headerBytes + 2 * CAP);
  try {
    const a = new native.ShmEndpoint(fd, 0, CAP, 0, () => {});
    const b = new native.ShmEndpoint(fd, 1, CAP, 0, () => {});
    return [a, b];
  } finally {
    closeSync(fd);
  }
}

/** A u64 position relative to `head` that a peer might publish: honest-looking or broken. */
const positionDelta = fc.oneof(
  fc.integer({ min: 0, max: CAP / 8 }).map((n) => BigInt(n * 8)),
  fc.integer({ min: 0, max: 2 * CAP }).map(BigInt),
  fc.bigInt({ min: -BigInt(CAP), max: -1n }),
  fc.bigInt({ min: 2n ** 63n, max: 2n ** 64n - 1n }),
);

/** Record headers written at 8-aligned offsets: lengths near every edge, any flags. */
const header = fc.record({
  at: fc.integer({ min: 0, max: CAP / 8 - 1 }).map((n) => n * 8),
  length: fc.oneof(fc.integer({ min: 0, max: CAP + 16 }), fc.integer({ min: 2 ** 32 - 16, max: 2 ** 32 - 1 }), fc.nat({ max: 2 ** 32 - 1 })),
  flags: fc.oneof(fc.constantFrom(L.flagData, L.flagPadding, L.flagPiece), fc.nat({ max: 2 ** 32 - 1 })),
});

describe('hostile: shm ring reader and claim (native shm_ring.cc via the addon)', function () {
  let a: ShmEndpoint;
  let b: ShmEndpoint;
  beforeEach(function () {
    [a, b] = pair();
  });
  afterEach(function () {
    a.close();
    b.close();
  });

  it('garbage records and published positions: every record returned lies in the ring, reads advance or stop (10,000 cases)', function () {
    const view = (): DataView => new DataView(b.memory);
    const ringStart = b.receiveOffset;
    fc.assert(
      fc.property(fc.array(header, { maxLength: 12 }), fc.uint8Array({ maxLength: 64 }), positionDelta, (headers, noise, delta) => {
        const v = view();
        // as the peer: random bytes somewhere, then record headers, then publish a position
        const noiseAt = ringStart + ((headers[0]?.at ?? 0) % (CAP - noise.length + 1));
        new Uint8Array(b.memory, noiseAt, noise.length).set(noise);
        for (const h of headers) {
          v.setUint32(ringStart + h.at, h.length, true);
          v.setUint32(ringStart + h.at + 4, h.flags, true);
        }
        const head = BigInt(b.io[3] ?? 0);
        const producer = BigInt.asUintN(64, head + delta);
        v.setBigUint64(RING0_PRODUCER, producer, true);
        let last = head;
        let calls = 0;
        for (;;) {
          expect(++calls, 'reads without an end').to.be.at.most(CAP / 8 + 1);
          const r = b.read();
          const pos = BigInt(b.io[3]!);
          expect(pos >= last, 'the read position went back').to.equal(true);
          if (r !== L.readRecord) {
            expect(r === L.readEmpty || r < 0, `result ${r}`).to.equal(true);
            if (r === L.readEmpty) expect(pos).to.equal(producer);
            else expect(pos, 'a corrupt read moved the position').to.equal(last);
            break;
          }
          const [offset, length, flags] = [b.io[0]!, b.io[1]!, b.io[2]!];
          expect(flags === L.flagData || flags === L.flagPiece, `flags ${flags}`).to.equal(true);
          expect(offset).to.be.at.least(ringStart + L.recordHeader);
          expect(offset + length, 'a record past the data area').to.be.at.most(ringStart + CAP);
          expect(pos > last && pos <= producer, 'a record past the published position').to.equal(true);
          last = pos;
        }
        // a well-behaved consumer releases what it read, so the next case starts from there
        b.release(Number(last), false);
      }),
      runs(),
    );
  });

  it('garbage consumer positions: a claim is inside the send ring, "full" or "corrupt", never elsewhere (10,000 cases)', function () {
    const ringStart = a.sendOffset;
    fc.assert(
      fc.property(positionDelta, fc.integer({ min: 1, max: CAP }), (delta, want) => {
        // a's own tail is where its last commit left it; the peer publishes any consumer position
        new DataView(a.memory).setBigUint64(RING0_CONSUMER, BigInt.asUintN(64, delta), true);
        const at = a.claim(1, want);
        if (at >= 0) {
          expect(at).to.be.at.least(ringStart + L.recordHeader);
          expect(at + a.io[0]!, 'a claim past the data area').to.be.at.most(ringStart + CAP);
          expect(a.commit(0, L.flagData)).to.equal(0);
        } else {
          expect([L.claimFull, L.claimCorrupt]).to.include(at);
        }
      }),
      runs(),
    );
  });
});
