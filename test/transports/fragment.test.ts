/**
 * fragment.test.ts: owns the unit tests of src/transports/datagram/fragment.ts (Fragmenter and
 * Reassembler): byte-exact round trips for many frame and piece sizes, the 16-byte big-endian
 * piece header, and the exact accounting of reordering, duplicates, loss and expiry; the
 * bounds on frames and bytes in flight, sequence wrap at 2^32, malformed pieces (one typed
 * error, then silence), maxFrame without allocation, and flush(). Pure in-memory; no
 * transports, no files. Time is always passed explicitly (`now`), never read from the clock.
 */
import { expect } from 'chai';
import {
  FRAGMENT_HEADER_BYTES,
  Fragmenter,
  Reassembler,
  type FragmentStats,
  type ReassemblerOptions,
} from '../../src/transports/datagram/fragment.js';
import { FrameTooLargeError, ProtocolError } from '../../src/errors.js';
import { prng, randInt, randomBytes } from '../setup/random.js';
import { expectFrames } from '../setup/frames.js';

// ---------------------------------------------------------------------------------------------
// helpers

/** Fisher-Yates with the seeded PRNG; returns a new array. */
function shuffle<T>(rand: () => number, items: readonly T[]): T[] {
  const a = [...items];
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
  return a;
}

/** Builds a piece by hand; the payload is `payloadLen` bytes of `fill`. */
function craft(seq: number, total: number, index: number, pieceSize: number, payloadLen: number, fill = 0xab): Buffer {
  const b = Buffer.alloc(FRAGMENT_HEADER_BYTES + payloadLen, fill);
  b.writeUInt32BE(seq >>> 0, 0);
  b.writeUInt32BE(total >>> 0, 4);
  b.writeUInt32BE(index >>> 0, 8);
  b.writeUInt32BE(pieceSize >>> 0, 12);
  return b;
}

interface Delivered {
  seq: number;
  data: Buffer;
}

interface Rx {
  rx: Reassembler;
  got: Delivered[];
  errors: ProtocolError[];
}

const T0 = 1_000_000; // a fixed "now" for every push
const AGE = 2000;

/** A fresh Reassembler recording copies of what it delivers and every error. */
function makeRx(options: Partial<ReassemblerOptions> = {}): Rx {
  const got: Delivered[] = [];
  const errors: ProtocolError[] = [];
  const rx = new Reassembler(
    { maxFrame: 1 << 20, maxAgeMs: AGE, ...options },
    (frame, seq) => got.push({ seq, data: Buffer.from(frame) }),
    (err) => errors.push(err),
  );
  return { rx, got, errors };
}

function zeroStats(over: Partial<FragmentStats> = {}): FragmentStats {
  return { received: 0, lost: 0, expired: 0, reordered: 0, duplicates: 0, ...over };
}

/** A piece tagged with the number (0-based position in the stream) of the frame it belongs to. */
interface Tagged {
  frame: number;
  piece: Buffer;
}

/** Splits every frame with `frag`, tagging each piece with its frame's number. */
function splitAll(frag: Fragmenter, frames: Buffer[]): Tagged[][] {
  return frames.map((f, frame) => frag.split(f).map((piece) => ({ frame, piece })));
}

/**
 * The order in which frames complete when `order` is pushed, computed independently of the
 * Reassembler: a frame completes at the first moment every one of its pieces has been seen.
 */
function completionOrder(order: Tagged[], pieceCounts: number[]): number[] {
  const seen = pieceCounts.map(() => new Set<number>());
  const done: number[] = [];
  for (const { frame, piece } of order) {
    const s = seen[frame]!;
    if (s.size === pieceCounts[frame]) continue;
    s.add(piece.readUInt32BE(8));
    if (s.size === pieceCounts[frame]) done.push(frame);
  }
  return done;
}

/** How many deliveries come after the delivery of a frame later in the stream. */
function countReordered(deliveredFrames: number[]): number {
  let highest = -1;
  let n = 0;
  for (const f of deliveredFrames) {
    if (f < highest) n++;
    else highest = f;
  }
  return n;
}

const MAX_PIECES = [17, 100, 1500, 8192];

// ---------------------------------------------------------------------------------------------

