/**
 * wire-rules.test.ts: rules of PROTOCOL.md Part B that a peer in another language can only
 * learn from the document, checked with a hand-made peer (raw frames over a real Unix socket
 * Link) against a system hosting `serve`'s built-in actors: the `sub` payload's ranges and an
 * out-of-range `credit` (B.5, B.6: bye ERR_BAD_MESSAGE), channel input beyond its credit
 * (ERR_CREDIT), the hello (B.4: ERR_VERSION, ERR_DUPLICATE_NODE, maxFrame 0 ERR_BAD_HELLO,
 * ERR_HANDSHAKE_TIMEOUT), a `bye` is not answered with a `bye` (B.9), and numbers
 * and dates as they come back (B.3: a whole float is an integer, -0.0 is 0, a timestamp keeps
 * milliseconds). After each case the system still answers another connection.
 */
import { expect } from 'chai';
import { join } from 'node:path';
import { NEVER } from 'rxjs';
import { ActorSystem, connect, defineActor, type Link } from '../../src/index.js';
import { decodeEnvelope, encodeEnvelope, MsgType, type Envelope } from '../../src/bus/envelope.js';
import { echo, ticker } from '../../src/cli/serve/builtin-actors.js';
import { makeTempDir } from '../setup/tmp.js';
import { withTimeout } from '../setup/timing.js';

const NODE = 'raw-peer';

interface Raw {
  link: Link;
  /** Every frame received, raw and decoded. */
  got: { frame: Buffer; env: Envelope }[];
  closed: Promise<string>;
  send(e: Omit<Envelope, 'hops'>): void;
  sendBytes(b: Uint8Array): void;
  /** Resolves with the first message received (after `after`) of `type`. */
  next(type: MsgType, what: string): Promise<{ frame: Buffer; env: Envelope }>;
}

async function rawPeer(address: string, hello: Record<string, unknown> = { versions: [1], node: NODE, name: NODE }): Promise<Raw> {
  const link = await connect(address);
  const got: Raw['got'] = [];
  const waiters = new Set<() => void>();
  link.onFrame((f) => {
    const frame = Buffer.from(f);
    got.push({ frame, env: decodeEnvelope(frame, { decodeRef: (n, a) => `${n}/${a}` }) });
    for (const w of waiters) w();
  });
  const raw: Raw = {
    link,
    got,
    closed: link.closed.then((r) => r.kind),
    send: (e) => void link.send(encodeEnvelope({ ...e, hops: 0 })),
    sendBytes: (b) => void link.send(b),
    next(type, what) {
      const seen = got.length;
      return withTimeout(
        new Promise((resolve) => {
          const check = (): void => {
            const hit = got.slice(seen).find((m) => m.env.type === type);
            if (hit) {
              waiters.delete(check);
              resolve(hit);
            }
          };
          waiters.add(check);
        }),
        10_000,
        what,
      );
    },
  };
  const theirs = raw.next(MsgType.hello, "the system's hello");
  raw.send({ type: MsgType.hello, id: 0, to: '', from: String(hello.node ?? NODE), payload: hello });
  await theirs;
  return raw;
}

/** An ask to the echo actor whose one argument is the raw MessagePack `arg`. */
function askEchoWith(server: string, arg: number[]): Buffer {
  const mark = 'XX-mark-XX';
  const base = Buffer.from(encodeEnvelope({ type: MsgType.ask, id: 1, to: `${server}/echo`, from: NODE, payload: ['echo', [mark]], hops: 0 }));
  const m = Buffer.from([0xa0 | mark.length, ...Buffer.from(mark)]);
  const at = base.indexOf(m);
  return Buffer.concat([base.subarray(0, at), Buffer.from(arg), base.subarray(at + m.length)]);
}

async function expectBye(raw: Raw, code: string, message: RegExp): Promise<void> {
  const bye = await raw.next(MsgType.bye, `a bye ${code}`);
  expect((bye.env.payload as { code: string }).code).to.equal(code);
  expect((bye.env.payload as { message: string }).message).to.match(message);
  expect(await withTimeout(raw.closed, 10_000, 'the link closes')).to.equal('peer-gone');
}

