/**
 * nats-failover.test.ts: a three-server cluster (test/fixtures/nats-server.ts,
 * startNatsCluster: routes between every pair, real nats-server processes on free loopback
 * ports) where the server one side's client uses is SIGKILLed mid-stream. The client reaches
 * another server of the cluster (it learnt their URLs from its server's INFO) and the links
 * on it resume: frames keep their order, every frame is either received or counted lost
 * (never silently missing), what was sent while disconnected is held and delivered after,
 * and at the bus level a stream keeps flowing and an ask after the change is answered.
 * With no server to reach, the hold is bounded (BrokerQueueFullError) and an ask fails with
 * a typed error after the link's `failover` wait, long before its own 30 s timeout.
 */
import { expect } from 'chai';
import { interval, map, type Subscription } from 'rxjs';
import { ActorSystem, AskTimeoutError, BrokerQueueFullError, connect, defineActor, PeerGoneError, TransportError, type Link } from '../../src/index.js';
import { NatsLink } from '../../src/transports/nats/nats-link.js';
import { startNatsCluster, type NatsCluster } from '../fixtures/nats-server.js';
import { withTimeout } from '../setup/timing.js';
import { listenAt } from './nats-helpers.js';

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

async function until(cond: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`${what}: not within ${ms} ms`);
    await sleep(5);
  }
}

function asNatsLink(link: Link): NatsLink {
  expect(link).to.be.instanceOf(NatsLink);
  return link as NatsLink;
}

const counter = defineActor({
  init: () => ({}),
  receive: { echo: (_s, x: unknown) => x },
  streams: { count: (_s, ms: number) => interval(ms).pipe(map((i) => i)) },
});

// Generous silence timeouts: on a loaded machine a reconnect can take a few hundred ms, and
// the far side, whose own client is fine, must not give up on us meanwhile.
const Q = '?timeout=5000&failover=5000';

/**
 * What a test opened, closed after it even when it failed: a listener or link left open keeps
 * its connection retrying a dead cluster, and the test process alive.
 */
const opened: { close(): Promise<void> }[] = [];
async function closeOpened(): Promise<void> {
  await Promise.allSettled(opened.splice(0).map((x) => x.close()));
}