describe('fragment', () => {
  describe('Reassembler with a known piece size, allocating as pieces arrive (udp, msgq)', () => {
    it('reassembles out-of-order pieces byte-exact, holding only the bytes that came', () => {
      const frag = new Fragmenter(116); // pieceSize 100
      const { rx, got, errors } = makeRx({ pieceSize: 100, allocateAsReceived: true });
      const frame = randomBytes(prng(7), 1050);
      const pieces = frag.split(frame);
      expect(pieces.length).to.equal(11);
      for (const i of [3, 0, 10, 5]) rx.push(pieces[i]!, T0);
      // pieces 3, 0, 5 (100 bytes each) and the last one (50), plus the one-byte-per-piece
      // map: not the 1050 bytes announced
      expect(rx.heldBytes).to.equal(350 + 11);
      for (const i of [1, 2, 4, 6, 7, 8, 9]) rx.push(pieces[i]!, T0);
      expect(errors).to.deep.equal([]);
      expect(got.length).to.equal(1);
      expect(got[0]!.data.equals(frame)).to.equal(true);
      expect(rx.heldBytes).to.equal(0);
    });

    it('a piece announcing a huge frame in tiny pieces is refused before anything is allocated', () => {
      const { rx, errors } = makeRx({ maxFrame: 64 << 20, pieceSize: 1024, allocateAsReceived: true });
      const piece = Buffer.alloc(FRAGMENT_HEADER_BYTES + 1);
      piece.writeUInt32BE(0, 0); // seq
      piece.writeUInt32BE(64 << 20, 4); // total: 64 MiB
      piece.writeUInt32BE(0, 8); // index
      piece.writeUInt32BE(1, 12); // pieceSize 1: not this link's
      expect(rx.push(piece, T0)).to.equal(false);
      expect(errors[0]?.message).to.match(/pieceSize 1; this link's pieces are 1024 bytes/);
      expect(rx.heldBytes).to.equal(0);
    });
  });

  describe('Fragmenter', () => {
    it('rejects a maxPiece that cannot hold more than the 16-byte header', () => {
      expect(FRAGMENT_HEADER_BYTES).to.equal(16);
      for (const bad of [0, 1, 15, 16, 100.5, NaN, -17]) {
        expect(() => new Fragmenter(bad), `maxPiece ${bad}`).to.throw(RangeError);
      }
      expect(new Fragmenter(17).pieceSize).to.equal(1);
      expect(new Fragmenter(1500).pieceSize).to.equal(1484);
    });

    it('writes seq, total, index, pieceSize as big-endian u32 at offsets 0, 4, 8, 12', () => {
      // maxPiece 16 + 0x0102 => pieceSize 0x00000102; total 0x00010203 => 257 pieces
      const frag = new Fragmenter(16 + 0x0102, 0x0a0b0c0d);
      const frame = randomBytes(prng(7), 0x00010203);
      const pieces = frag.split(frame);
      const count = Math.ceil(0x00010203 / 0x0102);
      expect(pieces).to.have.length(count);
      for (const [i, p] of pieces.entries()) {
        expect([...p.subarray(0, 4)], `piece ${i} seq`).to.deep.equal([0x0a, 0x0b, 0x0c, 0x0d]);
        expect([...p.subarray(4, 8)], `piece ${i} total`).to.deep.equal([0x00, 0x01, 0x02, 0x03]);
        expect([...p.subarray(8, 12)], `piece ${i} index`).to.deep.equal([0, 0, (i >>> 8) & 0xff, i & 0xff]);
        expect([...p.subarray(12, 16)], `piece ${i} pieceSize`).to.deep.equal([0x00, 0x00, 0x01, 0x02]);
      }
      // next frame: seq + 1, big-endian
      const next = frag.split(Buffer.from('x'));
      expect([...next[0]!.subarray(0, 16)]).to.deep.equal([
        0x0a, 0x0b, 0x0c, 0x0e, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0x01, 0x02,
      ]);
      expect(next[0]![16]).to.equal('x'.charCodeAt(0));
    });

    it('keeps every piece within maxPiece and lays the frame out in order across the payloads', () => {
      const rand = prng(11);
      for (const maxPiece of MAX_PIECES) {
        const frag = new Fragmenter(maxPiece);
        const ps = frag.pieceSize;
        const sizes = [0, 1, ps - 1, ps, ps + 1, 10 * ps + 3, randInt(rand, 0, 5 * ps)];
        for (const size of sizes) {
          const frame = randomBytes(rand, size);
          const pieces = frag.split(frame);
          expect(pieces, `maxPiece ${maxPiece} size ${size}: count`).to.have.length(Math.max(1, Math.ceil(size / ps)));
          for (const [i, p] of pieces.entries()) {
            expect(p.length, `maxPiece ${maxPiece} size ${size} piece ${i}`).to.be.at.most(maxPiece);
            expect(p.length).to.be.at.least(FRAGMENT_HEADER_BYTES);
            if (i < pieces.length - 1) expect(p.length).to.equal(maxPiece);
            expect(p.readUInt32BE(4)).to.equal(size);
            expect(p.readUInt32BE(8)).to.equal(i);
            expect(p.readUInt32BE(12)).to.equal(ps);
          }
          const joined = Buffer.concat(pieces.map((p) => p.subarray(FRAGMENT_HEADER_BYTES)));
          expect(joined.equals(frame), `maxPiece ${maxPiece} size ${size}: payloads`).to.equal(true);
        }
      }
    });

    it('numbers frames +1 each, wrapping from 2^32-1 to 0', () => {
      const frag = new Fragmenter(100, 2 ** 32 - 2);
      const seqs = [0, 1, 2, 3].map(() => frag.split(Buffer.alloc(5))[0]!.readUInt32BE(0));
      expect(seqs).to.deep.equal([4294967294, 4294967295, 0, 1]);
    });
  });

  describe('round trip', () => {
    for (const maxPiece of MAX_PIECES) {
      it(`returns every frame byte-exact, in order, with exact stats (maxPiece ${maxPiece})`, () => {
        const rand = prng(0x5eed + maxPiece);
        const frag = new Fragmenter(maxPiece);
        const ps = frag.pieceSize;
        const sizes = [0, 1, ps - 1, ps, ps + 1, 10 * ps + 3, 0, 0];
        for (let i = 0; i < 16; i++) sizes.push(randInt(rand, 0, rand() < 0.3 ? 4 * ps + 7 : ps));
        const frames = sizes.map((n) => randomBytes(rand, n));
        const { rx, got, errors } = makeRx({ maxFrame: 1 << 20 });
        for (const f of frames) {
          for (const p of frag.split(f)) {
            expect(p.length).to.be.at.most(maxPiece);
            expect(rx.push(p, T0)).to.equal(true);
          }
        }
        expectFrames(
          got.map((d) => d.data),
          frames,
        );
        expect(got.map((d) => d.seq)).to.deep.equal(frames.map((_, i) => i));
        expect(errors).to.have.length(0);
        expect(rx.stats).to.deep.equal(zeroStats({ received: frames.length }));
        expect(rx.inFlight).to.equal(0);
        expect(rx.heldBytes).to.equal(0);
        // a sweep much later changes nothing
        rx.sweep(T0 + 10 * AGE);
        expect(rx.stats).to.deep.equal(zeroStats({ received: frames.length }));
      });
    }

    it('accepts pieces that are views into a larger ArrayBuffer at an odd offset', () => {
      const frag = new Fragmenter(40);
      const frames = [randomBytes(prng(3), 100), Buffer.alloc(0), randomBytes(prng(4), 24)];
      const { rx, got } = makeRx();
      for (const f of frames) {
        for (const p of frag.split(f)) {
          const big = Buffer.alloc(p.length + 13, 0xee);
          p.copy(big, 7);
          rx.push(new Uint8Array(big.buffer, big.byteOffset + 7, p.length), T0);
        }
      }
      expectFrames(
        got.map((d) => d.data),
        frames,
      );
      expect(rx.stats).to.deep.equal(zeroStats({ received: 3 }));
    });
  });

  describe('reordering', () => {
    it('counts frame 1 delivered whole before frame 0 as one reordered frame', () => {
      const frag = new Fragmenter(20); // pieceSize 4
      const f0 = Buffer.from('frame zero');
      const f1 = Buffer.from('frame one!');
      const [p0, p1] = [frag.split(f0), frag.split(f1)];
      const { rx, got, errors } = makeRx();
      for (const p of p1) rx.push(p, T0);
      for (const p of p0) rx.push(p, T0);
      expect(errors).to.have.length(0);
      expect(got.map((d) => d.seq)).to.deep.equal([1, 0]);
      expectFrames(
        got.map((d) => d.data),
        [f1, f0],
      );
      expect(rx.stats).to.deep.equal(zeroStats({ received: 2, reordered: 1 }));
      expect(rx.inFlight).to.equal(0);
    });

    it('counts frame 1 completing while frame 0 is partly in as one reordered frame', () => {
      const frag = new Fragmenter(20);
      const f0 = Buffer.from('frame zero');
      const f1 = Buffer.from('frame one!');
      const [p0, p1] = [frag.split(f0), frag.split(f1)];
      const { rx, got } = makeRx();
      rx.push(p0[0]!, T0);
      for (const p of p1) rx.push(p, T0);
      expect(got.map((d) => d.seq)).to.deep.equal([1]);
      expect(rx.inFlight).to.equal(1);
      for (const p of p0.slice(1)) rx.push(p, T0);
      expect(got.map((d) => d.seq)).to.deep.equal([1, 0]);
      expectFrames(
        got.map((d) => d.data),
        [f1, f0],
      );
      expect(rx.stats).to.deep.equal(zeroStats({ received: 2, reordered: 1 }));
    });

    it('does not count a frame delivered in seq order after a gap as reordered', () => {
      const frag = new Fragmenter(20);
      const pieces = [0, 1, 2, 3].map((i) => frag.split(Buffer.alloc(9, i)));
      const { rx, got } = makeRx();
      // 0, 2, 3 (1 missing so far), then 1: only 1 is reordered
      for (const i of [0, 2, 3, 1]) for (const p of pieces[i]!) rx.push(p, T0);
      expect(got.map((d) => d.seq)).to.deep.equal([0, 2, 3, 1]);
      expect(rx.stats).to.deep.equal(zeroStats({ received: 4, reordered: 1 }));
    });

    function shuffledRun(seed: number, anchorFirst: boolean): void {
      const rand = prng(seed);
      const frag = new Fragmenter(randInt(rand, 17, 64));
      const frames: Buffer[] = [];
      for (let i = 0; i < 40; i++) frames.push(randomBytes(rand, randInt(rand, 0, 6 * frag.pieceSize)));
      const tagged = splitAll(frag, frames);
      const counts = tagged.map((ps) => ps.length);
      let order = shuffle(rand, tagged.flat());
      if (anchorFirst) {
        // frame 0's first piece goes first: the stream is seen from its start
        const at = order.findIndex((t) => t.frame === 0 && t.piece.readUInt32BE(8) === 0);
        order = [order[at]!, ...order.slice(0, at), ...order.slice(at + 1)];
      }
      const expectedOrder = completionOrder(order, counts);
      expect(expectedOrder.length).to.equal(frames.length);
      const expectedReordered = countReordered(expectedOrder);
      expect(expectedReordered, 'the shuffle should reorder something').to.be.greaterThan(0);

      const { rx, got, errors } = makeRx();
      for (const t of order) expect(rx.push(t.piece, T0)).to.equal(true);
      expect(errors).to.have.length(0);
      expect(got.map((d) => d.seq), 'delivery order').to.deep.equal(expectedOrder);
      expectFrames(
        got.map((d) => d.data),
        expectedOrder.map((i) => frames[i]!),
      );
      // the Reassembler's own count matches both the predicted and the observed order
      expect(countReordered(got.map((d) => d.seq))).to.equal(expectedReordered);
      expect(rx.stats).to.deep.equal(zeroStats({ received: frames.length, reordered: expectedReordered }));
      expect(rx.inFlight).to.equal(0);
      expect(rx.heldBytes).to.equal(0);
    }

    for (const seed of [1, 2, 3, 0xbeef]) {
      it(`delivers fully shuffled pieces of 40 frames once each, counting reordering exactly (seed ${seed})`, () => {
        shuffledRun(seed, false);
      });
    }

    for (const seed of [1, 2, 3, 0xbeef]) {
      it(`delivers shuffled pieces once each when frame 0's first piece leads (seed ${seed})`, () => {
        shuffledRun(seed, true);
      });
    }
  });

  describe('duplicates', () => {
    it('delivers each frame once when every piece is pushed twice in a row', () => {
      const rand = prng(21);
      const frag = new Fragmenter(50);
      const frames = [0, 1, 33, 34, 35, 200, 7].map((n) => randomBytes(rand, n));
      const pieces = frames.flatMap((f) => frag.split(f));
      const { rx, got } = makeRx();
      for (const p of pieces) {
        rx.push(p, T0);
        rx.push(p, T0);
      }
      expectFrames(
        got.map((d) => d.data),
        frames,
      );
      expect(rx.stats).to.deep.equal(zeroStats({ received: frames.length, duplicates: pieces.length }));
    });

    it('delivers each frame once when the whole stream is replayed (copies, shuffled)', () => {
      const rand = prng(22);
      const frag = new Fragmenter(30);
      const frames = [5, 14, 15, 100, 0, 60].map((n) => randomBytes(rand, n));
      const pieces = frames.flatMap((f) => frag.split(f));
      const { rx, got } = makeRx();
      for (const p of pieces) rx.push(p, T0);
      for (const p of shuffle(rand, pieces)) rx.push(Buffer.from(p), T0);
      expectFrames(
        got.map((d) => d.data),
        frames,
      );
      expect(rx.stats).to.deep.equal(zeroStats({ received: frames.length, duplicates: pieces.length }));
    });

    it('counts a piece for a frame delivered behind a gap as a duplicate', () => {
      const frag = new Fragmenter(20);
      const pieces = [0, 1, 2].map((i) => frag.split(Buffer.alloc(10, i)));
      const { rx, got } = makeRx();
      for (const p of pieces[0]!) rx.push(p, T0);
      for (const p of pieces[2]!) rx.push(p, T0); // frame 1 missing: 2 is delivered but not behind base
      expect(rx.inFlight).to.equal(1);
      rx.push(pieces[2]![1]!, T0);
      rx.push(pieces[0]![0]!, T0);
      expect(got.map((d) => d.seq)).to.deep.equal([0, 2]);
      expect(rx.stats).to.deep.equal(zeroStats({ received: 2, duplicates: 2 }));
      // a duplicate piece of an incomplete frame too
      rx.push(pieces[1]![0]!, T0);
      rx.push(pieces[1]![0]!, T0);
      expect(rx.stats.duplicates).to.equal(3);
      expect(got).to.have.length(2);
      for (const p of pieces[1]!.slice(1)) rx.push(p, T0);
      expect(got.map((d) => d.seq)).to.deep.equal([0, 2, 1]);
      expect(rx.stats).to.deep.equal(zeroStats({ received: 3, duplicates: 3, reordered: 1 }));
    });
  });

  describe('loss', () => {
    const N = 8;
    function stream(seed: number): { frames: Buffer[]; pieces: Buffer[][] } {
      const rand = prng(seed);
      const frag = new Fragmenter(40); // pieceSize 24
      const frames = Array.from({ length: N }, () => randomBytes(rand, randInt(rand, 49, 120)));
      return { frames, pieces: frames.map((f) => frag.split(f)) };
    }

    for (const k of [0, 3, N - 1]) {
      it(`gives up on frame ${k} of ${N} missing one piece: lost 1, expired 1, never delivered`, () => {
        const { frames, pieces } = stream(31 + k);
        const { rx, got } = makeRx();
        for (let i = 0; i < N; i++) {
          for (const [j, p] of pieces[i]!.entries()) if (!(i === k && j === 1)) rx.push(p, T0);
        }
        const others = frames.filter((_, i) => i !== k);
        expectFrames(
          got.map((d) => d.data),
          others,
        );
        expect(rx.inFlight, 'before the sweep').to.equal(1);
        expect(rx.heldBytes).to.equal(frames[k]!.length);
        rx.sweep(T0 + AGE - 1);
        expect(rx.stats.lost, 'not yet maxAgeMs old').to.equal(0);
        expect(rx.inFlight).to.equal(1);
        rx.sweep(T0 + AGE);
        expect(rx.stats).to.deep.equal(zeroStats({ received: N - 1, lost: 1, expired: 1 }));
        expect(rx.inFlight).to.equal(0);
        expect(rx.heldBytes).to.equal(0);
        expect(got.map((d) => d.seq)).to.not.include(k);
        // the missing piece, arriving late, is a duplicate and delivers nothing
        rx.push(pieces[k]![1]!, T0 + AGE + 1);
        expect(got).to.have.length(N - 1);
        expect(rx.stats).to.deep.equal(zeroStats({ received: N - 1, lost: 1, expired: 1, duplicates: 1 }));
      });
    }

    it('counts a frame missing entirely in the middle as lost, not expired, after later frames and a sweep', () => {
      const { frames, pieces } = stream(40);
      const k = 4;
      const { rx, got } = makeRx();
      for (let i = 0; i < N; i++) if (i !== k) for (const p of pieces[i]!) rx.push(p, T0);
      expectFrames(
        got.map((d) => d.data),
        frames.filter((_, i) => i !== k),
      );
      expect(rx.inFlight, 'the missing frame is in flight before the sweep').to.equal(1);
      expect(rx.heldBytes).to.equal(0);
      expect(rx.stats).to.deep.equal(zeroStats({ received: N - 1 }));
      rx.sweep(T0 + AGE - 1);
      expect(rx.stats.lost).to.equal(0);
      rx.sweep(T0 + AGE);
      expect(rx.stats).to.deep.equal(zeroStats({ received: N - 1, lost: 1 }));
      expect(rx.inFlight).to.equal(0);
      // all of it arriving late delivers nothing and counts as duplicates
      for (const p of pieces[k]!) rx.push(p, T0 + AGE + 5);
      expect(got).to.have.length(N - 1);
      expect(rx.stats).to.deep.equal(zeroStats({ received: N - 1, lost: 1, duplicates: pieces[k]!.length }));
    });

    it('ages a missing frame from when the gap was noticed', () => {
      const { pieces } = stream(41);
      const { rx } = makeRx();
      for (const p of pieces[0]!) rx.push(p, T0);
      for (const p of pieces[2]!) rx.push(p, T0 + 500); // frame 1 noticed missing at T0 + 500
      rx.sweep(T0 + AGE);
      expect(rx.stats.lost).to.equal(0);
      expect(rx.inFlight).to.equal(1);
      rx.sweep(T0 + 500 + AGE);
      expect(rx.stats).to.deep.equal(zeroStats({ received: 2, lost: 1 }));
    });

    it('gives up on the frames that are old when a later piece arrives (push sweeps too)', () => {
      const { pieces } = stream(42);
      const { rx, got } = makeRx();
      rx.push(pieces[0]![0]!, T0); // frame 0 incomplete
      for (const p of pieces[1]!) rx.push(p, T0);
      rx.push(pieces[2]![0]!, T0 + AGE); // an incomplete piece much later: frame 0 is too old
      expect(rx.stats).to.deep.equal(zeroStats({ received: 1, lost: 1, expired: 1 }));
      for (const p of pieces[0]!.slice(1)) rx.push(p, T0 + AGE);
      expect(got.map((d) => d.seq)).to.deep.equal([1]);
      for (const p of pieces[2]!.slice(1)) rx.push(p, T0 + AGE);
      expect(got.map((d) => d.seq)).to.deep.equal([1, 2]);
      expect(rx.stats.lost).to.equal(1);
    });
  });

  describe('bounds', () => {
    it('keeps heldBytes within maxPendingBytes, giving up on the oldest incomplete frames', () => {
      const frag = new Fragmenter(116); // pieceSize 100
      const frames = Array.from({ length: 20 }, (_, i) => Buffer.alloc(300, i));
      const pieces = frames.map((f) => frag.split(f));
      const maxPendingBytes = 1000;
      const { rx, got } = makeRx({ maxFrame: 1000, maxPendingBytes });
      for (const [i, ps] of pieces.entries()) {
        rx.push(ps[0]!, T0);
        expect(rx.heldBytes, `after frame ${i}`).to.be.at.most(maxPendingBytes);
        rx.push(ps[1]!, T0);
        expect(rx.heldBytes, `after frame ${i}`).to.be.at.most(maxPendingBytes);
      }
      // three 300-byte frames fit; the 17 oldest were given up on
      expect(rx.heldBytes).to.equal(900);
      expect(rx.inFlight).to.equal(3);
      expect(rx.stats).to.deep.equal(zeroStats({ lost: 17, expired: 17 }));
      // the newest three still complete; the evicted ones never do
      for (const ps of pieces) rx.push(ps[2]!, T0);
      expect(got.map((d) => d.seq)).to.deep.equal([17, 18, 19]);
      expectFrames(
        got.map((d) => d.data),
        frames.slice(17),
      );
      expect(rx.stats).to.deep.equal(zeroStats({ received: 3, lost: 17, expired: 17, duplicates: 17 }));
      expect(rx.heldBytes).to.equal(0);
      expect(rx.inFlight).to.equal(0);
    });

    it('counts every frame skipped by a seq jump past maxPending as lost, exactly (0 and 99 of 100)', () => {
      const frag = new Fragmenter(64);
      const frames = Array.from({ length: 100 }, (_, i) => Buffer.alloc(100, i));
      const pieces = frames.map((f) => frag.split(f));
      const maxPending = 8;
      const { rx, got } = makeRx({ maxPending });
      for (const p of pieces[0]!) rx.push(p, T0);
      for (const p of pieces[99]!) {
        rx.push(p, T0);
        expect(rx.inFlight).to.be.at.most(maxPending);
      }
      expect(got.map((d) => d.seq)).to.deep.equal([0, 99]);
      rx.sweep(T0 + AGE);
      expect(rx.stats).to.deep.equal(zeroStats({ received: 2, lost: 98 }));
      expect(rx.inFlight).to.equal(0);
      // the skipped frames arriving late deliver nothing
      for (const i of [1, 50, 91, 92, 98]) for (const p of pieces[i]!) rx.push(p, T0 + AGE);
      expect(got).to.have.length(2);
      expect(rx.stats.lost).to.equal(98);
    });

    it('counts a seq jump from a crafted piece exactly (single-piece frames 0 and 1000, maxPending 8)', () => {
      const { rx, got } = makeRx({ maxPending: 8 });
      rx.push(craft(0, 3, 0, 10, 3), T0);
      rx.push(craft(1000, 3, 0, 10, 3), T0);
      expect(rx.inFlight).to.be.at.most(8);
      expect(got.map((d) => d.seq)).to.deep.equal([0, 1000]);
      rx.sweep(T0 + AGE);
      expect(rx.stats).to.deep.equal(zeroStats({ received: 2, lost: 999 }));
    });

    it('keeps inFlight within maxPending when gaps pile up in small steps (every 5th of 100 frames)', () => {
      const frag = new Fragmenter(64);
      const frames = Array.from({ length: 100 }, (_, i) => Buffer.alloc(100, i));
      const pieces = frames.map((f) => frag.split(f));
      const maxPending = 8;
      const { rx, got } = makeRx({ maxPending });
      const delivered = frames.map((_, i) => i).filter((i) => i % 5 === 0);
      for (const i of delivered) {
        for (const p of pieces[i]!) {
          rx.push(p, T0);
          expect(rx.inFlight, `after a piece of frame ${i}`).to.be.at.most(maxPending);
        }
      }
      expect(got.map((d) => d.seq)).to.deep.equal(delivered);
      rx.sweep(T0 + AGE);
      // frames 96..99 come after the last seq seen (95): nothing tells they were ever sent
      const skipped = 96 - delivered.length;
      expect(skipped).to.equal(76);
      expect(rx.stats).to.deep.equal(zeroStats({ received: delivered.length, lost: skipped }));
    });

    it('keeps inFlight within maxPending when many frames are left incomplete in order', () => {
      const frag = new Fragmenter(64);
      const frames = Array.from({ length: 50 }, (_, i) => Buffer.alloc(100, i));
      const pieces = frames.map((f) => frag.split(f));
      const maxPending = 8;
      const { rx, got } = makeRx({ maxPending });
      for (const [i, ps] of pieces.entries()) {
        rx.push(ps[0]!, T0);
        expect(rx.inFlight, `after frame ${i}`).to.be.at.most(maxPending);
      }
      rx.flush();
      expect(got).to.have.length(0);
      expect(rx.stats).to.deep.equal(zeroStats({ lost: 50, expired: 50 }));
    });
  });

  describe('sequence wrap', () => {
    const START = 2 ** 32 - 3;
    const WRAPPED = [4294967293, 4294967294, 4294967295, 0, 1, 2, 3, 4, 5, 6];

    it('delivers 10 frames across 2^32 in order with no loss, reporting wire seqs', () => {
      const rand = prng(51);
      const frag = new Fragmenter(33, START); // pieceSize 17
      const frames = Array.from({ length: 10 }, () => randomBytes(rand, randInt(rand, 0, 60)));
      const { rx, got, errors } = makeRx({ initialSeq: START });
      for (const f of frames) for (const p of frag.split(f)) rx.push(p, T0);
      expect(errors).to.have.length(0);
      expect(got.map((d) => d.seq)).to.deep.equal(WRAPPED);
      expectFrames(
        got.map((d) => d.data),
        frames,
      );
      expect(rx.stats).to.deep.equal(zeroStats({ received: 10 }));
      rx.sweep(T0 + AGE);
      expect(rx.stats).to.deep.equal(zeroStats({ received: 10 }));
    });

    it('counts reordering across the wrap exactly', () => {
      const frag = new Fragmenter(20, START); // pieceSize 4
      const frames = Array.from({ length: 6 }, (_, i) => Buffer.alloc(10, i));
      const p = frames.map((f) => frag.split(f)); // wire seqs 4294967293..4294967295, 0, 1, 2
      const { rx, got } = makeRx({ initialSeq: START });
      for (const x of p[0]!) rx.push(x, T0);
      rx.push(p[1]![0]!, T0);
      rx.push(p[2]![0]!, T0);
      for (const x of p[3]!) rx.push(x, T0); // seq 0 completes before 4294967294 and 4294967295
      for (const x of p[4]!) rx.push(x, T0);
      for (const x of p[2]!.slice(1)) rx.push(x, T0);
      for (const x of p[1]!.slice(1)) rx.push(x, T0);
      for (const x of p[5]!) rx.push(x, T0);
      expect(got.map((d) => d.seq)).to.deep.equal([4294967293, 0, 1, 4294967295, 4294967294, 2]);
      expectFrames(
        got.map((d) => d.data),
        [0, 3, 4, 2, 1, 5].map((i) => frames[i]!),
      );
      expect(rx.stats).to.deep.equal(zeroStats({ received: 6, reordered: 2 }));
      expect(rx.inFlight).to.equal(0);
    });

    it('counts a frame lost across the wrap and ignores its late pieces', () => {
      const frag = new Fragmenter(20, START);
      const frames = Array.from({ length: 6 }, (_, i) => Buffer.alloc(10, i));
      const p = frames.map((f) => frag.split(f));
      const { rx, got } = makeRx({ initialSeq: START });
      for (const i of [0, 1, 3, 4, 5]) for (const x of p[i]!) rx.push(x, T0); // 4294967295 missing
      expect(rx.inFlight).to.equal(1);
      rx.sweep(T0 + AGE);
      expect(rx.stats).to.deep.equal(zeroStats({ received: 5, lost: 1 }));
      for (const x of p[2]!) rx.push(x, T0 + AGE);
      expect(got.map((d) => d.seq)).to.deep.equal([4294967293, 4294967294, 0, 1, 2]);
      expect(rx.stats.duplicates).to.equal(p[2]!.length);
    });
  });

  describe('malformed input', () => {
    const cases: { name: string; pieces: () => Buffer[] }[] = [
      { name: 'an empty piece', pieces: () => [Buffer.alloc(0)] },
      { name: 'a 15-byte piece', pieces: () => [Buffer.alloc(15)] },
      { name: 'pieceSize 0', pieces: () => [craft(1, 10, 0, 0, 0)] },
      { name: 'pieceSize 0 on an empty frame', pieces: () => [craft(1, 0, 0, 0, 0)] },
      { name: 'index == count', pieces: () => [craft(1, 10, 3, 4, 2)] },
      { name: 'index >= count on an empty frame', pieces: () => [craft(1, 0, 1, 4, 0)] },
      { name: 'index 0xFFFFFFFF', pieces: () => [craft(1, 10, 0xffffffff, 4, 4)] },
      { name: 'a short middle piece', pieces: () => [craft(1, 10, 1, 4, 3)] },
      { name: 'a long last piece', pieces: () => [craft(1, 10, 2, 4, 3)] },
      { name: 'payload on an empty frame', pieces: () => [craft(1, 0, 0, 4, 1)] },
      { name: 'a single-piece frame with the wrong length', pieces: () => [craft(1, 3, 0, 10, 4)] },
      {
        name: 'two pieces of one seq disagreeing on total',
        pieces: () => [craft(1, 10, 0, 4, 4), craft(1, 9, 1, 4, 4)],
      },
      {
        name: 'two pieces of one seq disagreeing on pieceSize',
        pieces: () => [craft(1, 12, 0, 4, 4), craft(1, 12, 1, 6, 6)],
      },
    ];

    for (const c of cases) {
      it(`reports ${c.name} once as ERR_BAD_FRAGMENT, then ignores everything`, () => {
        const frag = new Fragmenter(20);
        const before = [Buffer.from('first frame'), Buffer.from('2nd')];
        const { rx, got, errors } = makeRx();
        // frame 0 delivered first; frame seq 1 is then fed malformed pieces
        for (const p of frag.split(before[0]!)) expect(rx.push(p, T0)).to.equal(true);
        const bad = c.pieces();
        let results: boolean[] = [];
        expect(() => {
          results = bad.map((p) => rx.push(p, T0));
        }).to.not.throw();
        expect(results[results.length - 1], 'push returns false on the bad piece').to.equal(false);
        expect(results.slice(0, -1).every((r) => r)).to.equal(true);
        expect(errors).to.have.length(1);
        const err = errors[0]!;
        expect(err).to.be.instanceOf(ProtocolError);
        expect(err).to.not.be.instanceOf(FrameTooLargeError);
        expect(err.code).to.equal('ERR_BAD_FRAGMENT');
        expect(got.map((d) => d.seq)).to.deep.equal([0]);
        // afterwards: valid pieces, more bad pieces: false, no delivery, no second error
        for (const p of frag.split(before[1]!)) expect(rx.push(p, T0)).to.equal(false);
        for (const p of bad) expect(rx.push(p, T0)).to.equal(false);
        expect(rx.push(Buffer.alloc(3), T0)).to.equal(false);
        expect(errors).to.have.length(1);
        expect(got).to.have.length(1);
      });
    }

    it('reports a malformed very first piece the same way', () => {
      const { rx, got, errors } = makeRx();
      expect(rx.push(craft(0, 5, 0, 0, 5), T0)).to.equal(false);
      expect(rx.push(craft(1, 5, 0, 10, 5), T0)).to.equal(false);
      expect(errors).to.have.length(1);
      expect(errors[0]!.code).to.equal('ERR_BAD_FRAGMENT');
      expect(got).to.have.length(0);
    });

    it('reports total > maxFrame (0xFFFFFFFF, maxFrame 1 MiB) as FrameTooLargeError once, without allocating it', () => {
      const MiB = 1024 * 1024;
      const frag = new Fragmenter(1000);
      const { rx, got, errors } = makeRx({ maxFrame: MiB });
      for (const p of frag.split(Buffer.from('ok'))) rx.push(p, T0);

      const requested: number[] = [];
      const origUnsafe = Buffer.allocUnsafe;
      const origAlloc = Buffer.alloc;
      const origSlow = Buffer.allocUnsafeSlow;
      Buffer.allocUnsafe = ((n: number) => (requested.push(n), origUnsafe(n))) as typeof Buffer.allocUnsafe;
      Buffer.allocUnsafeSlow = ((n: number) => (requested.push(n), origSlow(n))) as typeof Buffer.allocUnsafeSlow;
      Buffer.alloc = ((n: number, ...rest: never[]) => (requested.push(n), origAlloc(n, ...rest))) as typeof Buffer.alloc;
      const memBefore = process.memoryUsage().arrayBuffers;
      let results: boolean[] = [];
      try {
        expect(() => {
          results = [
            rx.push(craft(1, 0xffffffff, 0, 1000, 1000), T0), // a multi-piece announcement
            rx.push(craft(2, 0xffffffff, 0, 0xffffffff, 0), T0), // single-piece style, no payload
          ];
        }).to.not.throw();
      } finally {
        Buffer.allocUnsafe = origUnsafe;
        Buffer.allocUnsafeSlow = origSlow;
        Buffer.alloc = origAlloc;
      }
      const memAfter = process.memoryUsage().arrayBuffers;
      expect(results).to.deep.equal([false, false]);
      expect(Math.max(0, ...requested), 'largest Buffer requested').to.be.below(MiB);
      expect(memAfter - memBefore, 'ArrayBuffer memory growth').to.be.below(64 * MiB);
      expect(errors).to.have.length(1);
      const err = errors[0]!;
      expect(err).to.be.instanceOf(FrameTooLargeError);
      expect(err).to.be.instanceOf(ProtocolError);
      expect(err.code).to.equal('ERR_FRAME_TOO_LARGE');
      expect((err as FrameTooLargeError).size).to.equal(0xffffffff);
      expect((err as FrameTooLargeError).maxFrame).to.equal(MiB);
      expect(got.map((d) => d.data.toString())).to.deep.equal(['ok']);
      // nothing after it
      for (const p of frag.split(Buffer.from('later'))) expect(rx.push(p, T0)).to.equal(false);
      expect(got).to.have.length(1);
      expect(errors).to.have.length(1);
    });

    it('accepts a frame of exactly maxFrame bytes and rejects maxFrame + 1', () => {
      const frag = new Fragmenter(300);
      const ok = randomBytes(prng(61), 1000);
      const a = makeRx({ maxFrame: 1000 });
      for (const p of frag.split(ok)) a.rx.push(p, T0);
      expectFrames(
        a.got.map((d) => d.data),
        [ok],
      );
      expect(a.errors).to.have.length(0);
      const b = makeRx({ maxFrame: 1000 });
      expect(b.rx.push(frag.split(Buffer.alloc(1001))[0]!, T0)).to.equal(false);
      expect(b.errors).to.have.length(1);
      expect(b.errors[0]!.code).to.equal('ERR_FRAME_TOO_LARGE');
    });
  });

  describe('flush', () => {
    it('counts everything in flight lost; pieces of those frames afterwards deliver nothing', () => {
      const frag = new Fragmenter(20); // pieceSize 4
      const frames = Array.from({ length: 5 }, (_, i) => Buffer.alloc(10, i)); // 3 pieces each
      const p = frames.map((f) => frag.split(f));
      const { rx, got } = makeRx();
      for (const x of p[0]!) rx.push(x, T0); // delivered
      rx.push(p[1]![0]!, T0); // incomplete
      // frame 2 entirely missing (a gap)
      for (const x of p[3]!) rx.push(x, T0); // delivered
      rx.push(p[4]![1]!, T0); // incomplete
      expect(rx.inFlight).to.equal(3);
      expect(rx.heldBytes).to.equal(20);
      rx.flush();
      expect(rx.inFlight).to.equal(0);
      expect(rx.heldBytes).to.equal(0);
      expect(rx.stats).to.deep.equal(zeroStats({ received: 2, lost: 3, expired: 2, reordered: 0 }));
      let extra = 0;
      for (const i of [1, 2, 4]) {
        for (const x of p[i]!) {
          rx.push(x, T0);
          extra++;
        }
      }
      expect(got.map((d) => d.seq)).to.deep.equal([0, 3]);
      expect(rx.stats).to.deep.equal(zeroStats({ received: 2, lost: 3, expired: 2, duplicates: extra }));
      rx.sweep(T0 + 10 * AGE);
      expect(rx.stats.lost).to.equal(3);
    });

    it('does nothing when nothing is in flight', () => {
      const frag = new Fragmenter(20);
      const { rx, got } = makeRx();
      rx.flush();
      for (const x of frag.split(Buffer.from('abc'))) rx.push(x, T0);
      rx.flush();
      expect(got).to.have.length(1);
      expect(rx.stats).to.deep.equal(zeroStats({ received: 1 }));
    });
  });
});