describe('bus wire rules (a hand-made peer)', function () {
  this.timeout(60_000);
  let system: ActorSystem;
  let address: string;
  const reported: string[] = [];

  before(async function () {
    system = await ActorSystem.start({ name: 'rules', onError: (err) => reported.push(String(err)) });
    system.local(echo, { name: 'echo' });
    system.local(ticker, { name: 'ticker' });
    // a channel whose handler never reads its input: no input credit comes back
    system.local(defineActor({ init: () => ({}), channels: { ignore: () => NEVER } }), { name: 'sink' });
    address = (await system.listen(`unix://${join(makeTempDir(), 's.sock')}`)).address;
  });

  afterEach(async function () {
    // whatever a case did, another connection is served
    const raw = await rawPeer(address, { versions: [1], node: 'check', name: 'check' });
    raw.send({ type: MsgType.ask, id: 1, to: 'rules/echo', from: 'check', payload: ['echo', ['ok']] });
    expect((await raw.next(MsgType.reply, 'a reply on another connection')).env.payload).to.equal('ok');
    await raw.link.close();
  });

  after(async function () {
    await system.stop();
  });

  const sub = { name: 'ticks', args: [1_000_000, 1000], credit: 1, channel: false, overflow: 'error', bufferSize: 1024 };
  const badSubs: Record<string, Record<string, unknown>> = {
    'credit 0': { ...sub, credit: 0 },
    'credit 2^31': { ...sub, credit: 2 ** 31 },
    'credit 1.5': { ...sub, credit: 1.5 },
    'bufferSize -1': { ...sub, bufferSize: -1 },
    'bufferSize 2^31': { ...sub, bufferSize: 2 ** 31 },
    'overflow "drop"': { ...sub, overflow: 'drop' },
    'no overflow key': { name: sub.name, args: sub.args, credit: 1, channel: false, bufferSize: 1024 },
    'no channel key': { name: sub.name, args: sub.args, credit: 1, overflow: 'error', bufferSize: 1024 },
  };
  for (const [what, payload] of Object.entries(badSubs)) {
    it(`a sub with ${what} closes that connection with bye ERR_BAD_MESSAGE (B.5)`, async function () {
      const raw = await rawPeer(address);
      raw.send({ type: MsgType.sub, id: 1, to: 'rules/ticker', from: NODE, payload });
      await expectBye(raw, 'ERR_BAD_MESSAGE', /sub payload must be/);
    });
  }

  for (const n of [0, -1, 1.5, 2 ** 31]) {
    it(`a credit of ${n} for an open stream closes that connection with bye ERR_BAD_MESSAGE (B.6)`, async function () {
      const raw = await rawPeer(address);
      const first = raw.next(MsgType.next, 'the first value, on the credit of the sub');
      raw.send({ type: MsgType.sub, id: 1, to: 'rules/ticker', from: NODE, payload: { ...sub, args: [1_000_000, 1] } });
      expect((await first).env.payload).to.equal(0);
      raw.send({ type: MsgType.credit, id: 1, to: 'rules/ticker', from: NODE, payload: n });
      await expectBye(raw, 'ERR_BAD_MESSAGE', /credit must be an integer 1 \.\. 2147483647/);
    });
  }

  it('a hello with no version in common gets bye ERR_VERSION (B.4)', async function () {
    const link = await connect(address);
    const got: Envelope[] = [];
    link.onFrame((f) => got.push(decodeEnvelope(f, { decodeRef: (n, a) => `${n}/${a}` })));
    link.send(encodeEnvelope({ type: MsgType.hello, id: 0, to: '', from: NODE, payload: { versions: [99], node: NODE, name: NODE }, hops: 0 }));
    expect((await withTimeout(link.closed, 10_000, 'closed')).kind).to.equal('peer-gone');
    const bye = got.find((e) => e.type === MsgType.bye);
    expect((bye?.payload as { code?: string } | undefined)?.code).to.equal('ERR_VERSION');
  });

  it("a hello claiming the receiver's own node id gets bye ERR_DUPLICATE_NODE (B.4)", async function () {
    const link = await connect(address);
    const got: Envelope[] = [];
    link.onFrame((f) => got.push(decodeEnvelope(f, { decodeRef: (n, a) => `${n}/${a}` })));
    link.send(encodeEnvelope({ type: MsgType.hello, id: 0, to: '', from: 'rules', payload: { versions: [1], node: 'rules', name: 'x' }, hops: 0 }));
    expect((await withTimeout(link.closed, 10_000, 'closed')).kind).to.equal('peer-gone');
    const bye = got.find((e) => e.type === MsgType.bye);
    expect((bye?.payload as { code?: string } | undefined)?.code).to.equal('ERR_DUPLICATE_NODE');
  });

  it('a hello with maxFrame 0 gets bye ERR_BAD_HELLO (B.4)', async function () {
    const link = await connect(address);
    const got: Envelope[] = [];
    link.onFrame((f) => got.push(decodeEnvelope(f, { decodeRef: (n, a) => `${n}/${a}` })));
    link.send(encodeEnvelope({ type: MsgType.hello, id: 0, to: '', from: NODE, payload: { versions: [1], node: NODE, name: NODE, maxFrame: 0 }, hops: 0 }));
    expect((await withTimeout(link.closed, 10_000, 'closed')).kind).to.equal('peer-gone');
    const bye = got.find((e) => e.type === MsgType.bye)?.payload as { code?: string; message?: string } | undefined;
    expect(bye?.code).to.equal('ERR_BAD_HELLO');
    expect(bye?.message).to.match(/"maxFrame" must be an integer of at least 4096, got 0/);
  });

  it('no hello within the handshake timeout gets bye ERR_HANDSHAKE_TIMEOUT (B.4)', async function () {
    const quick = await ActorSystem.start({ name: 'quick', handshakeTimeoutMs: 300, onError: () => {} });
    try {
      const at = (await quick.listen(`unix://${join(makeTempDir(), 'q.sock')}`)).address;
      const link = await connect(at);
      const got: Envelope[] = [];
      link.onFrame((f) => got.push(decodeEnvelope(f, { decodeRef: (n, a) => `${n}/${a}` })));
      expect((await withTimeout(link.closed, 10_000, 'closed')).kind).to.equal('peer-gone');
      expect(got.map((e) => e.type)).to.deep.equal([MsgType.hello, MsgType.bye]);
      expect((got[1]!.payload as { code?: string }).code).to.equal('ERR_HANDSHAKE_TIMEOUT');
    } finally {
      await quick.stop();
    }
  });

  // Our consumer side returns credit as it delivers, so a raw producer is always within what
  // we granted; a channel's input is credited only as the handler takes it, so it can run out.
  it('channel input sent beyond the input credit gets bye ERR_CREDIT (B.5, B.6)', async function () {
    const raw = await rawPeer(address);
    const credit = raw.next(MsgType.credit, 'the input credit');
    raw.send({ type: MsgType.sub, id: 1, to: 'rules/sink', from: NODE, payload: { ...sub, name: 'ignore', args: [], credit: 2, channel: true } });
    expect((await credit).env.payload, 'the initial grant equals the sub credit').to.equal(2);
    for (let i = 0; i < 3; i++) raw.send({ type: MsgType.next, id: 1, to: 'rules/sink', from: NODE, payload: i });
    await expectBye(raw, 'ERR_CREDIT', /channel input sent beyond the credit granted/);
  });

  it('a bye is not answered with a bye: the receiver closes its end (B.9)', async function () {
    const raw = await rawPeer(address);
    const before = raw.got.length;
    raw.send({ type: MsgType.bye, id: 0, to: '', from: NODE, payload: null });
    expect(await withTimeout(raw.closed, 10_000, 'the system closes its end')).to.equal('peer-gone');
    expect(raw.got.slice(before).map((m) => m.env.type)).to.not.include(MsgType.bye);
  });

  it('numbers and dates come back as B.3 says: 2.0 as the integer 2, -0.0 as 0, a timestamp cut to milliseconds', async function () {
    const raw = await rawPeer(address);
    const cases: Array<[string, number[], number[]]> = [
      ['float 64 2.0', [0xcb, 0x40, 0x00, 0, 0, 0, 0, 0, 0], [0x02]],
      ['float 64 -0.0', [0xcb, 0x80, 0, 0, 0, 0, 0, 0, 0], [0x00]],
      ['float 64 2.5', [0xcb, 0x40, 0x04, 0, 0, 0, 0, 0, 0], [0xcb, 0x40, 0x04, 0, 0, 0, 0, 0, 0]],
    ];
    for (const [what, arg, want] of cases) {
      const reply = raw.next(MsgType.reply, what);
      raw.sendBytes(askEchoWith('rules', arg));
      const { frame } = await reply;
      expect([...frame.subarray(frame.length - want.length)], what).to.deep.equal(want);
    }
    // timestamp 96: nanoseconds 123456789 of second 1,700,000,000 -> timestamp 64 with 123000000
    const ts96 = Buffer.alloc(15);
    ts96.set([0xc7, 12, 0xff]);
    ts96.writeUInt32BE(123_456_789, 3);
    ts96.writeBigInt64BE(1_700_000_000n, 7);
    const reply = raw.next(MsgType.reply, 'the date');
    raw.sendBytes(askEchoWith('rules', [...ts96]));
    const { frame, env } = await reply;
    expect((env.payload as Date).getTime()).to.equal(1_700_000_000_123);
    const tail = frame.subarray(frame.length - 10);
    expect([...tail.subarray(0, 2)], 'timestamp 64').to.deep.equal([0xd7, 0xff]);
    const u = tail.readBigUInt64BE(2);
    expect(Number(u >> 34n), 'nanoseconds').to.equal(123_000_000);
    expect(Number(u & (2n ** 34n - 1n)), 'seconds').to.equal(1_700_000_000);
    await raw.link.close();
  });
});
