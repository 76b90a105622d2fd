/**
 * framing.test.ts: owns the unit tests of src/transports/stream/framing.ts (FrameEncoder,
 * FrameDecoder, encodeFrame): round trips under every kind of chunking, zero-copy delivery,
 * the wire format of the u32 BE prefix, encoder batching, maxFrame enforcement,
 * pause/resume, and batch delivery (the whole frames of a chunk handed up at once). Pure
 * in-memory; no transports, no files.
 */
import { expect } from 'chai';
import {
  COPY_LIMIT,
  FrameDecoder,
  FrameEncoder,
  HEADER_BYTES,
  SLAB_BYTES,
  encodeFrame,
} from '../../src/transports/stream/framing.js';
import { FrameTooLargeError, ProtocolError } from '../../src/errors.js';
import type { FrameBatch } from '../../src/transports/core/transport.js';
import { prng, randInt, randomBytes } from '../setup/random.js';
import { expectFrames } from '../setup/frames.js';

// ---------------------------------------------------------------------------------------------
// helpers

/** Copies `src` into a buffer backed by its own ArrayBuffer, so `.buffer` identifies it. */
function own(src: Uint8Array): Buffer {
  const b = Buffer.from(new ArrayBuffer(src.byteLength));
  b.set(src);
  return b;
}

/** Encodes frames with a FrameEncoder and concatenates everything take() hands out. */
function encodeStream(frames: Buffer[]): Buffer {
  const enc = new FrameEncoder();
  for (const f of frames) enc.encode(f);
  const expectedBytes = frames.reduce((n, f) => n + HEADER_BYTES + f.length, 0);
  expect(enc.pendingBytes).to.equal(expectedBytes);
  const parts = enc.take();
  expect(enc.pendingBytes).to.equal(0);
  const stream = Buffer.concat(parts);
  expect(stream.length).to.equal(expectedBytes);
  return stream;
}

interface Decoded {
  frames: Buffer[];
  errors: FrameTooLargeError[];
  decoder: FrameDecoder;
}

/** Feeds `chunks` to a fresh decoder; records copies of the frames and every error. */
function decodeChunks(chunks: Buffer[], maxFrame = 1 << 24): Decoded {
  const frames: Buffer[] = [];
  const errors: FrameTooLargeError[] = [];
  const decoder = new FrameDecoder(
    maxFrame,
    (f) => frames.push(Buffer.from(f)),
    (e) => errors.push(e),
  );
  for (const c of chunks) decoder.push(c);
  return { frames, errors, decoder };
}

/** Splits `buf` into chunks whose sizes come from `nextSize`. Chunks are views of buf. */
function chunkBy(buf: Buffer, nextSize: () => number): Buffer[] {
  const out: Buffer[] = [];
  for (let off = 0; off < buf.length; ) {
    const n = Math.max(1, nextSize());
    out.push(buf.subarray(off, off + n));
    off += n;
  }
  return out;
}

const EDGE_SIZES = [0, 1, 3, 4, 5, 64, 8191, 8192, 8193, 70000];

/** The standard frame set: the edge sizes plus some random sizes, random content. */
function standardFrames(seed: number): Buffer[] {
  const rand = prng(seed);
  const sizes = [...EDGE_SIZES];
  for (let i = 0; i < 12; i++) sizes.push(randInt(rand, 0, rand() < 0.25 ? 20000 : 300));
  sizes.push(0, 0, 2); // consecutive empty frames
  return sizes.map((n) => randomBytes(rand, n));
}

// ---------------------------------------------------------------------------------------------

