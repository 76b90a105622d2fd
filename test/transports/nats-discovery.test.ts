/**
 * nats-discovery.test.ts: systems on NATS find each other (src/transports/nats/
 * nats-discovery.ts, system.discover()): two systems in two processes, each listening under
 * one prefix on a real nats-server, see each other arrive with their actors and an address
 * that works; a change of actors is reported; a SIGKILLed one departs after missed
 * heartbeats, a stopped one at once with its bye. Discovery travels on `P._sys.*` only.
 */
import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { connect as natsConnect, type NatsConnection } from '@nats-io/transport-node';
import type { Subscription } from 'rxjs';
import { ActorSystem, defineActor, TransportError, type DiscoveryEvent } from '../../src/index.js';
import { startNatsServer, type NatsServer } from '../fixtures/nats-server.js';
import { withTimeout } from '../setup/timing.js';

const PEER = fileURLToPath(new URL('../fixtures/nats-discovery-peer.js', import.meta.url));

const counter = defineActor({ init: () => ({ n: 0 }), receive: { get: (s) => s.n } });

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Events as they come, and a way to wait for one that matches. */
class Seen {
  readonly events: DiscoveryEvent[] = [];
  async first(match: (e: DiscoveryEvent) => boolean, ms: number, what: string): Promise<DiscoveryEvent> {
    const end = Date.now() + ms;
    for (;;) {
      const e = this.events.find(match);
      if (e) return e;
      if (Date.now() > end) throw new Error(`${what}: not within ${ms} ms (seen: ${JSON.stringify(this.events)})`);
      await sleep(10);
    }
  }
}

