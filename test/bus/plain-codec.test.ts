/**
 * plain-codec.test.ts: the hand encoder and decoder for plain payloads (src/bus/plain-encode.ts,
 * plain-decode.ts) agree with msgpackr (the codec) in both directions, stay within the size
 * the walk bounded, and the decoder gives up on everything outside its subset, so the codec's
 * rules for the rest (maps and `__proto__`, refs, extensions, bigint) still apply.
 * And the encoder's walk (codec.ts) vouches only for what it models: our own output is still
 * scanned where it could not.
 */
import { expect } from 'chai';
import { decode, encode, plainBound, prepare, preparedBound, preparedPlain } from '../../src/bus/codec.js';
import { decodePlain, NOT_PLAIN, ShortStrings } from '../../src/bus/plain-decode.js';
import { writePlain } from '../../src/bus/plain-encode.js';
import { AddressBytes, sendEnvelope } from '../../src/bus/envelope-frame.js';
import { MsgType } from '../../src/bus/envelope.js';
import type { Link } from '../../src/index.js';

const PLAIN_VALUES: unknown[] = [
  0, 1, 127, 128, 255, 256, 65535, 65536, 2 ** 32 - 1, 2 ** 32, 2 ** 40, 2 ** 53, -1, -32, -33, -128, -129, -32768, -32769,
  -(2 ** 31), -(2 ** 31) - 1, -0, 1.5, -0.25, 1e300, Number.NaN, Number.POSITIVE_INFINITY, '', 'a', 'x'.repeat(31),
  'x'.repeat(32), 'x'.repeat(300), 'x'.repeat(70_000), 'héllo ✓ 𝄞', 'é'.repeat(40), null, true, false, [], [1, [2, [3, 'deep']]],
  new Array<number>(20).fill(7), new Array<number>(70_000).fill(1), Buffer.from([1, 2, 3]), Buffer.alloc(300, 1),
  Buffer.alloc(70_000, 2), ['sink', [1, Buffer.alloc(64, 0xab)]],
];

function plain(v: unknown): unknown {
  const b = Buffer.from(encode(v));
  return decodePlain(b, 0, b.length, new ShortStrings());
}

describe('bus plain-encode', function () {
  it('writes what msgpackr reads back as the value msgpackr itself would give, within the bound', function () {
    for (const v of PLAIN_VALUES) {
      prepare(v, 0);
      expect(preparedPlain(), 'plain').to.equal(true);
      const bound = preparedBound(100);
      const target = Buffer.alloc(bound + 8, 0xee);
      const end = writePlain(target, 3, v);
      expect(end - 3, 'within the bound').to.be.at.most(bound);
      expect(target[bound + 3], 'nothing written past the bound').to.equal(0xee);
      expect(decode(target.subarray(3, end))).to.deep.equal(decode(encode(v)));
    }
  });

  it('writes into a plain Uint8Array view at an offset (a claim in the shm ring) exactly as into a Buffer', function () {
    for (const v of [...PLAIN_VALUES, 'x'.repeat(40), 'é'.repeat(300), ['ünïcödé and a long tail of text', 'short']]) {
      prepare(v, 0);
      if (!preparedPlain()) continue;
      const bound = preparedBound(100);
      const view = new Uint8Array(new ArrayBuffer(bound + 1008), 1000, bound + 8); // not a Buffer, not at offset 0
      const end = writePlain(view, 3, v);
      const asBuffer = Buffer.alloc(bound + 8);
      expect(writePlain(asBuffer, 3, v), 'same length').to.equal(end);
      expect(Buffer.from(view.subarray(3, end)).equals(asBuffer.subarray(3, end)), `bytes of ${JSON.stringify(v)}`.slice(0, 80)).to.equal(true);
    }
  });

  it("plainBound() gives the walk's bound for plain values, at every depth the peer takes, and -1 for the rest", function () {
    for (const v of PLAIN_VALUES) {
      for (const maxDepth of [100, 3]) {
        prepare(v, 1);
        const want = preparedPlain() ? preparedBound(maxDepth) : -1;
        expect(plainBound(v, 1, maxDepth), `${String(v).slice(0, 20)} maxDepth ${maxDepth}`).to.equal(want);
      }
    }
    let deep: unknown = 1;
    for (let i = 0; i < 99; i++) deep = [deep];
    expect(plainBound(deep, 1, 100), '99 levels under the envelope: the peer takes it').to.be.above(0);
    expect(plainBound([deep], 1, 100), 'one more: left to prepare(), which refuses it').to.equal(-1);
    for (const v of [undefined, [undefined], { a: 1 }, new Map(), Uint8Array.of(1), new Date(0), 1n, new Set(), /x/, () => 1, Symbol('s'), [1, [2, { a: 1 }]], new Array(3)]) {
      expect(plainBound(v, 1, 100), String(v)).to.equal(-1);
    }
  });

  it('the walk calls nothing else plain', function () {
    const others: unknown[] = [undefined, [undefined], { a: 1 }, new Map(), Uint8Array.of(1), new Date(0), 1n, new Set(), /x/];
    others.forEach((v, i) => {
      prepare(v, 0);
      expect(preparedPlain(), `value ${i}`).to.equal(false);
    });
  });
});

