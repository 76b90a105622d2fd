/**
 * bus-connection.test.ts: a real bus connection (a system listening on a unix socket) fed by
 * a raw peer (raw-bus-peer.ts) with what no honest node sends: hellos of other versions or
 * shapes, replies and errors to asks never made, next/complete for streams never opened,
 * credit and cancel for unknown streams, credit that overflows 2^31-1 or is no count at all,
 * channel input beyond the credit granted,
 * unknown message types, garbage frames. Each generated case runs on a fresh connection
 * while a well-behaved client keeps asking over its own.
 *
 * Outcome every time, as PROTOCOL.md B.4-B.9 say: the message is ignored (a ping sent after
 * it is still answered) or the connection ends with `bye` and the documented code, never
 * silence, an EOF without a bye, or a hang; the well-behaved client is answered throughout;
 * the server's fds are flat afterwards.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { interval, type Observable } from 'rxjs';
import { MsgType, PROTOCOL_VERSIONS, type Envelope } from '../../src/bus/envelope.js';
import { ActorSystem, defineActor, ProtocolError, type ActorRef, type RemoteSystem } from '../../src/index.js';
import { makeTempDir } from '../setup/tmp.js';
import { RawBusPeer } from './raw-bus-peer.js';
import { runs } from './runs.js';

const SERVER = 'srv';
const MAX_CREDIT = 2 ** 31 - 1;

const echo = defineActor({
  init: () => ({}),
  receive: { echo: (_s, x: unknown) => x },
  streams: { ticks: (_s, ms: number) => interval(ms) },
  channels: { pass: (_s, input: Observable<unknown>) => input },
});

function env(type: number, id: number, to: string, from: string, payload: unknown): Envelope {
  return { type: type as MsgType, id, to, from, payload, hops: 0, refused: undefined };
}

/** One hostile message, and what B.4-B.9 make of it: 'open' (ignored) or the bye code. */
interface Move {
  readonly make: (from: string) => Envelope | Uint8Array;
  readonly expect: string;
  readonly what: string;
}

const unknownId = fc.oneof(fc.integer({ min: 1, max: 1000 }), fc.constant(Number.MAX_SAFE_INTEGER));
const validCredit = fc.oneof(fc.constant(1), fc.constant(MAX_CREDIT), fc.integer({ min: 1, max: MAX_CREDIT }));
const badCredit = fc.constantFrom<unknown>(0, -1, MAX_CREDIT + 1, 2 ** 32, 1.5, 'x', null, [], Number.MAX_SAFE_INTEGER);

const move: fc.Arbitrary<Move> = fc.oneof(
  // answers to requests this server never made: ignored (B.5, B.6)
  fc.tuple(fc.constantFrom(MsgType.reply, MsgType.error, MsgType.next, MsgType.complete), unknownId).map(([t, id]) => ({
    make: (from: string) => env(t, id, SERVER, from, t === MsgType.error ? { name: 'E', message: 'm' } : 1),
    expect: 'open',
    what: `type ${t} for id ${id}`,
  })),
  // credit and cancel for a stream never opened: ignored (B.6), if the credit is a count at all
  fc.tuple(unknownId, validCredit).map(([id, n]) => ({ make: (from: string) => env(MsgType.credit, id, `${SERVER}/echo`, from, n), expect: 'open', what: `credit ${n} for unknown ${id}` })),
  unknownId.map((id) => ({ make: (from: string) => env(MsgType.cancel, id, `${SERVER}/echo`, from, null), expect: 'open', what: `cancel unknown ${id}` })),
  fc.tuple(unknownId, badCredit).map(([id, n]) => ({
    make: (from: string) => env(MsgType.credit, id, `${SERVER}/echo`, from, n),
    expect: 'bye ERR_BAD_MESSAGE',
    what: `credit ${JSON.stringify(n)}`,
  })),
  // unknown message types, a second hello, a ping addressed to an actor
  fc.integer({ min: 13, max: 127 }).map((t) => ({ make: (from: string) => env(t, 1, `${SERVER}/echo`, from, null), expect: 'bye ERR_BAD_MESSAGE', what: `type ${t}` })),
  fc.constant({ make: (from: string) => env(MsgType.hello, 0, '', from, { versions: [1], node: from }), expect: 'bye ERR_BAD_MESSAGE', what: 'second hello' }),
  // a reply to an actor, an ask with id 0, a tell with an id (B.1, B.2)
  fc.constant({ make: (from: string) => env(MsgType.reply, 3, `${SERVER}/echo`, from, 1), expect: 'bye ERR_BAD_MESSAGE', what: 'reply to an actor' }),
  fc.constant({ make: (from: string) => env(MsgType.ask, 0, `${SERVER}/echo`, from, ['echo', [1]]), expect: 'bye ERR_BAD_MESSAGE', what: 'ask id 0' }),
  // frames that are not envelopes
  fc.uint8Array({ minLength: 1, maxLength: 24 }).filter((b) => b[0]! < 0x95 || b[0]! > 0x96).map((b) => ({ make: () => b, expect: 'bye ERR_BAD_MESSAGE', what: `bytes ${Buffer.from(b).toString('hex')}` })),
);