describe('nats: a cluster whose server under one client is killed mid-stream', function () {
  this.timeout(60_000);
  let cluster: NatsCluster;

  beforeEach(async function () {
    cluster = await startNatsCluster(3);
  });
  afterEach(async function () {
    await closeOpened();
    await cluster?.stop();
  });

  for (const side of ['client', 'listener'] as const) {
    it(`resumes the link when the ${side}'s server dies: frames in order, each received or counted lost, those sent while down held and delivered`, async function () {
      const [s0, s1] = cluster.servers;
      const { listener, accepted } = await listenAt(s1!, 'fo', Q);
      const name = listener.address.pathname.split('/').pop()!;
      opened.push(listener);
      const link = asNatsLink(await connect(`nats://127.0.0.1:${s0!.port}/fo/${name}${Q}`));
      opened.push(link);
      const far = asNatsLink(await accepted());
      opened.push(far);
      // The side whose server is killed sends; the other receives.
      const [sender, receiver, doomed] = side === 'client' ? [link, far, s0!] : [far, link, s1!];

      const got: number[] = [];
      receiver.onFrame((f) => void got.push(Buffer.from(f.buffer, f.byteOffset, f.byteLength).readUInt32BE(0)));
      let seq = 0;
      const sentWhileDown: number[] = [];
      const send = (): void => {
        const b = Buffer.alloc(64);
        b.writeUInt32BE(seq, 0);
        if (!sender.brokerConnected) sentWhileDown.push(seq);
        sender.send(b);
        seq++;
      };
      const timer = setInterval(() => {
        for (let i = 0; i < 5; i++) send();
      }, 2);
      try {
        await until(() => got.length >= 500, 15_000, '500 frames before the kill');
        await doomed.kill();
        await until(() => sender.failovers === 1, 15_000, `the ${side} reaching another server`);
        const after = got.length;
        await until(() => got.length >= after + 500, 15_000, '500 frames after the failover');
      } finally {
        clearInterval(timer);
      }
      expect(receiver.failovers, 'the other side saw no change').to.equal(0);
      // Every frame sent is now either delivered or counted lost by the receiver.
      await until(() => receiver.stats!.received + receiver.stats!.lost === seq, 15_000, `received + lost = ${seq} sent`);
      expect(sender.stats!.sent).to.equal(seq);
      expect(got.length).to.equal(receiver.stats!.received);
      for (let i = 1; i < got.length; i++) {
        if (got[i]! <= got[i - 1]!) expect.fail(`frame ${got[i]} after ${got[i - 1]}: out of order`);
      }
      const missing = seq - got.length;
      expect(receiver.stats!.lost, 'frames missing at the receiver are exactly those it counted lost').to.equal(missing);
      const received = new Set(got);
      expect(sentWhileDown.filter((x) => !received.has(x)), 'frames sent while reconnecting were held, then delivered').to.deep.equal([]);
      // And the link still works both ways, through the new server.
      const echoed = new Promise<string>((resolve) => sender.onFrame((f) => resolve(Buffer.from(f).toString())));
      receiver.onFrame((f) => receiver.send(f));
      sender.send(Buffer.from('after'));
      expect(await withTimeout(echoed, 5_000, 'an echo after the failover')).to.equal('after');
      await link.close();
      await far.closed;
      await listener.close();
    });
  }

  it('keeps a bus stream flowing in order through the change, its gap counted as lost frames; asks in flight settle, and one after it is answered', async function () {
    const [s0, s1] = cluster.servers;
    const b = await ActorSystem.start({ name: 'fo-b' });
    const a = await ActorSystem.start({ name: 'fo-a' });
    let sub: Subscription | undefined;
    try {
      b.local(counter, { name: 'counter' });
      const l = await b.listen(`${s1!.url}/bus${Q}`);
      const name = new URL(l.address).pathname.split('/').pop()!;
      const link = asNatsLink(await connect(`nats://127.0.0.1:${s0!.port}/bus/${name}${Q}`));
      opened.push(link);
      await a.attach(link);
      const ref = a.ref('fo-b/counter');
      expect(await ref.ask('echo', 'before')).to.equal('before');

      const values: number[] = [];
      let failed: unknown;
      sub = ref.stream('count', 2).subscribe({ next: (v) => void values.push(v as number), error: (e: unknown) => (failed = e) });
      // Asks keep going out through the change, each with a 3 s timeout: every one must
      // settle, answered rightly or failed typed (its request or reply lost), none hang.
      const asks: Promise<string>[] = [];
      let asking = true;
      const asker = (async () => {
        for (let i = 0; asking; i++) {
          asks.push(
            ref
              .with({ timeout: 3_000 })
              .ask('echo', i)
              .then(
                (v) => (v === i ? 'answered' : `wrong answer ${String(v)} to ${i}`),
                (e: unknown) => (e instanceof AskTimeoutError ? 'timed out' : `failed untyped: ${String(e)}`),
              ),
          );
          await sleep(5);
        }
      })();
      await until(() => values.length >= 200, 15_000, '200 values before the kill');
      await s0!.kill();
      await until(() => link.failovers === 1, 15_000, 'the client reaching another server');
      const after = values.length;
      await until(() => values.length >= after + 200 || failed !== undefined, 20_000, '200 values after the failover');
      expect(failed).to.equal(undefined);
      sub.unsubscribe();
      asking = false;
      await asker;
      const outcomes = await withTimeout(Promise.all(asks), 10_000, 'every ask made through the change settling');
      expect(outcomes.filter((o) => o !== 'answered' && o !== 'timed out'), 'asks neither answered nor timed out').to.deep.equal([]);
      expect(outcomes.filter((o) => o === 'answered').length, 'asks answered').to.be.greaterThan(0);

      for (let i = 1; i < values.length; i++) {
        if (values[i]! <= values[i - 1]!) expect.fail(`value ${values[i]} after ${values[i - 1]}: out of order`);
      }
      const gap = values[values.length - 1]! - values[0]! + 1 - values.length;
      // A value can only be missing because its frame was lost, and a lost frame is counted
      // (once the receiver stops waiting for it: after its reassembly age, 2 s).
      await until(() => link.stats!.lost >= gap, 10_000, `${gap} missing values counted as lost frames (counted: ${link.stats!.lost})`);
      expect(await ref.ask('echo', 'after')).to.equal('after');
      await l.close();
    } finally {
      sub?.unsubscribe();
      await a.stop();
      await b.stop();
    }
  });

  it('keeps an idle nats link through the change: each process\'s liveness flows again after it (nothing else could keep the link open)', async function () {
    const [s0, s1] = cluster.servers;
    // The far side must outlast the reconnect; after it, only liveness keeps the link open.
    const q = '?timeout=2000&failover=5000';
    const { listener, accepted } = await listenAt(s1!, 'idlefo', q);
    opened.push(listener);
    const name = listener.address.pathname.split('/').pop()!;
    const link = asNatsLink(await connect(`nats://127.0.0.1:${s0!.port}/idlefo/${name}${q}`));
    opened.push(link);
    const far = asNatsLink(await accepted());
    opened.push(far);
    expect(link.ownLiveness && far.ownLiveness, 'links with per-process liveness (no PINGs while idle)').to.equal(true);
    let ended: string | undefined;
    void link.closed.then((r) => (ended ??= `the client's link: ${r.kind} ${r.error?.message ?? ''}`));
    void far.closed.then((r) => (ended ??= `the listener's link: ${r.kind} ${r.error?.message ?? ''}`));
    await s0!.kill();
    await until(() => link.failovers === 1 || ended !== undefined, 15_000, 'the client reaching another server');
    // Two and a half silence timeouts, idle: the client's watch of the listener's liveness
    // must be subscribed again on its new server, and its own ALIVEs published from there.
    await sleep(5_000);
    expect(ended, 'a link ended').to.equal(undefined);
    const echoed = new Promise<string>((resolve) => link.onFrame((f) => resolve(Buffer.from(f).toString())));
    far.onFrame((f) => far.send(f));
    link.send(Buffer.from('still linked'));
    expect(await withTimeout(echoed, 5_000, 'an echo after the change')).to.equal('still linked');
    await link.close();
    await far.closed;
    await listener.close();
  });
});

