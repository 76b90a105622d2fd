/**
 * reassembler.test.ts: the fragmenter/reassembler (src/transports/datagram/fragment.ts, with
 * serial.ts's sequence arithmetic) against pieces a hostile or broken peer sends: random
 * headers (totals near 2^32, pieceSize 0 or forged, indexes out of range, payloads of the
 * wrong length), and honest pieces lost, duplicated and reordered.
 *
 * Invariants checked every case: push() never throws; a bad piece ends the reassembler with
 * exactly one typed error (ProtocolError ERR_BAD_FRAGMENT, or FrameTooLargeError) and nothing
 * is delivered after it; what it holds never passes its bounds (frames in flight, bytes);
 * every frame delivered is one the sender split, whole and byte-exact, and at most once.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { FrameTooLargeError, ProtocolError } from '../../src/errors.js';
import { FRAGMENT_HEADER_BYTES, Fragmenter, Reassembler } from '../../src/transports/datagram/fragment.js';
import { U32, unwrapSerial } from '../../src/transports/datagram/serial.js';
import { bytes, edgyU32, runs } from './runs.js';

const MAX_FRAME = 512;
const PIECE = 16 + 24; // a piece of 40 bytes: 24 bytes of payload
const MAX_PENDING = 8;
const MAX_PENDING_BYTES = 600;

function piece(seq: number, total: number, index: number, pieceSize: number, payload: Uint8Array): Buffer {
  const b = Buffer.alloc(FRAGMENT_HEADER_BYTES + payload.length);
  b.writeUInt32BE(seq >>> 0, 0);
  b.writeUInt32BE(total >>> 0, 4);
  b.writeUInt32BE(index >>> 0, 8);
  b.writeUInt32BE(pieceSize >>> 0, 12);
  b.set(payload, FRAGMENT_HEADER_BYTES);
  return b;
}

/** A piece whose every field is plausible or hostile: the reassembler's whole input space near its rules. */
const hostilePiece = fc.oneof(
  { weight: 1, arbitrary: bytes(48).map((b) => Buffer.from(b)) },
  {
    weight: 4,
    arbitrary: fc
      .record({
        seq: fc.oneof(fc.integer({ min: 0, max: 12 }), edgyU32()),
        total: fc.oneof(fc.integer({ min: 0, max: MAX_FRAME + 2 }), edgyU32()),
        index: fc.oneof(fc.integer({ min: 0, max: 24 }), edgyU32()),
        pieceSize: fc.oneof(fc.constant(PIECE - FRAGMENT_HEADER_BYTES), fc.integer({ min: 0, max: 64 }), edgyU32()),
        payloadLength: fc.integer({ min: 0, max: 40 }),
        exact: fc.boolean(),
      })
      .map((p) => {
        // "exact": the payload length the header implies, so the frame-level rules are reached
        const count = Math.max(1, Math.ceil(p.total / Math.max(1, p.pieceSize)));
        const implied = p.index < count - 1 ? p.pieceSize : p.total - p.index * p.pieceSize;
        const n = p.exact && implied >= 0 && implied <= 64 ? implied : p.payloadLength;
        return piece(p.seq, p.total, p.index, p.pieceSize, new Uint8Array(n).fill(0xab));
      }),
  },
);

function reassembler(opts: { pieceSize?: number; asReceived: boolean }) {
  const frames: Buffer[] = [];
  const errors: unknown[] = [];
  const r = new Reassembler(
    {
      maxFrame: MAX_FRAME,
      maxPending: MAX_PENDING,
      maxPendingBytes: MAX_PENDING_BYTES,
      maxAgeMs: 2 ** 31,
      allocateAsReceived: opts.asReceived,
      ...(opts.pieceSize !== undefined ? { pieceSize: opts.pieceSize } : {}),
    },
    (f) => frames.push(Buffer.from(f)),
    (e) => errors.push(e),
  );
  return { r, frames, errors };
}

