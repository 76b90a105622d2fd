/**
 * envelope.test.ts: the envelope decoder (src/bus/envelope-frame.ts EnvelopeReader, with
 * codec.ts's scan and msgpackr, and plain-decode.ts for plain payloads) against frames a
 * hostile peer sends: random bytes, valid envelope headers over random payloads, random
 * MessagePack-shaped bytes. And the garbage generator's round trip: values of every kind B.3
 * supports, sent the way the bus sends them (sendEnvelope, with and without a claim) and read
 * back, come back equal (with B.3's documented changes: -0 as 0, lone surrogates as U+FFFD).
 *
 * Invariants: read() returns an envelope whose header fields are in range, or throws a
 * ProtocolError, nothing else; the fast header reader and the general decoder
 * (decodeEnvelope) agree on every frame they both accept.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { decode, encode } from '../../src/bus/codec.js';
import { AddressBytes, EnvelopeReader, sendEnvelope } from '../../src/bus/envelope-frame.js';
import { decodeEnvelope, MAX_HOPS, MSG_NAMES, MsgType, type Envelope } from '../../src/bus/envelope.js';
import { ProtocolError } from '../../src/errors.js';
import type { Link } from '../../src/index.js';
import { bytes, runs } from './runs.js';

const refs = { decodeRef: (node: string, actor: string) => ({ ref: `${node}/${actor}` }) };

function readOrError(frame: Buffer): Envelope | ProtocolError {
  try {
    return new EnvelopeReader(refs, 100).read(frame, 0, frame.length);
  } catch (err) {
    expect(err, String(err)).to.be.instanceOf(ProtocolError);
    return err as ProtocolError;
  }
}

function checkRead(frame: Buffer): void {
  const got = readOrError(frame);
  if (got instanceof ProtocolError) return;
  expect(got.type).to.be.below(MSG_NAMES.length);
  expect(Number.isSafeInteger(got.id) && got.id >= 0).to.equal(true);
  expect(got.to).to.be.a('string');
  expect(got.from).to.be.a('string');
  expect(got.hops).to.be.within(0, MAX_HOPS);
  if (got.refused !== undefined) return;
  // the general decoder reads the same frame the same way
  let general: Envelope;
  try {
    general = decodeEnvelope(frame, refs);
  } catch (err) {
    throw new Error(`the fast reader accepted a frame the general decoder refuses (${String(err)}): ${frame.toString('hex')}`);
  }
  expect({ ...got, refused: undefined }).to.deep.equal({ ...general, refused: undefined });
}

/** Bytes shaped like MessagePack: headers with lengths near their limits, in random order. */
const msgpackish = fc
  .array(
    fc.oneof(
      fc.constantFrom(0x90, 0x95, 0x96, 0x80, 0x81, 0xa0, 0xa3, 0xc0, 0xc1, 0xc2, 0xc3, 0xd4, 0xc7, 0xcb, 0xdc, 0xdd, 0xde, 0xdf, 0xdb, 0xc6, 0xd9).map((b) => [b]),
      fc.constantFrom([0xdd, 0xff, 0xff, 0xff, 0xff], [0xdb, 0x7f, 0xff, 0xff, 0xff], [0xdf, 0, 1, 0, 0], [0xd4, 0x52, 0x00], [0xd4, 0x65, 0x00], [0xd4, 0x73, 0x00], [0xd4, 0x6d, 0x00], [0xc7, 0xff, 0x42]),
      fc.integer({ min: 0, max: 255 }).map((b) => [b]),
    ),
    { maxLength: 24 },
  )
  .map((parts) => Buffer.from(parts.flat()));

const str = (s: string): Buffer => {
  const b = Buffer.from(s);
  return Buffer.concat([Buffer.of(0xa0 | b.length), b]);
};

/** A valid header [type, id, to, from, then whatever payload (and maybe hops). */
const headerThenPayload = fc
  .tuple(fc.integer({ min: 0, max: 14 }), fc.oneof(fc.integer({ min: 0, max: 127 }), fc.constant(0xcc)), fc.constantFrom('', 'main/echo', 'main'), fc.constantFrom('peer', '', 'a b'), fc.boolean(), msgpackish)
  .map(([type, id, to, from, six, payload]) => Buffer.concat([Buffer.of(six ? 0x96 : 0x95, type, id), str(to), str(from), payload]));

describe('hostile: envelope decoder (envelope-frame.ts, codec.ts, plain-decode.ts)', function () {
  it('random bytes: an envelope in range, or a ProtocolError (10,000 cases)', function () {
    fc.assert(fc.property(bytes(48), (b) => checkRead(Buffer.from(b))), runs());
  });

  it('MessagePack-shaped garbage (lengths near 2^32, tags, reserved 0xc1): an envelope in range, or a ProtocolError (10,000 cases)', function () {
    fc.assert(fc.property(msgpackish, checkRead), runs());
  });

  it('valid headers over invalid payloads, unknown types, odd ids: the fast reader and the general decoder agree (10,000 cases)', function () {
    fc.assert(fc.property(headerThenPayload, checkRead), runs());
  });
});

