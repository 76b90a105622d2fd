/**
 * codec.test.ts: the bus codec (src/bus/codec.ts) and its pre-decode scanner
 * (src/bus/msgpack-scan.ts), in process: every supported type round-trips, and everything a
 * peer could send that we do not accept is refused with a ProtocolError (codec) or ScanError
 * (scanner) without touching any prototype.
 */
import { expect } from 'chai';
import { decode, DEFAULT_MAX_DEPTH, encode, EXT_ERROR, EXT_MAP, EXT_REF, type RefDecoder } from '../../src/bus/codec.js';
import { ScanError, scanMsgpack, type ExtShape } from '../../src/bus/msgpack-scan.js';
import { WireRef } from '../../src/bus/wire-ref.js';
import { ProtocolError } from '../../src/index.js';
import { expectSame, samples } from './samples.js';

class TestRef extends WireRef {
  constructor(
    readonly node: string,
    readonly actor: string,
  ) {
    super();
  }
}

const refs: RefDecoder = { decodeRef: (node, actor) => new TestRef(node, actor) };

function nested(depth: number, inner: unknown = 1): unknown {
  let v = inner;
  for (let i = 0; i < depth; i++) v = [v];
  return v;
}

function protoSnapshot(): string {
  return Object.getOwnPropertyNames(Object.prototype).sort().join(',');
}

const bytes = (...b: number[]): Uint8Array => Uint8Array.from(b);
const str = (s: string): number[] => [0xa0 | Buffer.byteLength(s), ...Buffer.from(s)];