/** Hellos that break B.4, and the code each gets. */
const HELLOS: [string, (p: RawBusPeer) => void, string][] = [
  // one past the newest version this code speaks
  [`versions [${Math.max(...PROTOCOL_VERSIONS) + 1}]`, (p) => p.hello({ versions: [Math.max(...PROTOCOL_VERSIONS) + 1] }), 'bye ERR_VERSION'],
  ['versions []', (p) => p.hello({ versions: [] }), 'bye ERR_VERSION'],
  ['versions ["1"]', (p) => p.hello({ versions: ['1'] }), 'bye ERR_VERSION'],
  ['no versions', (p) => p.hello({ versions: undefined }), 'bye ERR_VERSION'],
  ['node with a slash', (p) => p.hello({ node: 'a/b' }), 'bye ERR_BAD_HELLO'],
  ['node other than from', (p) => p.hello({ node: 'someone-else' }), 'bye ERR_BAD_HELLO'],
  ['maxFrame 0', (p) => p.hello({ maxFrame: 0 }), 'bye ERR_BAD_HELLO'],
  ['the server\'s own node id', (p) => p.send(env(MsgType.hello, 0, '', SERVER, { versions: [1], node: SERVER })), 'bye ERR_DUPLICATE_NODE'],
  ['an ask before hello', (p) => p.send(env(MsgType.ask, 1, `${SERVER}/echo`, p.node, ['echo', [1]])), 'bye ERR_BAD_MESSAGE'],
];

function fds(): number {
  return readdirSync('/proc/self/fd').length;
}