describe('nats: discovery', function () {
  this.timeout(60_000);
  let server: NatsServer;
  let observer: NatsConnection | undefined;
  let child: ChildProcess | undefined;

  before(async function () {
    server = await startNatsServer({ monitor: true });
  });
  after(async function () {
    await server?.stop();
  });
  afterEach(async function () {
    if (child && child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await new Promise((r) => child!.once('exit', r));
    }
    child = undefined;
    await observer?.close();
    observer = undefined;
  });

  it('two systems in two processes discover each other with their actors; a SIGKILLed one departs after missed heartbeats', async function () {
    const place = `${server.url}/disc`;
    // Every subject used under the prefix, as a third client sees it.
    observer = await natsConnect({ servers: `127.0.0.1:${server.port}` });
    const subjects = new Set<string>();
    observer.subscribe('disc.>', { callback: (_e, m) => void subjects.add(m.subject.replace(/[0-9a-f]{32}/, 'L')) });
    await observer.flush();

    const a = await ActorSystem.start({ name: 'disc-a' });
    let sub: Subscription | undefined;
    try {
      a.local(counter, { name: 'counter' });
      await a.listen(`${place}?announce=200`);
      const seen = new Seen();
      sub = a.discover(place).subscribe((e) => seen.events.push(e));

      child = spawn(process.execPath, [PEER, place, 'disc-b'], { stdio: ['pipe', 'pipe', 'inherit'] });
      const childSeen = new Seen();
      let buf = '';
      let childAddress: string | undefined;
      child.stdout!.setEncoding('utf8').on('data', (s: string) => {
        buf += s;
        for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
          const line = buf.slice(0, i);
          buf = buf.slice(i + 1);
          if (line.startsWith('listening ')) childAddress = line.slice('listening '.length);
          else childSeen.events.push((JSON.parse(line) as { event: DiscoveryEvent }).event);
        }
      });

      const b = await seen.first((e) => e.type === 'arrived' && e.name === 'disc-b', 15_000, 'disc-a seeing disc-b arrive');
      expect(b.actors).to.deep.equal(['greeter']);
      expect(b.address).to.match(/^nats:\/\/127\.0\.0\.1:\d+\/disc\/l[0-9a-f]{16}$/);
      // The child prints its address after it began announcing: its line may come later.
      for (let i = 0; i < 1000 && childAddress === undefined; i++) await sleep(10);
      expect(b.address).to.equal(childAddress);
      const aSeen = await childSeen.first((e) => e.type === 'arrived' && e.name === 'disc-a', 15_000, 'disc-b seeing disc-a arrive');
      expect(aSeen.actors).to.deep.equal(['counter']);

      // The address works, and the actors are there.
      const remote = await a.connect(b.address);
      expect(await a.ref('disc-b/greeter').ask('hello')).to.equal('hello from disc-b');
      await remote.close();

      // A change of actors reaches the other side by the next announcement.
      a.local(counter, { name: 'second' });
      const upd = await childSeen.first((e) => e.type === 'updated' && e.name === 'disc-a', 15_000, 'disc-b seeing disc-a change');
      expect(upd.actors).to.deep.equal(['counter', 'second']);

      child.kill('SIGKILL');
      const gone = await seen.first((e) => e.type === 'departed' && e.name === 'disc-b', 15_000, 'disc-a seeing disc-b depart');
      expect(gone.reason).to.equal('silent');
      expect(gone.address).to.equal(b.address);
      expect(seen.events.filter((e) => e.name === 'disc-a'), 'not itself').to.deep.equal([]);
      expect(seen.events.filter((e) => e.type === 'arrived' && e.name === 'disc-b'), 'one arrival').to.have.length(1);
    } finally {
      sub?.unsubscribe();
      await a.stop();
    }
    // Discovery used its own subjects, and the link's processes their liveness; the data
    // subjects were those of the one link.
    const sys = [...subjects].filter((s) => s.includes('._sys.'));
    expect(sys.sort()).to.deep.equal(['disc._sys.alive.L', 'disc._sys.announce', 'disc._sys.query']);
    for (const s of subjects) expect(s, 'a subject under the prefix').to.match(/^disc\.(_sys\.(announce|query|alive\.L)|l[0-9a-f]{16}\.(hello|L\.(up|down)))$/);
  });

  it('reports a system that stops as departed at once, with reason bye', async function () {
    const place = `${server.url}/bye`;
    const a = await ActorSystem.start({ name: 'bye-a' });
    const c = await ActorSystem.start({ name: 'bye-c' });
    let sub: Subscription | undefined;
    try {
      const seen = new Seen();
      sub = a.discover(place).subscribe((e) => seen.events.push(e));
      // A long period: only the bye can make the departure quick.
      await c.listen(`${place}?announce=60000`);
      await seen.first((e) => e.type === 'arrived' && e.name === 'bye-c', 15_000, 'bye-c arriving');
      await c.stop();
      const gone = await seen.first((e) => e.type === 'departed', 5_000, 'bye-c departing');
      expect(gone).to.include({ name: 'bye-c', reason: 'bye' });
      // A subscription left open ends with its system (and lets go of the connection).
      const completed = new Promise<void>((resolve) => sub!.add(() => resolve()));
      await a.stop();
      await withTimeout(completed, 5_000, 'the discovery Observable completing on stop');
    } finally {
      sub?.unsubscribe();
      await a.stop();
      await c.stop();
    }
  });

  it('finds systems that announced before it looked, without waiting for their next period', async function () {
    const place = `${server.url}/early`;
    const c = await ActorSystem.start({ name: 'early-c' });
    const a = await ActorSystem.start({ name: 'early-a' });
    let sub: Subscription | undefined;
    try {
      await c.listen(`${place}?announce=60000`);
      const seen = new Seen();
      sub = a.discover(place).subscribe((e) => seen.events.push(e));
      // The period is a minute: an arrival within this wait can only be the answer to the query.
      await seen.first((e) => e.type === 'arrived' && e.name === 'early-c', 10_000, 'early-c found');
    } finally {
      sub?.unsubscribe();
      await a.stop();
      await c.stop();
    }
  });

  it('errors the Observable with a TransportError where the transport has no discovery; refuses _sys as a name and bad announce, failover, hold', async function () {
    const a = await ActorSystem.start({ name: 'nodisc' });
    try {
      const err = await withTimeout(
        new Promise<unknown>((resolve) => a.discover('tcp://127.0.0.1:1').subscribe({ error: resolve, complete: () => resolve(undefined) })),
        5_000,
        'the error',
      );
      expect(err).to.be.instanceOf(TransportError).with.property('code', 'ERR_NO_DISCOVERY');
      let listenErr: unknown;
      try {
        await a.listen(`${server.url}/x?name=_sys`);
      } catch (e) {
        listenErr = e;
      }
      expect(listenErr).to.be.instanceOf(TransportError).with.property('code', 'ERR_BAD_ADDRESS');
      for (const bad of ['announce=50', 'announce=600001', 'announce=x', 'failover=-1', 'hold=-1', 'hold=2147483648']) {
        let e: unknown;
        try {
          await a.listen(`${server.url}/x?${bad}`);
        } catch (err) {
          e = err;
        }
        expect(e, bad).to.be.instanceOf(TransportError).with.property('code', 'ERR_BAD_ADDRESS');
        expect((e as Error).message, bad).to.include(bad.split('=')[0]);
      }
    } finally {
      await a.stop();
    }
  });
});