describe('bus codec', function () {
  describe('round trips', function () {
    it('every supported type, at the top level', function () {
      for (const [i, v] of samples().entries()) expectSame(decode(encode(v)), v, `sample ${i}`);
    });

    it('every supported type, inside arrays, objects, Sets and Maps', function () {
      const all = samples();
      const v = { list: all, nested: { deeper: [all] }, set: new Set([all]), map: new Map<unknown, unknown>([['all', all], [new Map([[1, 2]]), 'map key']]) };
      expectSame(decode(encode(v)), v);
    });

    it('Errors travel as data: name, message and code come back on a plain Error, nothing else', function () {
      const err = Object.assign(new RangeError('out of range'), { code: 'ERR_X', secret: 'not sent' });
      const back = decode(encode({ e: err, list: [new TypeError('t')] })) as { e: Error & { code?: string; secret?: string }; list: Error[] };
      expect(back.e).to.be.instanceOf(Error);
      expect(Object.getPrototypeOf(back.e)).to.equal(Error.prototype);
      expect([back.e.name, back.e.message, back.e.code, back.e.secret]).to.deep.equal(['RangeError', 'out of range', 'ERR_X', undefined]);
      expect([back.list[0]!.name, back.list[0]!.message]).to.deep.equal(['TypeError', 't']);
      // a name that is an Object.prototype member is just a name
      const odd = decode(bytes(0xd4, EXT_ERROR, 0x00, 0x82, ...str('name'), ...str('valueOf'), ...str('message'), ...str('m'))) as Error;
      expect([odd instanceof Error, odd.name, odd.message]).to.deep.equal([true, 'valueOf', 'm']);
    });

    it('Map inside arrays and objects, and Maps as keys and values', function () {
      const v = [new Map([[1, new Map([['a', [new Map()]]])]]), { m: new Map([[{ k: 1 }, new Set([new Map([[2n, 3]])])]]) }];
      expectSame(decode(encode(v)), v);
    });

    it('Map inside a null-prototype object or a class instance is still a Map', function () {
      const dict = Object.assign(Object.create(null) as Record<string, unknown>, { m: new Map([[1, 2]]) });
      class Holder {
        m = new Map([['k', 'v']]);
      }
      expectSame(decode(encode(dict)), { m: new Map([[1, 2]]) });
      expectSame(decode(encode(new Holder())), { m: new Map([['k', 'v']]) });
    });

    it('bigint, small and big, positive and negative', function () {
      for (const b of [0n, 1n, -1n, 2n ** 53n, 2n ** 63n - 1n, -(2n ** 63n), 2n ** 63n, 2n ** 64n - 1n, 2n ** 64n, 2n ** 200n + 7n, -(2n ** 200n)]) {
        expect(decode(encode(b)), String(b)).to.equal(b);
      }
    });

    it('undefined, alone and in arrays and objects', function () {
      expect(decode(encode(undefined))).to.equal(undefined);
      expectSame(decode(encode([undefined, 1])), [undefined, 1]);
      expectSame(decode(encode({ a: undefined })), { a: undefined });
    });

    it('typed array views keep only their window; decoded bytes are copies', function () {
      const view = new Float64Array([1, 2, 3, 4]).subarray(1, 3);
      expectSame(decode(encode(view)), new Float64Array([2, 3]));
      const frame = encode(Buffer.from('abc'));
      const out = decode(frame) as Buffer;
      frame.fill(0);
      expect(out.toString()).to.equal('abc');
    });

    it('actor refs go through the RefDecoder, and are refused without one', function () {
      const r = decode(encode(new TestRef('node-1', 'echo')), refs) as TestRef;
      expect(r).to.be.instanceOf(TestRef);
      expect([r.node, r.actor]).to.deep.equal(['node-1', 'echo']);
      expect(() => decode(encode(new TestRef('node-1', 'echo')))).to.throw(ProtocolError, /not accepted here/);
    });

    it('a "__proto__" key is kept as data (as "__proto_"), never as a prototype', function () {
      const before = protoSnapshot();
      const v = decode(encode(JSON.parse('{"__proto__": {"polluted": 1}}'))) as Record<string, unknown>;
      expect(Object.getPrototypeOf(v)).to.equal(Object.prototype);
      expect(v.polluted).to.equal(undefined);
      expect(Object.keys(v)).to.deep.equal(['__proto_']);
      expect(protoSnapshot()).to.equal(before);
    });
  });

  describe('what encode() refuses', function () {
    it('a value nested deeper than the bound (the peer would close the connection)', function () {
      expect(decode(encode(nested(DEFAULT_MAX_DEPTH)))).to.deep.equal(nested(DEFAULT_MAX_DEPTH));
      expect(() => encode(nested(DEFAULT_MAX_DEPTH + 1))).to.throw(RangeError, /nesting deeper than 100/);
      expect(() => encode(nested(DEFAULT_MAX_DEPTH * 10))).to.throw(RangeError);
      expect(encode(nested(150), { maxDepth: 200 }).length).to.be.above(150);
    });

    it('what msgpack cannot carry', function () {
      expect(() => encode(Symbol('s'))).to.throw();
    });
  });

  describe('what decode() refuses from a peer (ProtocolError ERR_BAD_MESSAGE)', function () {
    const cases: [string, Uint8Array][] = [
      ['nesting deeper than the bound', Uint8Array.from([...new Array(DEFAULT_MAX_DEPTH + 1).fill(0x91), 0xc0])],
      ['1,000,000 nested arrays', (() => {
        const b = new Uint8Array(1_000_001).fill(0x91);
        b[1_000_000] = 0xc0;
        return b;
      })()],
      ['nested maps', Uint8Array.from([...new Array(DEFAULT_MAX_DEPTH + 1).fill([0x81, 0xa0]).flat(), 0xc0])],
      ['a record definition (0xd4 0x72)', bytes(0xd4, 0x72, 0x40, 0x91, ...str('a'))],
      ['a record (0x40..0x7f after a definition)', bytes(0xd4, 0x72, 0x40)],
      ['a structured-clone id (0x69)', bytes(0xd6, 0x69, 0, 0, 0, 1)],
      ['a structured-clone pointer (0x70)', bytes(0xd6, 0x70, 0, 0, 0, 1)],
      ['bundled strings (0x62)', bytes(0xd6, 0x62, 0, 0, 0, 1)],
      ['an unknown fixext type', bytes(0xd4, 0x10, 0x00)],
      ['an unknown ext8 type', bytes(0xc7, 0x01, 0x05, 0x00)],
      ['a tag extension in data form (Set as ext8)', bytes(0xc7, 0x01, 0x73, 0x00)],
      ['the reserved byte 0xc1', bytes(0xc1)],
      ['truncated input', bytes(0x92, 0x01)],
      ['a truncated str8', bytes(0xd9, 0x05, 0x61)],
      ['a str32 claiming 2 GiB', bytes(0xdb, 0x7f, 0xff, 0xff, 0xff, 0x61)],
      ['an array32 claiming 4 billion values', bytes(0xdd, 0xff, 0xff, 0xff, 0xff, 0xc0)],
      ['a map32 claiming 2 billion pairs', bytes(0xdf, 0x7f, 0xff, 0xff, 0xff, 0xc0, 0xc0)],
      ['bytes after the value', bytes(0xc0, 0xc0)],
      ['empty input', bytes()],
      ['a Map whose entries are not pairs', bytes(0xd4, EXT_MAP, 0x00, 0x91, 0x91, 0x01)],
      ['a Map that is not an array', bytes(0xd4, EXT_MAP, 0x00, 0x01)],
      ['a ref with a bad name', bytes(0xd4, EXT_REF, 0x00, 0x92, ...str('a/b'), ...str('c'))],
      ['a ref that is not a pair', bytes(0xd4, EXT_REF, 0x00, 0x91, ...str('a'))],
      ['an Error extension naming __proto__', bytes(0xd4, 0x65, 0x00, 0x93, ...str('__proto__'), 0x80, 0xc0)],
      ["msgpackr's Error extension (0x65) naming valueOf", bytes(0xd4, 0x65, 0x00, 0x93, ...str('valueOf'), ...str('m'), 0xc0)],
      ['our Error extension without a message', bytes(0xd4, EXT_ERROR, 0x00, 0x81, ...str('name'), ...str('E'))],
      ['our Error extension with a non-string code', bytes(0xd4, EXT_ERROR, 0x00, 0x83, ...str('name'), ...str('E'), ...str('message'), ...str('m'), ...str('code'), 0x01)],
      ['a tag extension whose data byte is not 0', bytes(0xd4, EXT_MAP, 0x01, 0x90)],
    ];
    for (const [what, input] of cases) {
      it(what, function () {
        const before = protoSnapshot();
        let err: unknown;
        try {
          decode(input, refs);
        } catch (e) {
          err = e;
        }
        expect(err, 'decode threw').to.be.instanceOf(ProtocolError);
        expect((err as ProtocolError).code).to.equal('ERR_BAD_MESSAGE');
        expect(protoSnapshot()).to.equal(before);
      });
    }

    it('a decoder left by a rejected frame decodes the next one normally', function () {
      expect(() => decode(bytes(0xd4, 0x72, 0x40, 0x91, ...str('a')))).to.throw(ProtocolError);
      expectSame(decode(encode({ a: [1, new Map([[1, 2]])] })), { a: [1, new Map([[1, 2]])] });
    });

    it('a custom maxDepth is honoured both ways', function () {
      expect(() => decode(encode(nested(5)), undefined, { maxDepth: 4 })).to.throw(ProtocolError, /nesting deeper than 4/);
      expect(decode(encode(nested(4)), undefined, { maxDepth: 4 })).to.deep.equal(nested(4));
    });
  });
});