describe('bus plain-decode', function () {
  it('decodes the plain subset exactly as msgpackr does; bytes come back as Buffer copies', function () {
    const values = PLAIN_VALUES;
    for (const v of values) {
      const b = Buffer.from(encode(v));
      const got = decodePlain(b, 0, b.length, new ShortStrings());
      expect(got, `plain: ${typeof v === 'string' ? v.slice(0, 20) : String(v).slice(0, 20)}`).to.not.equal(NOT_PLAIN);
      expect(got).to.deep.equal(decode(b));
    }
    const b = Buffer.from(encode([Buffer.from('abc')]));
    const [bytes] = decodePlain(b, 0, b.length, new ShortStrings()) as [Buffer];
    expect(Buffer.isBuffer(bytes)).to.equal(true);
    // Both may come from Node's small-Buffer pool, so compare memory ranges, not ArrayBuffers.
    const overlaps = bytes.buffer === b.buffer && bytes.byteOffset < b.byteOffset + b.length && b.byteOffset < bytes.byteOffset + bytes.length;
    expect(overlaps, 'a copy, not a view into the frame').to.equal(false);
    b.fill(0);
    expect(bytes.toString(), 'unchanged when the frame is reused').to.equal('abc');
  });

  it('gives up on maps, extensions, 64-bit integers and float 32, leaving them to msgpackr', function () {
    for (const v of [{ a: 1 }, { __proto__: 1 } as unknown, new Map([[1, 2]]), undefined, new Date(0), 2n ** 64n, -(2n ** 63n), [1, { a: 1 }], Uint8Array.of(1), new Set([1]), new Error('e')]) {
      expect(plain(v), String(v)).to.equal(NOT_PLAIN);
    }
    for (const raw of [[0xca, 0, 0, 0, 0], [0xcf, 0, 0, 0, 0, 0, 0, 0, 1], [0xd3, 0, 0, 0, 0, 0, 0, 0, 1], [0x91, 0xc1]]) {
      const b = Buffer.from(raw);
      expect(decodePlain(b, 0, b.length, new ShortStrings())).to.equal(NOT_PLAIN);
    }
  });
});

describe('bus codec: what the encoder walk vouches for', function () {
  it('a class instance whose toJSON nests too deep is still refused at the sender (its output is scanned)', function () {
    let deep: unknown = 1;
    for (let i = 0; i < 150; i++) deep = [deep];
    class Sneaky {
      toJSON(): unknown {
        return deep;
      }
    }
    expect(() => encode([new Sneaky()])).to.throw(RangeError, /nesting deeper than 100/);
    expect(() => encode({ a: [new Sneaky()] })).to.throw(RangeError);
  });
});

describe('bus envelope-frame: a claim is always committed', function () {
  /** A link that claims from one buffer and records what it was given. */
  function fakeLink(): { link: Link; commits: number[]; sends: Uint8Array[]; memory: Buffer } {
    const memory = Buffer.alloc(1 << 16);
    const commits: number[] = [];
    const sends: Uint8Array[] = [];
    const link = {
      scheme: 'fake',
      remote: 'fake',
      capabilities: { reliable: true, ordered: true, maxFrame: 1 << 20, crossHost: false },
      claim: (n: number) => memory.subarray(0, n),
      commit: (n: number) => {
        commits.push(n);
        return true;
      },
      send: (f: Uint8Array) => {
        sends.push(f);
        return true;
      },
    } as unknown as Link;
    return { link, commits, sends, memory };
  }

  it('a value that grows after the walk measured it (an accessor) is refused; its claim becomes a ping', function () {
    const { link, commits, memory } = fakeLink();
    let reads = 0;
    const args: unknown[] = [];
    Object.defineProperty(args, 0, { enumerable: true, get: () => (++reads === 1 ? 'a' : 'x'.repeat(1000)) });
    const env = { type: MsgType.tell, id: 0, to: 'n/a', from: 'me', payload: ['m', args], hops: 0 };
    expect(() => sendEnvelope(link, env, { maxDepth: 100, peerMaxFrame: Infinity }, new AddressBytes())).to.throw(RangeError);
    expect(commits).to.have.length(1);
    expect(decode(memory.subarray(0, commits[0]))).to.deep.equal([MsgType.ping, 0, '', 'me', null]);
  });

  it('an accessor that grows a short string past the bound is caught by the length check, not sent cut', function () {
    const { link, commits, sends, memory } = fakeLink();
    let reads = 0;
    const args: unknown[] = [];
    Object.defineProperty(args, 0, { enumerable: true, get: () => (++reads === 1 ? 'a' : 'x'.repeat(31)) });
    const env = { type: MsgType.tell, id: 0, to: 'n/a', from: 'me', payload: ['m', args], hops: 0 };
    expect(() => sendEnvelope(link, env, { maxDepth: 100, peerMaxFrame: Infinity }, new AddressBytes())).to.throw(RangeError, /changed while being encoded/);
    expect(commits).to.have.length(1);
    expect(sends).to.have.length(0);
    expect(decode(memory.subarray(0, commits[0]))).to.deep.equal([MsgType.ping, 0, '', 'me', null]);
  });

  it('a plain tell is written into the claim, and reads back as the envelope', function () {
    const { link, commits, sends, memory } = fakeLink();
    const env = { type: MsgType.tell, id: 0, to: 'n/a', from: 'me', payload: ['sink', [1, Buffer.from('xyz')]], hops: 0 };
    sendEnvelope(link, env, { maxDepth: 100, peerMaxFrame: Infinity }, new AddressBytes());
    expect(sends).to.have.length(0);
    expect(decode(memory.subarray(0, commits[0]))).to.deep.equal([MsgType.tell, 0, 'n/a', 'me', ['sink', [1, Buffer.from('xyz')]]]);
  });
});