describe('nats: a cluster named in the address (?servers=)', function () {
  this.timeout(60_000);
  let cluster: NatsCluster;

  before(async function () {
    cluster = await startNatsCluster(3);
  });
  after(async function () {
    await closeOpened();
    await cluster?.stop();
  });

  it('connects through the next server named when the first is down', async function () {
    const [s0, s1, s2] = cluster.servers;
    const { listener, accepted } = await listenAt(s1!, 'named');
    opened.push(listener);
    const name = listener.address.pathname.split('/').pop()!;
    await s0!.kill();
    const address = `nats://127.0.0.1:${s0!.port}/named/${name}?servers=127.0.0.1:${s2!.port}`;
    const link = await connect(address);
    opened.push(link);
    const far = await accepted();
    far.onFrame((f) => far.send(f));
    const echoed = new Promise<string>((resolve) => link.onFrame((f) => resolve(Buffer.from(f).toString())));
    link.send(Buffer.from('through s2'));
    expect(await withTimeout(echoed, 5_000, 'the echo')).to.equal('through s2');
    const connz = (await (await fetch(`${s2!.monitorUrl!}/connz`)).json()) as { num_connections: number };
    expect(connz.num_connections, 'the client is on s2').to.equal(1);
    await link.close();
    await far.closed;
    await listener.close();
  });

  it('through a cluster, refuses a name nobody listens on (after the grace for interest to travel)', async function () {
    const s2 = cluster.servers[2]!;
    let error: unknown;
    try {
      await connect(`${s2.url}/named/nobody`, { timeoutMs: 5_000 });
    } catch (err) {
      error = err;
    }
    expect(error).to.be.instanceOf(TransportError).with.property('code', 'ECONNREFUSED');
    expect((error as Error).message).to.include('nobody listens on named.nobody.hello');
  });
});