describe('bus msgpack-scan', function () {
  const ext = new Map<number, ExtShape>([
    [0x01, 'data'],
    [0x02, 'tag'],
    [0xff, 'data'],
  ]);
  const ok = (b: Uint8Array, depth = 10): void => scanMsgpack(b, ext, depth);
  const bad = (b: Uint8Array, why: RegExp, depth = 10): void => {
    expect(() => scanMsgpack(b, ext, depth)).to.throw(ScanError, why);
  };

  it('accepts every MessagePack format it knows', function () {
    ok(bytes(0x00));
    ok(bytes(0x7f));
    ok(bytes(0xe0));
    ok(bytes(0xc0));
    ok(bytes(0xc2));
    ok(bytes(0xc3));
    ok(bytes(0xcc, 1));
    ok(bytes(0xcd, 1, 2));
    ok(bytes(0xce, 1, 2, 3, 4));
    ok(bytes(0xcf, 1, 2, 3, 4, 5, 6, 7, 8));
    ok(bytes(0xd0, 1));
    ok(bytes(0xd1, 1, 2));
    ok(bytes(0xd2, 1, 2, 3, 4));
    ok(bytes(0xd3, 1, 2, 3, 4, 5, 6, 7, 8));
    ok(bytes(0xca, 1, 2, 3, 4));
    ok(bytes(0xcb, 1, 2, 3, 4, 5, 6, 7, 8));
    ok(bytes(0xa2, 0x61, 0x62));
    ok(bytes(0xd9, 2, 0x61, 0x62));
    ok(bytes(0xda, 0, 2, 0x61, 0x62));
    ok(bytes(0xdb, 0, 0, 0, 2, 0x61, 0x62));
    ok(bytes(0xc4, 1, 9));
    ok(bytes(0xc5, 0, 1, 9));
    ok(bytes(0xc6, 0, 0, 0, 1, 9));
    ok(bytes(0x92, 0x01, 0x02));
    ok(bytes(0xdc, 0, 1, 0x01));
    ok(bytes(0xdd, 0, 0, 0, 1, 0x01));
    ok(bytes(0x81, 0x01, 0x02));
    ok(bytes(0xde, 0, 1, 0x01, 0x02));
    ok(bytes(0xdf, 0, 0, 0, 1, 0x01, 0x02));
    ok(bytes(0x90));
    ok(bytes(0x80));
    // data extensions of every size form
    ok(bytes(0xd4, 0x01, 0));
    ok(bytes(0xd5, 0x01, 0, 0));
    ok(bytes(0xd6, 0xff, 0, 0, 0, 0));
    ok(bytes(0xd7, 0xff, 0, 0, 0, 0, 0, 0, 0, 0));
    ok(bytes(0xd8, 0x01, ...new Array(16).fill(0)));
    ok(bytes(0xc7, 3, 0x01, 1, 2, 3));
    ok(bytes(0xc8, 0, 1, 0x01, 1));
    ok(bytes(0xc9, 0, 0, 0, 1, 0x01, 1));
    // a tag wraps the next value
    ok(bytes(0xd4, 0x02, 0x00, 0x92, 0x01, 0x02));
  });

  it('counts depth through arrays, maps and tags; empty containers do not nest', function () {
    ok(bytes(0x91, 0x91, 0x01), 2);
    bad(bytes(0x91, 0x91, 0x91, 0x01), /nesting deeper than 2/, 2);
    ok(bytes(0x81, 0x01, 0x81, 0x01, 0x01), 2);
    bad(bytes(0x81, 0x01, 0x81, 0x01, 0x81, 0x01, 0x01), /nesting deeper than 2/, 2);
    bad(bytes(0xd4, 0x02, 0x00, 0x91, 0x01), /nesting deeper than 1/, 1);
    ok(bytes(0x91, 0x91, 0x90), 2);
    // siblings do not add up
    ok(bytes(0x93, 0x91, 0x01, 0x91, 0x01, 0x91, 0x01), 2);
  });

  it('refuses bad bytes, lies about lengths, and unlisted extensions', function () {
    bad(bytes(0xc1), /invalid MessagePack byte 0xc1/);
    bad(bytes(), /truncated/);
    bad(bytes(0x92, 0x01), /container of 2 values at offset 1 cannot fit in 1 bytes/);
    bad(bytes(0x92, 0xcd, 0x01), /truncated/);
    bad(bytes(0xcd, 0x01), /truncated/);
    bad(bytes(0xc6, 0xff, 0xff, 0xff, 0xff), /truncated/);
    bad(bytes(0xdc, 0xff, 0xff), /cannot fit/);
    bad(bytes(0xde, 0x00, 0x02, 0x01, 0x01, 0x01), /cannot fit/);
    bad(bytes(0xd4, 0x03, 0x00), /extension type 3 is not accepted/);
    bad(bytes(0xd5, 0x02, 0x00, 0x00, 0x01), /must be a one-byte tag/);
    bad(bytes(0x01, 0x02), /1 bytes after the value/);
    bad(bytes(0xd8, 0x01, 0x00), /truncated/);
  });

  it('scans a window of a larger buffer', function () {
    const buf = bytes(0xc1, 0x92, 0x01, 0x02, 0xc1);
    scanMsgpack(buf, ext, 10, 1, 4);
    expect(() => scanMsgpack(buf, ext, 10, 1, 5)).to.throw(ScanError);
  });

  it('accepts a flat array of 1,000,000 values and refuses 1,000,000 nested ones at the bound', function () {
    const flat = new Uint8Array(1_000_005);
    flat.set([0xdd, 0x00, 0x0f, 0x42, 0x40]); // array32 of 1,000,000 zeros
    scanMsgpack(flat, ext, 10);
    const deep = new Uint8Array(1_000_001).fill(0x91);
    deep[1_000_000] = 0x01;
    expect(() => scanMsgpack(deep, ext, 100)).to.throw(ScanError, /nesting deeper than 100/);
  });
});