describe('hostile: fragment reassembler (fragment.ts, serial.ts)', function () {
  it('hostile pieces: one typed error at most, nothing after it, bounds held, never a throw (10,000 cases)', function () {
    fc.assert(
      fc.property(fc.array(hostilePiece, { maxLength: 30 }), fc.boolean(), fc.boolean(), (pieces, asReceived, pinned) => {
        const { r, frames, errors } = reassembler({ asReceived, ...(pinned ? { pieceSize: PIECE - FRAGMENT_HEADER_BYTES } : {}) });
        let deliveredAtError = -1;
        for (const p of pieces) {
          const ok = r.push(p, 1000);
          if (!ok && deliveredAtError < 0) deliveredAtError = frames.length;
          expect(r.inFlight, 'frames in flight').to.be.at.most(MAX_PENDING);
          // a frame allocated upfront counts its whole total; as received, what came (+1 per piece)
          expect(r.heldBytes, 'bytes held').to.be.at.most(MAX_PENDING_BYTES);
        }
        expect(errors.length).to.be.at.most(1);
        for (const e of errors) {
          expect(e).to.be.instanceOf(ProtocolError);
          if (!(e instanceof FrameTooLargeError)) expect((e as ProtocolError).code).to.equal('ERR_BAD_FRAGMENT');
        }
        if (errors.length === 1) expect(frames.length, 'frames delivered after the error').to.equal(deliveredAtError);
        for (const f of frames) expect(f.length).to.be.at.most(MAX_FRAME);
      }),
      runs(),
    );
  });

  it('honest pieces lost, duplicated and reordered: exactly the frames whose pieces all came, byte-exact, once each (10,000 cases)', function () {
    fc.assert(
      fc.property(
        fc.array(bytes(100), { minLength: 1, maxLength: 6 }),
        fc.array(fc.nat(), { maxLength: 40 }),
        fc.nat({ max: U32 - 1 }),
        fc.boolean(),
        (sent, order, initialSeq, asReceived) => {
          const f = new Fragmenter(PIECE, initialSeq);
          const all = sent.flatMap((frame, i) => f.split(frame).map((p) => ({ frame: i, p })));
          // `order` picks pieces (repeats are duplicates, absent ones are lost), in its order
          const chosen = order.length ? order.map((k) => all[k % all.length]!) : all;
          const frames: Buffer[] = [];
          const errors: unknown[] = [];
          const r = new Reassembler(
            { maxFrame: MAX_FRAME, maxAgeMs: 2 ** 31, initialSeq, pieceSize: PIECE - FRAGMENT_HEADER_BYTES, allocateAsReceived: asReceived },
            (fr) => frames.push(Buffer.from(fr)),
            (e) => errors.push(e),
          );
          for (const c of chosen) expect(r.push(c.p, 1000)).to.equal(true);
          expect(errors).to.deep.equal([]);
          const complete = sent.map((_, i) => all.filter((a) => a.frame === i).every((a) => chosen.includes(a)));
          const want = sent.filter((_, i) => complete[i]).map((x) => Buffer.from(x));
          const key = (b: Buffer): string => b.toString('hex');
          expect(frames.map(key).sort()).to.deep.equal(want.map(key).sort());
          expect(r.stats.received).to.equal(want.length);
          r.flush();
          expect(r.inFlight).to.equal(0);
          expect(r.heldBytes).to.equal(0);
        },
      ),
      runs(),
    );
  });

  it('serial arithmetic: a wire counter is read as the unwrapped number within 2^31 of the reference, congruent mod 2^32 (10,000 cases)', function () {
    fc.assert(
      fc.property(fc.nat({ max: 2 ** 53 - 2 ** 33 }), fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), (ref, delta) => {
        const truth = ref + delta;
        fc.pre(truth >= 0);
        expect(unwrapSerial(truth % U32, ref)).to.equal(truth);
      }),
      runs(),
    );
  });
});
