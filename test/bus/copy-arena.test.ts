/**
 * copy-arena.test.ts: the copies a receiver makes of large bins (src/bus/copy-arena.ts) are
 * exact, never views of their source, never overlap one another across arenas, and the
 * decoder hands them out for every bin of 4 KiB and more, in the arena or, past ARENA_MAX, in
 * memory of their own.
 */
import { expect } from 'chai';
import { encode } from '../../src/bus/codec.js';
import { ARENA_BYTES, ARENA_MAX, copyOut } from '../../src/bus/copy-arena.js';
import { decodePlain, ShortStrings } from '../../src/bus/plain-decode.js';

function pattern(n: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = (i * 7 + 3) & 0xff;
  return b;
}

describe('bus copy-arena', function () {
  it('copies exactly the range asked for, never as a view of the source, in an arena or in memory of its own', function () {
    const src = pattern(2 * ARENA_MAX + 10);
    for (const n of [1, 4095, 4096, 4097, 65_536, ARENA_MAX, ARENA_MAX + 1, 2 * ARENA_MAX]) {
      const b = copyOut(src, 3, 3 + n);
      expect(Buffer.isBuffer(b), `${n}: a Buffer`).to.equal(true);
      expect(b.length, `${n}: length`).to.equal(n);
      expect(b.equals(src.subarray(3, 3 + n)), `${n}: bytes`).to.equal(true);
      expect(b.buffer, `${n}: not the source's memory`).to.not.equal(src.buffer);
      if (n <= ARENA_MAX) {
        expect(b.buffer.byteLength, `${n}: carved from an arena`).to.equal(ARENA_BYTES);
        expect(b.byteOffset % 8, `${n}: 8-byte aligned`).to.equal(0);
      } else {
        expect(b.byteOffset, `${n}: its own memory`).to.equal(0);
        expect(b.buffer.byteLength, `${n}: exactly its length`).to.equal(n);
      }
    }
  });

  it('never overlaps another copy, across many arenas', function () {
    const copies: Buffer[] = [];
    for (let i = 0; i < 300; i++) copies.push(copyOut(Buffer.alloc(40_000 + i * 97, i & 0xff), 0, 40_000 + i * 97));
    expect(new Set(copies.map((b) => b.buffer)).size, 'several arenas were used').to.be.greaterThan(2);
    copies.forEach((b, i) => expect(b.every((v) => v === (i & 0xff)), `copy ${i}`).to.equal(true));
  });

  it('is what the plain decoder gives for a bin of 4 KiB or more, which outlives the frame it came from', function () {
    const payload = pattern(70_000);
    const frame = Buffer.from(encode(['sink', [1, payload]]));
    const v = decodePlain(frame, 0, frame.length, new ShortStrings()) as [string, [number, Buffer]];
    const bin = v[1][1];
    frame.fill(0); // the link reuses its memory once the callback returns
    expect(bin.equals(payload)).to.equal(true);
    expect(bin.buffer.byteLength, 'from the arena').to.equal(ARENA_BYTES);
  });
});