describe('hostile: a bus connection fed by a raw peer (unix socket)', function () {
  this.timeout(120_000);
  let server: ActorSystem;
  let client: ActorSystem;
  let remote: RemoteSystem;
  let ref: ActorRef<typeof echo>;
  let path: string;
  let asked = 0;
  let stopAsking = false;
  let asking: Promise<void>;
  let n = 0;
  /** What the server reported about the connections it refused (it logs them otherwise). */
  const reported: unknown[] = [];

  before(async function () {
    server = await ActorSystem.start({ name: SERVER, onError: (err) => void reported.push(err) });
    server.local(echo, { name: 'echo' });
    path = join(makeTempDir(), 'bus.sock');
    await server.listen(`unix://${path}`);
    client = await ActorSystem.start({ name: 'good-client' });
    remote = await client.connect(`unix://${path}`);
    ref = remote.ref<typeof echo>('echo');
    // a well-behaved client asking all along: every ask must be answered, in order
    asking = (async () => {
      while (!stopAsking) {
        expect(await ref.ask('echo', asked)).to.equal(asked);
        asked++;
        await new Promise((r) => setTimeout(r, 2));
      }
    })();
  });

  after(async function () {
    stopAsking = true;
    await asking;
    await client.stop();
    await server.stop();
  });

  async function peer(): Promise<RawBusPeer> {
    const p = await RawBusPeer.connect(path, `raw-${++n}`);
    const hello = await p.next(5000);
    expect(hello !== 'eof' && hello !== 'timeout' && hello.type === MsgType.hello, 'the server says hello first').to.equal(true);
    return p;
  }

  for (const [what, say, code] of HELLOS) {
    it(`a hello with ${what}: ${code}, then the socket closes`, async function () {
      const p = await peer();
      say(p);
      const from = reported.length;
      expect(await p.outcome(5000)).to.equal(code);
      expect(await p.closedWithin(5000), 'closed after the bye').to.equal(true);
      const mine = reported.slice(from);
      expect(mine, 'what the server reported').to.have.length(1);
      expect(mine[0]).to.be.instanceOf(ProtocolError);
      expect(`bye ${(mine[0] as ProtocolError).code}`).to.equal(code);
    });
  }

  it('a stream whose credit is pushed past 2^31-1 is held at 2^31-1, not an error; cancel ends it (B.6)', async function () {
    const p = await peer();
    p.hello();
    p.send(env(MsgType.sub, 7, `${SERVER}/echo`, p.node, { name: 'ticks', args: [1], credit: MAX_CREDIT, channel: false, overflow: 'error', bufferSize: 0 }));
    for (let i = 0; i < 3; i++) p.send(env(MsgType.credit, 7, `${SERVER}/echo`, p.node, MAX_CREDIT));
    let nexts = 0;
    for (const deadline = Date.now() + 5000; nexts < 5 && Date.now() < deadline; ) {
      const m = await p.next(1000);
      if (m !== 'eof' && m !== 'timeout' && m.type === MsgType.next && m.id === 7) nexts++;
      expect(m !== 'eof' && !(m !== 'timeout' && m.type === MsgType.bye), 'the connection ended').to.equal(true);
    }
    expect(nexts).to.equal(5);
    p.send(env(MsgType.cancel, 7, `${SERVER}/echo`, p.node, null));
    p.send(env(MsgType.cancel, 7, `${SERVER}/echo`, p.node, null)); // a second cancel: for a stream that ended, ignored
    expect(await p.outcome(5000)).to.equal('open');
    p.close();
  });

  it('channel input beyond the credit the server granted: bye ERR_CREDIT (B.6, roles swapped)', async function () {
    const p = await peer();
    p.hello();
    p.send(env(MsgType.sub, 9, `${SERVER}/echo`, p.node, { name: 'pass', args: [], credit: 4, channel: true, overflow: 'error', bufferSize: 0 }));
    // the server grants input credit equal to the sub's: 4. Ten inputs without waiting for more.
    for (let i = 0; i < 10; i++) p.send(env(MsgType.next, 9, `${SERVER}/echo`, p.node, i));
    expect(await p.outcome(5000)).to.equal('bye ERR_CREDIT');
    expect(await p.closedWithin(5000)).to.equal(true);
  });

  it('300 generated sequences of hostile messages, each on a fresh connection: ignored or the documented bye, never silence; the client is answered; fds flat', async function () {
    const before = fds();
    const askedBefore = asked;
    await fc.assert(
      fc.asyncProperty(fc.array(move, { minLength: 1, maxLength: 4 }), async (moves) => {
        const p = await peer();
        try {
          p.hello();
          const first = moves.find((m) => m.expect !== 'open');
          for (const m of moves) {
            const out = m.make(p.node);
            if (out instanceof Uint8Array) p.sendBytes(out);
            else p.send(out);
          }
          const got = await p.outcome(5000);
          expect(got, moves.map((m) => m.what).join(', ')).to.equal(first?.expect ?? 'open');
          if (first) expect(await p.closedWithin(5000), 'closed after the bye').to.equal(true);
        } finally {
          p.close();
        }
      }),
      runs(300),
    );
    await new Promise((r) => setTimeout(r, 200));
    expect(asked, 'asks answered meanwhile').to.be.above(askedBefore);
    expect(fds() - before, 'fds grown').to.be.below(10);
    expect(await ref.ask('echo', 'after')).to.equal('after');
    for (const e of reported) expect(e, String(e)).to.be.instanceOf(ProtocolError);
  });
});