describe('nats: a client with no server of its cluster left to reach', function () {
  this.timeout(60_000);
  let cluster: NatsCluster;

  beforeEach(async function () {
    cluster = await startNatsCluster(2);
  });
  afterEach(async function () {
    await closeOpened();
    await cluster?.stop();
  });

  it('holds tells up to hold= bytes and refuses more with BrokerQueueFullError; an ask fails with PeerGoneError after failover=, not its own timeout', async function () {
    const [s0, s1] = cluster.servers;
    const b = await ActorSystem.start({ name: 'down-b' });
    // Bus pings every 700 ms, so at least one goes out while the hold is full of tells and
    // before the failover wait ends: it must not be refused (that would end the connection
    // with an error, not one message). Missed pings would take 2.1 s, after the failover.
    const a = await ActorSystem.start({ name: 'down-a', heartbeatMs: 700 });
    let plain: Awaited<ReturnType<typeof listenAt>> | undefined;
    try {
      b.local(counter, { name: 'counter' });
      const l = await b.listen(`${s1!.url}/down?timeout=5000&failover=1500`);
      const name = new URL(l.address).pathname.split('/').pop()!;
      const link = asNatsLink(await connect(`nats://127.0.0.1:${s0!.port}/down/${name}?timeout=5000&failover=1500&hold=4096`));
      const remote = await a.attach(link);
      const ref = a.ref('down-b/counter');
      expect(await ref.ask('echo', 1)).to.equal(1);
      // A second link, with something sent, to be closed while no server is reachable.
      plain = await listenAt(s1!, 'plain', '?timeout=5000&failover=1500');
      const plainName = plain.listener.address.pathname.split('/').pop()!;
      const other = await connect(`nats://127.0.0.1:${s0!.port}/plain/${plainName}?timeout=5000&failover=60000`);
      opened.push(other);
      await plain.accepted();

      await Promise.all([s0!.kill(), s1!.kill()]);
      await until(() => !link.brokerConnected, 5_000, 'the client noticing');
      // Tells are held while they fit in 4096 bytes, then refused, one at a time, typed.
      let held = 0;
      let refused: unknown;
      for (let i = 0; i < 100 && refused === undefined; i++) {
        try {
          ref.tell('echo', 'x'.repeat(500));
          held++;
        } catch (err) {
          refused = err;
        }
      }
      expect(refused).to.be.instanceOf(BrokerQueueFullError).with.property('code', 'ERR_BROKER_QUEUE_FULL');
      expect((refused as BrokerQueueFullError).limit).to.equal(4096);
      expect(held).to.be.within(1, 8);
      expect(link.bufferedAmount).to.be.at.most(4096);
      // Small frames have a reserve of 64 KiB beyond the hold (for the bus's own control
      // messages); tiny tells use it up too, and are then refused as well.
      let small = 0;
      for (let i = 0; i < 10_000; i++) {
        try {
          ref.tell('echo', 1);
          small++;
        } catch (err) {
          expect(err).to.be.instanceOf(BrokerQueueFullError);
          break;
        }
      }
      expect(small).to.be.within(1, 9_999);
      expect(link.bufferedAmount).to.be.at.most(4096 + 64 * 1024);
      // The last few bytes of the reserve, with 1-byte frames straight on the link (they
      // never arrive anywhere: both servers are gone), so not even a bus ping fits now.
      for (;;) {
        try {
          link.send(new Uint8Array(1));
        } catch (err) {
          expect(err).to.be.instanceOf(BrokerQueueFullError);
          break;
        }
      }
      expect(link.bufferedAmount).to.equal(4096 + 64 * 1024);
      other.send(Buffer.from('held'));
      await withTimeout(other.close(), 15_000, 'closing a link while no server is reachable');

      // An ask now waits for the failover at most, then fails typed; the system's ask
      // timeout is 30 s, and this must end long before that.
      let error: unknown;
      try {
        await withTimeout(ref.ask('echo', 2), 15_000, 'the ask while no server is reachable');
      } catch (err) {
        error = err;
      }
      expect(error).to.be.instanceOf(PeerGoneError);
      expect((await link.closed).kind).to.equal('peer-gone');
      expect((await remote.closed).kind, 'the bus connection ended by the failover wait, not by a refused ping').to.equal('peer-gone');
      await l.close();
    } finally {
      // A listener left open would keep its connection retrying, and the process alive.
      await plain?.listener.close();
      await a.stop();
      await b.stop();
    }
  });
});