// ---- the garbage generator's round trip --------------------------------------------------

/** String.prototype.toWellFormed (Node 20; newer than this project's TypeScript lib): lone surrogates as U+FFFD. */
const wellFormed = (s: string): string => (s as unknown as { toWellFormed(): string }).toWellFormed();

/** What B.3 promises a value comes back as: -0 as 0, strings made well-formed. */
function expected(v: unknown): unknown {
  if (typeof v === 'number') return Object.is(v, -0) ? 0 : v;
  if (typeof v === 'string') return wellFormed(v);
  if (Array.isArray(v)) return v.map(expected);
  if (v instanceof Map) return new Map([...v].map(([k, x]) => [expected(k), expected(x)]));
  if (v instanceof Set) return new Set([...v].map(expected));
  if (v !== null && typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype) {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [wellFormed(k), expected(x)]));
  }
  return v;
}

/** Any string of UTF-16 code units, lone surrogates included. */
const anyString = fc.string({ unit: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)), maxLength: 12 });

const leaf: fc.Arbitrary<unknown> = fc.oneof(
  fc.constant(null),
  fc.constant(undefined),
  fc.boolean(),
  fc.integer(),
  fc.double(),
  fc.constantFrom(-0, 2 ** 32, 2 ** 53, -(2 ** 31) - 1, Number.MAX_VALUE),
  anyString,
  fc.bigInt({ min: -(2n ** 63n), max: 2n ** 64n - 1n }),
  fc.bigInt({ min: -(2n ** 200n), max: 2n ** 200n }),
  fc.date({ noInvalidDate: true }),
  fc.uint8Array({ maxLength: 16 }).map((b) => Buffer.from(b)),
  fc.uint8Array({ maxLength: 16 }),
  fc.int32Array({ maxLength: 4 }),
  fc.constantFrom(/a+b/g, /^x$/imsu, /(?:)/),
);

const key = anyString.filter((k) => wellFormed(k) !== '__proto__');

const { value } = fc.letrec((tie) => ({
  value: fc.oneof({ depthSize: 'small', withCrossShrink: true }, leaf, tie('array'), tie('object'), tie('map'), tie('set')),
  array: fc.array(tie('value'), { maxLength: 4 }),
  // distinct keys after U+FFFD replacement: two keys that collide would merge, a documented loss
  object: fc.uniqueArray(fc.tuple(key, tie('value')), { maxLength: 4, selector: ([k]) => wellFormed(k) }).map((e) => Object.fromEntries(e)),
  map: fc.uniqueArray(fc.tuple(fc.oneof(fc.integer(), fc.string({ maxLength: 6 })), tie('value')), { maxLength: 3, selector: ([k]) => k }).map((e) => new Map(e)),
  set: fc.uniqueArray(fc.oneof(fc.integer(), fc.string({ maxLength: 6 })), { maxLength: 3 }).map((e) => new Set(e)),
}));

/** A link as the bus sees one, capturing the frame; `claims` decides whether it offers memory. */
function captureLink(claims: boolean): { link: Link; frames: Buffer[] } {
  const frames: Buffer[] = [];
  let region = Buffer.alloc(0);
  const link = {
    scheme: 'fake',
    remote: 'fake',
    capabilities: { reliable: true, ordered: true, maxFrame: 1 << 20, crossHost: false },
    ...(claims
      ? {
          claim: (n: number) => (region = Buffer.alloc(n)),
          commit: (n: number) => frames.push(Buffer.from(region.subarray(0, n))) > 0,
        }
      : {}),
    send: (f: Uint8Array) => frames.push(Buffer.from(f)) > 0,
  } as unknown as Link;
  return { link, frames };
}

describe('hostile: garbage generator round trip (B.3 values through the bus encoder and decoder)', function () {
  it('every B.3 value, sent as a tell argument (with and without a claim), reads back equal (10,000 cases)', function () {
    const addresses = new AddressBytes();
    fc.assert(
      fc.property(value, fc.boolean(), (v, claims) => {
        const { link, frames } = captureLink(claims);
        sendEnvelope(link, { type: MsgType.tell, id: 0, to: 'main/echo', from: 'peer', payload: ['m', [v]], hops: 0, refused: undefined }, { maxDepth: 100, peerMaxFrame: Infinity }, addresses);
        expect(frames).to.have.length(1);
        const env = new EnvelopeReader(refs, 100).read(frames[0]!, 0, frames[0]!.length);
        expect(env.refused).to.equal(undefined);
        expect(env.payload).to.deep.equal(['m', [expected(v)]]);
        expect(decode(encode(v))).to.deep.equal(expected(v));
      }),
      runs(),
    );
  });
});