describe('framing', () => {
  describe('round trip (FrameEncoder -> FrameDecoder)', () => {
    let frames: Buffer[] = [];
    let stream: Buffer = Buffer.alloc(0);
    before(() => {
      frames = standardFrames(0x5eed);
      stream = encodeStream(frames);
      expect(frames.map((f) => f.length).slice(0, EDGE_SIZES.length)).to.deep.equal(EDGE_SIZES);
    });

    it('decodes a stream fed as one chunk', () => {
      const { frames: got, errors, decoder } = decodeChunks([stream]);
      expectFrames(got, frames);
      expect(errors).to.have.length(0);
      expect(decoder.bufferedBytes).to.equal(0);
    });

    it('decodes a stream fed one byte at a time', () => {
      const chunks: Buffer[] = [];
      for (let i = 0; i < stream.length; i++) chunks.push(stream.subarray(i, i + 1));
      const { frames: got, errors, decoder } = decodeChunks(chunks);
      expectFrames(got, frames);
      expect(errors).to.have.length(0);
      expect(decoder.bufferedBytes).to.equal(0);
    });

    it('decodes a smaller stream split in two at every possible point', () => {
      const rand = prng(42);
      const small = [0, 1, 3, 4, 5, 64, 0, 2, 17, 0].map((n) => randomBytes(rand, n));
      const s = encodeStream(small);
      expect(s.length).to.equal(small.length * HEADER_BYTES + 96);
      for (let cut = 0; cut <= s.length; cut++) {
        const { frames: got, errors, decoder } = decodeChunks([s.subarray(0, cut), s.subarray(cut)]);
        expectFrames(got, small, `split at ${cut}:`);
        expect(errors, `split at ${cut}`).to.have.length(0);
        expect(decoder.bufferedBytes, `split at ${cut}`).to.equal(0);
      }
    });

    it('decodes a stream split at every point around a large (> COPY_LIMIT) frame', () => {
      const rand = prng(7);
      const big = [randomBytes(rand, 3), randomBytes(rand, COPY_LIMIT + 1), randomBytes(rand, 1)];
      const s = encodeStream(big);
      // cut points covering the first header, the big frame's header and its first/last bytes
      const cuts = new Set<number>();
      for (let i = 0; i <= 16; i++) cuts.add(i);
      for (let i = s.length - 16; i <= s.length; i++) cuts.add(i);
      for (const cut of cuts) {
        const { frames: got } = decodeChunks([s.subarray(0, cut), s.subarray(cut)]);
        expectFrames(got, big, `split at ${cut}:`);
      }
    });

    for (const seed of [1, 2, 3, 1234, 99999]) {
      it(`decodes a stream fed in random chunk sizes (seed ${seed})`, () => {
        const rand = prng(seed);
        const mode = () => {
          const r = rand();
          if (r < 0.4) return randInt(rand, 1, 8);
          if (r < 0.8) return randInt(rand, 1, 512);
          return randInt(rand, 1, 100000);
        };
        const chunks = chunkBy(stream, mode);
        expect(chunks.reduce((n, c) => n + c.length, 0)).to.equal(stream.length);
        const { frames: got, errors, decoder } = decodeChunks(chunks);
        expectFrames(got, frames, `seed ${seed}:`);
        expect(errors).to.have.length(0);
        expect(decoder.bufferedBytes).to.equal(0);
      });
    }

    it('round-trips a non-Buffer Uint8Array view (large and small) through the encoder', () => {
      const backing = new Uint8Array(COPY_LIMIT + 100);
      for (let i = 0; i < backing.length; i++) backing[i] = i & 0xff;
      const bigView = new Uint8Array(backing.buffer, 50, COPY_LIMIT + 10);
      const smallView = new Uint8Array(backing.buffer, 10, 20);
      const enc = new FrameEncoder();
      enc.encode(smallView);
      enc.encode(bigView);
      const { frames: got } = decodeChunks([Buffer.concat(enc.take())]);
      expectFrames(got, [Buffer.from(smallView), Buffer.from(bigView)]);
      expect(got[0]![0]).to.equal(10);
      expect(got[1]![0]).to.equal(50);
    });
  });

  describe('zero copy', () => {
    it('delivers frames inside one chunk as views of it, a straddling frame whole', () => {
      const rand = prng(11);
      const a = randomBytes(rand, 10);
      const b = randomBytes(rand, 0);
      const c = randomBytes(rand, 300);
      const d = randomBytes(rand, 5000);
      const e = randomBytes(rand, 7);
      const stream = Buffer.concat([a, b, c, d, e].map((f) => encodeFrame(f)));
      // chunk1 ends 100 bytes into c's payload; chunk2 holds the rest of c, then d and e
      const cut = HEADER_BYTES + 10 + HEADER_BYTES + HEADER_BYTES + 100;
      const chunk1 = own(stream.subarray(0, cut));
      const chunk2 = own(stream.subarray(cut));

      const seen: { frame: Buffer; copy: Buffer }[] = [];
      const dec = new FrameDecoder(
        1 << 20,
        (f) => seen.push({ frame: f, copy: Buffer.from(f) }),
        () => expect.fail('no error expected'),
      );
      dec.push(chunk1);
      expect(seen).to.have.length(2); // a and b; c is incomplete
      expect(dec.bufferedBytes).to.equal(HEADER_BYTES + 100); // c's header and the 100 bytes of its payload so far
      dec.push(chunk2);
      expect(seen).to.have.length(5);
      expectFrames(
        seen.map((s) => s.copy),
        [a, b, c, d, e],
      );

      // a and b: views of chunk1, at their exact offsets
      expect(seen[0]!.frame.buffer).to.equal(chunk1.buffer);
      expect(seen[0]!.frame.byteOffset).to.equal(chunk1.byteOffset + HEADER_BYTES);
      expect(seen[0]!.frame.length).to.equal(10);
      expect(seen[1]!.frame.length).to.equal(0);
      // c straddles: delivered whole, in a buffer that is neither chunk
      const cf = seen[2]!.frame;
      expect(cf.length).to.equal(300);
      expect(cf.buffer).to.not.equal(chunk1.buffer);
      expect(cf.buffer).to.not.equal(chunk2.buffer);
      expect(cf.equals(c)).to.equal(true);
      // d and e: views of chunk2
      expect(seen[3]!.frame.buffer).to.equal(chunk2.buffer);
      expect(seen[3]!.frame.byteOffset).to.equal(chunk2.byteOffset + 200 + HEADER_BYTES);
      expect(seen[4]!.frame.buffer).to.equal(chunk2.buffer);
      expect(seen[4]!.frame.byteOffset).to.equal(chunk2.byteOffset + 200 + HEADER_BYTES + 5000 + HEADER_BYTES);

      // a view really is a view: writing through it changes the chunk
      seen[3]!.frame[0] = seen[3]!.frame[0]! ^ 0xff;
      expect(chunk2[200 + HEADER_BYTES]).to.equal(d[0]! ^ 0xff);
    });

    it('delivers every frame of a single-chunk stream as a view of that chunk', () => {
      const frames = standardFrames(3);
      const chunk = own(encodeStream(frames));
      const views: Buffer[] = [];
      const dec = new FrameDecoder(1 << 24, (f) => views.push(f), () => expect.fail('no error'));
      dec.push(chunk);
      expectFrames(views, frames);
      let off = 0;
      for (let i = 0; i < views.length; i++) {
        off += HEADER_BYTES;
        if (views[i]!.length > 0) {
          expect(views[i]!.buffer, `frame ${i}`).to.equal(chunk.buffer);
          expect(views[i]!.byteOffset, `frame ${i}`).to.equal(off);
        }
        off += views[i]!.length;
      }
      expect(off).to.equal(chunk.length);
    });
  });

  describe('wire format', () => {
    it('prefixes with a big-endian u32 exactly like perl pack("N")', () => {
      expect(encodeFrame(Buffer.from('abc'))).to.deep.equal(Buffer.from([0, 0, 0, 3, 97, 98, 99]));
      expect(encodeFrame(Buffer.alloc(0))).to.deep.equal(Buffer.from([0, 0, 0, 0]));
      // 258 = 0x0102, 70000 = 0x00011170: byte order matters
      expect([...encodeFrame(Buffer.alloc(258)).subarray(0, 4)]).to.deep.equal([0, 0, 1, 2]);
      expect([...encodeFrame(Buffer.alloc(70000)).subarray(0, 4)]).to.deep.equal([0, 1, 0x11, 0x70]);
      expect(encodeFrame(Buffer.alloc(70000)).length).to.equal(70004);
    });

    it('FrameEncoder writes the same bytes as encodeFrame', () => {
      const frames = [Buffer.from('abc'), Buffer.alloc(0), Buffer.alloc(COPY_LIMIT + 1, 0xab)];
      const enc = new FrameEncoder();
      for (const f of frames) enc.encode(f);
      const got = Buffer.concat(enc.take());
      expect(got.subarray(0, 11)).to.deep.equal(Buffer.from([0, 0, 0, 3, 97, 98, 99, 0, 0, 0, 0]));
      expect(got.equals(Buffer.concat(frames.map((f) => encodeFrame(f))))).to.equal(true);
      expect([...got.subarray(11, 15)]).to.deep.equal([0, 0, 0x20, 0x01]); // 8193
    });
  });

  describe('FrameEncoder', () => {
    it('queues frames above COPY_LIMIT by reference, not copied', () => {
      const big = Buffer.alloc(COPY_LIMIT + 1, 0x5a);
      const small1 = Buffer.from('hi');
      const small2 = Buffer.from('there');
      const enc = new FrameEncoder();
      enc.encode(small1);
      enc.encode(big);
      enc.encode(small2);
      const out = enc.take();
      expect(out).to.have.length(3);
      expect(out[1]).to.equal(big); // the very same object
      expect(out[0]).to.deep.equal(Buffer.concat([encodeFrame(small1), Buffer.from([0, 0, 0x20, 0x01])]));
      expect(out[2]).to.deep.equal(encodeFrame(small2));
      // by reference: a later change to the payload shows in what was queued
      big[0] = 0x00;
      expect(out[1]![0]).to.equal(0x00);
    });

    it('copies a frame of exactly COPY_LIMIT bytes (and snapshots it at encode time)', () => {
      const edge = Buffer.alloc(COPY_LIMIT, 0x11);
      const enc = new FrameEncoder();
      enc.encode(edge);
      edge.fill(0x22); // mutate after encode: the copy must keep the old bytes
      const out = enc.take();
      expect(out).to.have.length(1);
      expect(out[0]).to.not.equal(edge);
      expect(out[0]!.buffer).to.not.equal(edge.buffer);
      expect(out[0]!.length).to.equal(HEADER_BYTES + COPY_LIMIT);
      expect(out[0]!.readUInt32BE(0)).to.equal(COPY_LIMIT);
      expect(out[0]!.subarray(HEADER_BYTES).every((x) => x === 0x11)).to.equal(true);
    });

    it('batches many small frames into one buffer', () => {
      const enc = new FrameEncoder();
      const frames: Buffer[] = [];
      for (let i = 0; i < 100; i++) {
        const f = Buffer.alloc(10, i);
        frames.push(f);
        enc.encode(f);
      }
      expect(enc.pendingBytes).to.equal(1400);
      const out = enc.take();
      expect(out).to.have.length(1);
      expect(out[0]!.length).to.equal(1400);
      expect(enc.pendingBytes).to.equal(0);
      expect(enc.take()).to.deep.equal([]);
      expectFrames(decodeChunks(out).frames, frames);
    });

    it('keeps bytes already taken intact while encoding more (and across slabs)', () => {
      const enc = new FrameEncoder();
      enc.encode(Buffer.from('first'));
      const first = enc.take();
      const snapshot = Buffer.from(first[0]!);
      // fill well past one slab
      const rest: Buffer[] = [];
      for (let i = 0; i < 3 * (SLAB_BYTES / 1000); i++) {
        const f = Buffer.alloc(996, i & 0xff);
        rest.push(f);
        enc.encode(f);
      }
      expect(first[0]!.equals(snapshot)).to.equal(true);
      const out = enc.take();
      expect(out.length).to.be.greaterThan(1); // more than one slab was needed
      expect(out.reduce((n, b) => n + b.length, 0)).to.equal(rest.length * 1000);
      expectFrames(decodeChunks(out).frames, rest);
    });
  });

  describe('maxFrame', () => {
    const MiB = 1024 * 1024;

    function badStream(): { good: Buffer[]; stream: Buffer; badAt: number } {
      const good = [Buffer.from('one'), Buffer.alloc(0), Buffer.from('three')];
      const before = Buffer.concat(good.map((f) => encodeFrame(f)));
      const stream = Buffer.concat([
        before,
        Buffer.from([0xff, 0xff, 0xff, 0xff]),
        Buffer.from('garbage after the bad header'),
        encodeFrame(Buffer.from('after')),
      ]);
      return { good, stream, badAt: before.length };
    }

    function checkError(errors: FrameTooLargeError[], size: number, maxFrame: number): void {
      expect(errors).to.have.length(1);
      const err = errors[0]!;
      expect(err).to.be.instanceOf(FrameTooLargeError);
      expect(err).to.be.instanceOf(ProtocolError);
      expect(err).to.be.instanceOf(Error);
      expect(err.code).to.equal('ERR_FRAME_TOO_LARGE');
      expect(err.size).to.equal(size);
      expect(err.maxFrame).to.equal(maxFrame);
    }

    it('reports a 0xFFFFFFFF length once, without allocating it, after earlier frames', () => {
      const { good, stream } = badStream();
      let d: Decoded | undefined;
      expect(() => {
        d = decodeChunks([stream], MiB);
      }).to.not.throw();
      expectFrames(d!.frames, good);
      checkError(d!.errors, 0xffffffff, MiB);
      // nothing after: more valid input is ignored, no second error
      d!.decoder.push(encodeFrame(Buffer.from('later')));
      d!.decoder.resume();
      expectFrames(d!.frames, good);
      expect(d!.errors).to.have.length(1);
    });

    it('reports it the same when fed one byte at a time (header assembled across chunks)', () => {
      const { good, stream } = badStream();
      const chunks: Buffer[] = [];
      for (let i = 0; i < stream.length; i++) chunks.push(stream.subarray(i, i + 1));
      let d: Decoded | undefined;
      expect(() => {
        d = decodeChunks(chunks, MiB);
      }).to.not.throw();
      expectFrames(d!.frames, good);
      checkError(d!.errors, 0xffffffff, MiB);
    });

    it('reports it with the bad header split at every point', () => {
      const { good, stream, badAt } = badStream();
      for (let k = 1; k < HEADER_BYTES; k++) {
        const cut = badAt + k;
        let d: Decoded | undefined;
        expect(() => {
          d = decodeChunks([stream.subarray(0, cut), stream.subarray(cut)], MiB);
        }, `split ${k}`).to.not.throw();
        expectFrames(d!.frames, good, `split ${k}:`);
        checkError(d!.errors, 0xffffffff, MiB);
      }
    });

    it('accepts exactly maxFrame and rejects maxFrame + 1', () => {
      const max = 100;
      const ok = decodeChunks([encodeFrame(Buffer.alloc(max, 1))], max);
      expect(ok.errors).to.have.length(0);
      expect(ok.frames).to.have.length(1);
      expect(ok.frames[0]!.length).to.equal(max);

      const bad = decodeChunks([encodeFrame(Buffer.alloc(max + 1, 1)), encodeFrame(Buffer.from('x'))], max);
      expect(bad.frames).to.have.length(0);
      checkError(bad.errors, max + 1, max);
    });

    it('rejects a too-large announcement before its body arrives', () => {
      const errors: FrameTooLargeError[] = [];
      const frames: Buffer[] = [];
      const dec = new FrameDecoder(
        10,
        (f) => frames.push(f),
        (e) => errors.push(e),
      );
      dec.push(Buffer.from([0, 0, 0, 11])); // header only
      checkError(errors, 11, 10);
      dec.push(Buffer.alloc(11));
      expect(frames).to.have.length(0);
      expect(errors).to.have.length(1);
    });
  });

  describe('pause / resume', () => {
    it('pause() inside onFrame stops delivery mid-chunk; resume() delivers the rest in order', () => {
      const frames = ['a', 'bb', 'ccc', 'dddd', 'eeeee'].map((s) => Buffer.from(s));
      const chunk = Buffer.concat(frames.map((f) => encodeFrame(f)));
      const got: string[] = [];
      const dec = new FrameDecoder(
        1024,
        (f) => {
          got.push(f.toString());
          if (f.toString() === 'bb') dec.pause();
        },
        () => expect.fail('no error'),
      );
      dec.push(chunk);
      expect(got).to.deep.equal(['a', 'bb']);
      // undelivered: frames 'ccc', 'dddd', 'eeeee' with their headers
      expect(dec.bufferedBytes).to.equal(3 + 4 + 5 + 3 * HEADER_BYTES);

      // pushing while paused queues, delivers nothing
      const more = encodeFrame(Buffer.from('ffffff'));
      dec.push(more);
      expect(got).to.deep.equal(['a', 'bb']);
      expect(dec.bufferedBytes).to.equal(3 + 4 + 5 + 3 * HEADER_BYTES + more.length);

      dec.resume();
      expect(got).to.deep.equal(['a', 'bb', 'ccc', 'dddd', 'eeeee', 'ffffff']);
      expect(dec.bufferedBytes).to.equal(0);
    });

    it('delivers exactly one frame per resume() when the handler always pauses', () => {
      const rand = prng(5);
      const frames = [5, 0, 9000, 1, 70000, 3].map((n) => randomBytes(rand, n));
      const stream = encodeStream(frames);
      const got: Buffer[] = [];
      const dec = new FrameDecoder(
        1 << 20,
        (f) => {
          got.push(Buffer.from(f));
          dec.pause();
        },
        () => expect.fail('no error'),
      );
      // two chunks, the cut inside the 9000-byte frame, so one frame straddles
      const cut = 5 + 0 + 3 * HEADER_BYTES + 100;
      dec.push(stream.subarray(0, cut));
      dec.push(stream.subarray(cut));
      let remaining = stream.length;
      for (let i = 0; i < frames.length; i++) {
        expect(got, `after resume #${i}`).to.have.length(i + 1);
        remaining -= HEADER_BYTES + frames[i]!.length;
        expect(dec.bufferedBytes, `buffered after frame ${i}`).to.equal(remaining);
        dec.resume();
      }
      expectFrames(got, frames);
      expect(dec.bufferedBytes).to.equal(0);
    });

    it('reports bufferedBytes > 0 while paused with a partial frame pending', () => {
      const dec = new FrameDecoder(1024, () => dec.pause(), () => expect.fail('no error'));
      dec.push(Buffer.concat([encodeFrame(Buffer.from('x')), Buffer.from([0, 0, 0, 10, 1, 2])]));
      expect(dec.bufferedBytes).to.equal(6);
      dec.push(Buffer.from([3, 4]));
      expect(dec.bufferedBytes).to.equal(8);
    });
  });

  describe('split headers', () => {
    for (const k of [1, 2, 3]) {
      it(`decodes a header split ${k}+${HEADER_BYTES - k} bytes`, () => {
        const payload = Buffer.from('hello');
        const f = encodeFrame(payload);
        // alone
        let d = decodeChunks([f.subarray(0, k), f.subarray(k)]);
        expectFrames(d.frames, [payload]);
        // header split, payload in a third chunk
        d = decodeChunks([f.subarray(0, k), f.subarray(k, HEADER_BYTES), f.subarray(HEADER_BYTES)]);
        expectFrames(d.frames, [payload]);
        // after a frame in the same chunk, followed by another frame
        const before = encodeFrame(Buffer.from('before'));
        const after = encodeFrame(Buffer.from('after'));
        d = decodeChunks([
          Buffer.concat([before, f.subarray(0, k)]),
          Buffer.concat([f.subarray(k), after]),
        ]);
        expectFrames(d.frames, [Buffer.from('before'), payload, Buffer.from('after')]);
        expect(d.decoder.bufferedBytes).to.equal(0);
        // a split header of an empty frame
        const empty = encodeFrame(Buffer.alloc(0));
        d = decodeChunks([empty.subarray(0, k), Buffer.concat([empty.subarray(k), f])]);
        expectFrames(d.frames, [Buffer.alloc(0), payload]);
      });
    }

    it('reports buffered header bytes', () => {
      const dec = new FrameDecoder(1024, () => undefined, () => undefined);
      dec.push(Buffer.from([0, 0]));
      expect(dec.bufferedBytes).to.equal(2);
      dec.push(Buffer.from([0]));
      expect(dec.bufferedBytes).to.equal(3);
    });
  });

  describe('batch delivery', () => {
    /** A decoder whose consumer wants batches; `take` says how many of each batch it takes. */
    function batched(maxFrame: number, take: (count: number) => number) {
      const frames: Buffer[] = [];
      const batches: { count: number; chunk: ArrayBufferLike }[] = [];
      const errors: FrameTooLargeError[] = [];
      const singles: Buffer[] = [];
      const dec = new FrameDecoder(
        maxFrame,
        (f) => {
          singles.push(Buffer.from(f));
          frames.push(Buffer.from(f));
        },
        (e) => errors.push(e),
        {
          wanted: () => true,
          deliver: (b: FrameBatch) => {
            const k = take(b.count);
            batches.push({ count: b.count, chunk: b.bytes.buffer });
            for (let i = 0; i < k; i++) frames.push(Buffer.from(b.bytes.subarray(b.starts[i]!, b.starts[i]! + b.lengths[i]!)));
            return k;
          },
        },
      );
      return { dec, frames, batches, errors, singles };
    }

    it('hands up the whole frames of a chunk as one batch over that chunk; a frame that straddles chunks comes alone, in order', () => {
      const frames = standardFrames(11);
      const stream = encodeStream(frames);
      const cut = Math.floor(stream.length / 2);
      const chunks = [own(stream.subarray(0, cut)), own(stream.subarray(cut))];
      const { dec, frames: got, batches, errors, singles } = batched(1 << 24, (n) => n);
      for (const c of chunks) dec.push(c);
      expect(errors).to.have.length(0);
      expectFrames(got, frames);
      expect(batches.length, 'few batches for many frames').to.be.at.most(4);
      expect(batches[0]!.count).to.be.above(3);
      expect(batches[0]!.chunk).to.equal(chunks[0]!.buffer);
      expect(singles.length, 'only a frame that straddles goes alone').to.be.at.most(1);
    });

    it('a consumer that takes part of a batch (paused) gets the rest again from the first frame it did not take', () => {
      const frames = Array.from({ length: 40 }, (_, i) => Buffer.alloc(i % 7, i));
      const stream = own(encodeStream(frames));
      let calls = 0;
      const { dec, frames: got } = batched(1 << 20, (n) => {
        calls++;
        const k = Math.min(n, 3);
        if (k < n) dec.pause();
        return k;
      });
      dec.push(stream);
      expect(got).to.have.length(3);
      while (got.length < frames.length) {
        const before = got.length;
        dec.resume();
        expect(got.length, 'each resume delivers more').to.be.above(before);
      }
      expectFrames(got, frames);
      expect(calls).to.equal(Math.ceil(frames.length / 3));
    });

    it('a length above maxFrame: the frames before it are delivered, then the error, and nothing after', () => {
      const good = [Buffer.from('a'), Buffer.from('bb')];
      const bad = Buffer.alloc(HEADER_BYTES);
      bad.writeUInt32BE(1000, 0);
      const stream = Buffer.concat([...good.map((f) => encodeFrame(f)), bad, Buffer.alloc(1000), encodeFrame(Buffer.from('c'))]);
      const { dec, frames: got, errors } = batched(100, (n) => n);
      dec.push(stream);
      expectFrames(got, good);
      expect(errors).to.have.length(1);
      expect(errors[0]).to.be.instanceOf(FrameTooLargeError);
    });

    it('a consumer that does not want batches gets views one by one, as before', () => {
      const frames = standardFrames(5);
      const seen: Buffer[] = [];
      const dec = new FrameDecoder(1 << 24, (f) => seen.push(Buffer.from(f)), () => expect.fail('no error'), {
        wanted: () => false,
        deliver: () => expect.fail('no batch wanted'),
      });
      dec.push(own(encodeStream(frames)));
      expectFrames(seen, frames);
    });
  });
});
