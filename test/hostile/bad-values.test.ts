/**
 * bad-values.test.ts: issue 14 defect 7. What the bus does with values that cannot cross
 * exactly, each either refused at the sender with a typed error naming where the value is
 * (BadValueError, ERR_BAD_VALUE: functions, Symbols, objects of more than 65,535 keys) or
 * changed as PROTOCOL.md B.3 documents (-0 as 0, lone surrogates as U+FFFD, the nesting
 * an argument or an answer may use). Through the codec and through two real systems on a unix
 * socket: a refused value fails that call alone, and the connection carries on.
 */
import { expect } from 'chai';
import { join } from 'node:path';
import { decode, DEFAULT_MAX_DEPTH, encode } from '../../src/bus/codec.js';
import { ActorSystem, BadValueError, defineActor, type ActorRef, type RemoteSystem } from '../../src/index.js';
import { rejection, thrown } from '../setup/outcomes.js';
import { makeTempDir } from '../setup/tmp.js';

const echo = defineActor({
  init: () => ({}),
  receive: {
    echo: (_s, x: unknown) => x,
    withCallback: () => ({ done: true, then: undefined, onDone: () => 1 }),
    nest: (_s, n: number) => {
      let v: unknown = 0;
      for (let i = 0; i < n; i++) v = [v];
      return v;
    },
  },
});

function nested(n: number): unknown {
  let v: unknown = 0;
  for (let i = 0; i < n; i++) v = [v];
  return v;
}

function wide(keys: number): Record<string, number> {
  const o: Record<string, number> = {};
  for (let i = 0; i < keys; i++) o[`k${i}`] = i;
  return o;
}

function expectBadValue(err: unknown, path: string): void {
  expect(err, String(err)).to.be.instanceOf(BadValueError);
  expect((err as BadValueError).code).to.equal('ERR_BAD_VALUE');
  expect((err as BadValueError).path).to.equal(path);
  expect((err as BadValueError).message).to.include(path);
}

describe('hostile: values that cannot cross (defect 7), in the codec', function () {
  it('a function, anywhere in a value, is a BadValueError naming its path (it used to arrive as undefined)', function () {
    const f = (): number => 1;
    expectBadValue(thrown(() => encode(f)), 'value');
    expectBadValue(thrown(() => encode([1, [2, f]])), 'value[1][1]');
    expectBadValue(thrown(() => encode({ a: { 'b c': f } })), 'value.a["b c"]');
    expectBadValue(thrown(() => encode(new Map([['k', f]]))), 'value.get("k")');
    expectBadValue(thrown(() => encode(new Set([1, f]))), 'value.values()[1]');
  });

  it('a Symbol is a BadValueError naming its path (it used to be a plain Error from msgpackr)', function () {
    expectBadValue(thrown(() => encode(Symbol('s'))), 'value');
    expectBadValue(thrown(() => encode({ list: [Symbol.iterator] })), 'value.list[0]');
  });

  it('an object of 65,536 keys is a BadValueError; 65,535 keys cross whole', function () {
    expectBadValue(thrown(() => encode({ inner: wide(65_536) })), 'value.inner');
    expect(Object.keys(decode(encode(wide(65_535))) as object)).to.have.length(65_535);
  });

  it('documented (B.3): -0 arrives as 0, a lone surrogate as U+FFFD, without an error', function () {
    expect(Object.is(decode(encode(-0)), 0)).to.equal(true);
    expect(Object.is((decode(encode([-0])) as number[])[0], 0)).to.equal(true);
    expect(decode(encode('a\ud800b'))).to.equal('a\ufffdb');
    expect(decode(encode({ '\udc00': 1 }))).to.deep.equal({ '\ufffd': 1 });
  });
});

describe('hostile: values that cannot cross (defect 7), between two systems', function () {
  let server: ActorSystem;
  let client: ActorSystem;
  let remote: RemoteSystem;
  let ref: ActorRef<typeof echo>;

  before(async function () {
    server = await ActorSystem.start({ name: 'bv-server' });
    server.local(echo, { name: 'echo' });
    const listener = await server.listen(`unix://${join(makeTempDir(), 's.sock')}`);
    client = await ActorSystem.start({ name: 'bv-client' });
    remote = await client.connect(listener.address);
    ref = remote.ref<typeof echo>('echo');
  });

  after(async function () {
    await client.stop();
    await server.stop();
  });

  it('an ask or tell with a function or Symbol argument fails alone with a BadValueError; the next ask is answered', async function () {
    expectBadValue(await rejection(ref.ask('echo', { cb: () => 1 })), 'value[1][0].cb');
    expectBadValue(thrown(() => ref.tell('echo', [Symbol('x')])), 'value[1][0][0]');
    expect(await ref.ask('echo', 'still here')).to.equal('still here');
  });

  it('a reply holding a function answers the asker with an error ERR_BAD_VALUE naming the path (it used to arrive without it)', async function () {
    const err = await rejection(ref.ask('withCallback'));
    expect((err as { code?: string }).code).to.equal('ERR_BAD_VALUE');
    expect(err.message).to.include('value.onDone');
    expect(await ref.ask('echo', 'still here')).to.equal('still here');
  });

  it(`nesting as documented: with maxDepth ${DEFAULT_MAX_DEPTH}, an argument nests 97 levels and an answer 99; one more is a RangeError at the sender`, async function () {
    expect(await ref.ask('echo', nested(97))).to.deep.equal(nested(97));
    expect(await rejection(ref.ask('echo', nested(98)))).to.be.instanceOf(RangeError);
    expect(await ref.ask('nest', 99)).to.deep.equal(nested(99));
    const tooDeep = await rejection(ref.ask('nest', 100));
    expect((tooDeep as { remoteName?: string }).remoteName).to.equal('RangeError');
    expect(await ref.ask('echo', 'still here')).to.equal('still here');
  });
});
