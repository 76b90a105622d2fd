/**
 * frame-reader.test.ts: the stream frame reader (src/transports/stream/framing.ts
 * FrameDecoder) against what a hostile peer can put on a byte stream: random bytes, lengths
 * near 2^32, floods of empty frames, truncated streams, all under random chunking.
 *
 * Invariant checked every case, against a reference parse of the same bytes: the reader hands
 * up exactly the whole frames before the first bad length, in order, byte-exact; a length
 * above maxFrame ends it with one FrameTooLargeError and nothing after; it never throws, and
 * never holds more than the bytes it was given (no allocation for an announced length).
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { FrameTooLargeError } from '../../src/errors.js';
import { encodeFrame, FrameDecoder, HEADER_BYTES } from '../../src/transports/stream/framing.js';
import { bytes, edgyU32, runs } from './runs.js';

const MAX_FRAME = 256;

/** What a correct reader makes of `stream`: the frames, then an error or a partial tail. */
function reference(stream: Uint8Array, maxFrame: number): { frames: Buffer[]; tooLarge: number | undefined } {
  const b = Buffer.from(stream);
  const frames: Buffer[] = [];
  let at = 0;
  while (b.length - at >= HEADER_BYTES) {
    const len = b.readUInt32BE(at);
    if (len > maxFrame) return { frames, tooLarge: len };
    if (b.length - at - HEADER_BYTES < len) break;
    frames.push(b.subarray(at + HEADER_BYTES, at + HEADER_BYTES + len));
    at += HEADER_BYTES + len;
  }
  return { frames, tooLarge: undefined };
}

/** Splits `stream` at the given cut points (any, unordered, repeated). */
function chunk(stream: Uint8Array, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => c % (stream.length + 1)))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let from = 0;
  for (const p of [...points, stream.length]) {
    // each chunk in its own memory, as a socket's reads are
    if (p > from) out.push(Buffer.from(stream.subarray(from, p)));
    from = p;
  }
  return out;
}

/** Feeds chunks, recording frames (copied: a view is valid only during the call) and errors. */
function feed(chunks: Buffer[], maxFrame: number): { frames: Buffer[]; errors: unknown[]; held: number; given: number } {
  const frames: Buffer[] = [];
  const errors: unknown[] = [];
  let held = 0;
  let given = 0;
  const d = new FrameDecoder(maxFrame, (f) => frames.push(Buffer.from(f)), (e) => errors.push(e));
  for (const c of chunks) {
    given += c.length;
    d.push(c);
    held = Math.max(held, d.bufferedBytes);
  }
  return { frames, errors, held, given };
}

function check(stream: Uint8Array, cuts: number[], maxFrame = MAX_FRAME): void {
  const want = reference(stream, maxFrame);
  const got = feed(chunk(stream, cuts), maxFrame);
  expect(got.frames.length).to.equal(want.frames.length);
  got.frames.forEach((f, i) => expect(f.equals(want.frames[i]!), `frame ${i}`).to.equal(true));
  if (want.tooLarge === undefined) expect(got.errors).to.deep.equal([]);
  else {
    expect(got.errors).to.have.length(1);
    expect(got.errors[0]).to.be.instanceOf(FrameTooLargeError);
    expect((got.errors[0] as FrameTooLargeError).size).to.equal(want.tooLarge);
  }
  expect(got.held, 'bytes held beyond what was given').to.be.at.most(got.given);
}

const cuts = fc.array(fc.nat({ max: 4096 }), { maxLength: 12 });

/** A frame header with a length drawn near the edges, then up to a few bytes of "payload". */
const edgyFrame = fc.tuple(edgyU32(), bytes(8)).map(([len, tail]) => {
  const h = Buffer.alloc(HEADER_BYTES);
  h.writeUInt32BE(len);
  return Buffer.concat([h, tail]);
});

describe('hostile: stream frame reader (framing.ts)', function () {
  it('random bytes under random chunking: the reference parse, one FrameTooLargeError at most, no throw (10,000 cases)', function () {
    fc.assert(fc.property(bytes(96), cuts, (s, c) => check(s, c)), runs());
  });

  it('valid frames with hostile headers mixed in (lengths near 2^31 and 2^32): frames before it whole, then one error (10,000 cases)', function () {
    const valid = fc.array(bytes(40), { maxLength: 6 }).map((fs) => Buffer.concat(fs.map((f) => encodeFrame(f))));
    fc.assert(
      fc.property(valid, fc.array(edgyFrame, { maxLength: 3 }), valid, cuts, (a, bad, b, c) => check(Buffer.concat([a, ...bad, b]), c)),
      runs(),
    );
  });

  it('floods of empty frames, truncated anywhere: every whole one is delivered, the partial tail is held, nothing else (10,000 cases)', function () {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 300 }), fc.nat(), cuts, (n, cut, c) => {
        const all = Buffer.alloc(n * HEADER_BYTES); // n frames of length 0
        const stream = all.subarray(0, cut % (all.length + 1));
        const got = feed(chunk(stream, c), MAX_FRAME);
        expect(got.errors).to.deep.equal([]);
        expect(got.frames.length).to.equal(Math.floor(stream.length / HEADER_BYTES));
        expect(got.frames.every((f) => f.length === 0)).to.equal(true);
      }),
      runs(),
    );
  });

  it('lengths one above maxFrame (2^32-1 over 2^32-2, 2^31 over 2^31-1, 1 over 0): refused, nothing held beyond the bytes given', function () {
    for (const [len, max] of [
      [2 ** 32 - 1, 2 ** 32 - 2],
      [1, 0],
      [2 ** 31, 2 ** 31 - 1],
    ] as const) {
      const h = Buffer.alloc(HEADER_BYTES);
      h.writeUInt32BE(len);
      const got = feed([h, Buffer.alloc(16)], max);
      expect(got.errors).to.have.length(1);
      expect(got.errors[0]).to.be.instanceOf(FrameTooLargeError);
      expect(got.held).to.be.at.most(HEADER_BYTES + 16);
    }
  });
});
