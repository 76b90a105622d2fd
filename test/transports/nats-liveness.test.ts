/**
 * nats-liveness.test.ts: per-process liveness on nats (docs/PROTOCOL.md §9, Liveness),
 * against a real nats-server this file starts, counting what reaches the server with a raw
 * NATS subscriber on the prefix: an idle pair of systems puts nothing on its data subjects
 * (no PING, no bus ping) while each process's ALIVE still flows; many links between two
 * processes cost one ALIVE per period per process; a link ended on one side without its BYE
 * ends on the other while both processes live; an idle peer SIGKILLed is gone within the
 * timeout; a peer that offers no liveness still gets per-link PINGs.
 *
 * Two "processes" in one test are two NATS connections where a child is not needed: the pool
 * keys a connection by its server list, so `127.0.0.1:P` and `localhost:P` are two clients of
 * the server, each with its own liveness, exactly as two processes would be.
 */
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { connect as natsConnect, type NatsConnection } from '@nats-io/transport-node';
import { ActorSystem, connect, defineActor, PeerGoneError, type Link, type Listener } from '../../src/index.js';
import { KIND_HELLO, KIND_WELCOME } from '../../src/transports/datagram/handshake-kinds.js';
import { startNatsServer, type NatsServer } from '../fixtures/nats-server.js';
import { listenAt, monitor, type Connz } from './nats-helpers.js';
import { sleep, until, withTimeout } from '../setup/timing.js';

const PEER = fileURLToPath(new URL('../fixtures/peer.js', import.meta.url));
const KIND_PING = 0x04;
const KIND_BYE = 0x03;
const KIND_DATA = 0x01;
const KIND_CREDIT = 0x02;

/** Every message on `pattern` (e.g. `prefix.>`) from now on, by subject. */
function record(nc: NatsConnection, pattern: string): { subjects: string[]; kinds: number[]; reset(): void } {
  const r = {
    subjects: [] as string[],
    kinds: [] as number[],
    reset() {
      r.subjects.length = 0;
      r.kinds.length = 0;
    },
  };
  nc.subscribe(pattern, {
    callback: (_e, m) => {
      r.subjects.push(m.subject);
      r.kinds.push(m.data[0] ?? -1);
    },
  });
  return r;
}

const isAlive = (s: string): boolean => /\._sys\.alive\.[0-9a-f]{32}$/.test(s);
const isData = (s: string): boolean => !s.includes('._sys.');

/** The same address through another spelling of the server: another pooled connection. */
function viaLocalhost(address: string): string {
  return address.replace('://127.0.0.1:', '://localhost:');
}

describe('nats: per-process liveness', function () {
  this.timeout(30_000);
  let server: NatsServer;
  let observer: NatsConnection | undefined;

  before(async function () {
    server = await startNatsServer({ monitor: true });
  });
  afterEach(async function () {
    await observer?.close();
    observer = undefined;
  });
  after(async function () {
    await server?.stop();
  });

  it('an idle pair of systems sends nothing on its nats data subjects, no PING and no bus ping, while each process says ALIVE every period', async function () {
    const echo = defineActor({ init: () => ({}), receive: { echo: (_s: object, v: string) => v } });
    // Bus pings every 100 ms: over the window below they would be 20 messages, were they sent.
    const a = await ActorSystem.start({ name: 'live-a', heartbeatMs: 100, onError: () => {} });
    const b = await ActorSystem.start({ name: 'live-b', heartbeatMs: 100, onError: () => {} });
    try {
      a.local(echo, { name: 'echo' });
      const l = await a.listen(`${server.url}/idle?announce=0`);
      observer = await natsConnect({ servers: `127.0.0.1:${server.port}` });
      const seen = record(observer, 'idle.>');
      await b.connect(viaLocalhost(l.address));
      expect(await b.ref('live-a/echo').ask('echo', 'before')).to.equal('before');
      // Past the traffic's last PINGs (two periods after it) and each link's first probe.
      await sleep(600);
      seen.reset();
      await sleep(1000);
      const data = seen.subjects.filter(isData);
      expect(data, 'messages on data subjects while idle').to.deep.equal([]);
      const alive = seen.subjects.filter(isAlive);
      expect(new Set(alive).size, 'one liveness subject per process').to.equal(2);
      for (const s of new Set(alive)) expect(alive.filter((x) => x === s).length, `ALIVEs on ${s} in 10 periods`).to.be.within(5, 13);
      // Still linked, and DATA moves again at once.
      expect(await b.ref('live-a/echo').ask('echo', 'after')).to.equal('after');
    } finally {
      await b.stop();
      await a.stop();
    }
  });

  it('many nats links between two processes cost one ALIVE per period per process, and one liveness subscription each, given back with the last link', async function () {
    const N = 12;
    const { listener, accepted } = await listenAt(server, 'many');
    observer = await natsConnect({ servers: `127.0.0.1:${server.port}` });
    const seen = record(observer, 'many.>');
    const links: Link[] = [];
    const fars: Link[] = [];
    for (let i = 0; i < N; i++) {
      links.push(await connect(viaLocalhost(listener.address.href)));
      const far = await accepted();
      far.onFrame((f) => far.send(f));
      fars.push(far);
    }
    for (const l of [...links, ...fars]) expect(l.ownLiveness, 'a link with liveness of its own').to.equal(true);
    await sleep(400);
    seen.reset();
    await sleep(1000);
    expect(seen.subjects.filter(isData), 'messages on data subjects while idle').to.deep.equal([]);
    const alive = seen.subjects.filter(isAlive);
    expect(new Set(alive).size, 'one liveness subject per process').to.equal(2);
    // Per-link heartbeats would be 2 x 12 x 10 here; per process, 10 each.
    for (const s of new Set(alive)) expect(alive.filter((x) => x === s).length, `ALIVEs on ${s} in 10 periods`).to.be.within(5, 13);

    const subs = async (): Promise<string[][]> =>
      (await monitor<Connz>(server, '/connz?subs=1')).connections.filter((c) => c.name?.startsWith('switchyard')).map((c) => (c.subscriptions_list ?? []).filter(isAlive));
    expect((await subs()).map((s) => s.length), 'liveness subscriptions per connection').to.deep.equal([1, 1]);
    for (let i = 0; i < N; i++) {
      await links[i]!.close();
      expect((await fars[i]!.closed).kind).to.equal('peer-gone');
    }
    await listener.close();
    await until('the connections to close', 2_000, async () => (await monitor<Connz>(server, '/connz')).num_connections === 1); // the observer's
  });

  it('a nats link ended on one side without its BYE ends on the other while both processes live, long before its silence timeout', async function () {
    // timeout=10000: silence alone could not end the child's link within this test's wait.
    let listener: Listener | undefined;
    const children: ReturnType<typeof spawn>[] = [];
    try {
      // upgrade=0: the child is another process of this host, and this case is about the NATS link itself.
      const at = await listenAt(server, 'nobye', '?timeout=10000&upgrade=0');
      listener = at.listener;
      observer = await natsConnect({ servers: `127.0.0.1:${server.port}` });
      // Only the child's direction: a subscriber on the link's `up` subject would be someone
      // listening there, and the probe would rightly find the link's subject still heard.
      const seen = record(observer, 'nobye.*.*.down');
      // Another link of this process stays open, so its ALIVEs go on the whole time.
      const other = await connect(listener.address);
      const otherFar = await at.accepted();
      const child = spawn(process.execPath, [PEER, listener.address.href, 'echo'], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, PEER_DEBUG: '1' } });
      children.push(child);
      let stderr = '';
      child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
      const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
      const far = await at.accepted();
      const ready = new Promise<string>((r) => far.onFrame((f) => r(Buffer.from(f).toString())));
      expect(await withTimeout(ready, 5_000, 'the child ready')).to.equal('ready');
      await sleep(300); // the child's link is older than a period: its first probe is done
      seen.reset();
      // The transport's own way to end a link whose peer is gone: no BYE leaves.
      const t0 = Date.now();
      (far as unknown as { peerGone(e: Error): void }).peerGone(new PeerGoneError('test: ended here without a BYE'));
      await far.closed;
      const code = await withTimeout(exited, 3_000, 'the child noticing its link ended');
      expect(Date.now() - t0, 'far below the 10 s silence timeout').to.be.below(3_000);
      expect(code).to.equal(0);
      expect(stderr).to.include('ended the link on its side');
      const downs = seen.subjects.map((s, i) => [s, seen.kinds[i]] as const).filter(([s]) => s.endsWith('.down'));
      expect(downs.filter(([, k]) => k === KIND_BYE), 'BYEs to the child').to.deep.equal([]);
      // The other link of this process is untouched.
      const back = new Promise<string>((r) => other.onFrame((f) => r(Buffer.from(f).toString())));
      otherFar.onFrame((f) => otherFar.send(f));
      other.send(Buffer.from('still here'));
      expect(await withTimeout(back, 5_000, 'the echo on the other link')).to.equal('still here');
      await other.close();
      await otherFar.closed;
    } finally {
      for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
      await listener?.close();
    }
  });

  it('an idle nats peer SIGKILLed is gone within its silence timeout', async function () {
    const { listener, accepted } = await listenAt(server, 'killed');
    const child = spawn(process.execPath, [PEER, listener.address.href, 'echo'], { stdio: 'ignore' });
    try {
      const far = await accepted();
      const ready = new Promise<string>((r) => far.onFrame((f) => r(Buffer.from(f).toString())));
      expect(await withTimeout(ready, 5_000, 'the child ready')).to.equal('ready');
      await sleep(500); // idle: nothing on the link, only the child's ALIVEs
      expect(far.ownLiveness).to.equal(true);
      const t0 = Date.now();
      child.kill('SIGKILL');
      const reason = await withTimeout(far.closed, 3_000, 'peer-gone after SIGKILL');
      expect(reason.kind).to.equal('peer-gone');
      expect(reason.error?.message).to.include('silent for more than 600 ms');
      expect(Date.now() - t0).to.be.below(1_500);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
      await listener.close();
    }
  });

  it('a quiet nats link still repairs credit: it PINGs while it waits for credit, answers a PING with its grant, counts DATA a PING says was lost as consumed, and goes silent after', async function () {
    // A hand-made peer that offers liveness (so the link is quiet) and loses what we say.
    const { listener, accepted } = await listenAt(server, 'repair', '?window=4&timeout=10000');
    observer = await natsConnect({ servers: `127.0.0.1:${server.port}` });
    const id = 'cd'.repeat(16);
    const hello = Buffer.alloc(18 + 32);
    hello[0] = KIND_HELLO;
    hello[1] = 2;
    hello.writeUInt32BE(2, 2); // the link may have 2 DATA in flight to us
    hello.writeUInt32BE(4096, 6);
    hello.writeUInt32BE(100, 10);
    hello.writeUInt32BE(10_000, 14);
    hello.write(id, 18, 'latin1');
    const base = listener.address.pathname.slice(1).replace(/\//g, '.');
    const got: Buffer[] = [];
    observer.subscribe(`${base}.${id}.down`, { callback: (_e, m) => void got.push(Buffer.from(m.data)) });
    await observer.flush();
    const liveness = Buffer.concat([Buffer.of(1, 0, 16), Buffer.alloc(16, 0x5a)]);
    const welcome = await observer.request(`${base}.hello`, Buffer.concat([hello, liveness]), { timeout: 2_000 });
    expect(welcome.data[0]).to.equal(KIND_WELCOME);
    const far = await accepted();
    expect(far.ownLiveness).to.equal(true);
    far.onFrame(() => {});
    const up = (d: Buffer): void => observer!.publish(`${base}.${id}.up`, d);
    const ping = (next: number, grant: number): Buffer => {
      const b = Buffer.alloc(9);
      b[0] = KIND_PING;
      b.writeUInt32BE(next, 1);
      b.writeUInt32BE(grant, 5);
      return b;
    };
    const of = (kind: number): Buffer[] => got.filter((d) => d[0] === kind);

    // Sender side: 5 frames against a grant of 2, and the peer's CREDIT never comes (lost).
    for (let i = 0; i < 5; i++) far.send(Buffer.from(`frame ${i}`));
    await until('two DATA', 2_000, () => of(KIND_DATA).length === 2);
    await sleep(900);
    // After DATA moved, 3 PINGs (that period's and two more); more only because it waits.
    const stuck = of(KIND_PING).filter((d) => d.readUInt32BE(1) === 2);
    expect(stuck.length, 'PINGs saying "next is dseq 2" while waiting for credit').to.be.at.least(6);
    up(Buffer.of(KIND_CREDIT, 0, 0, 0, 100)); // the peer grants up to 100
    await until('all five DATA', 2_000, () => of(KIND_DATA).length === 5);

    // Receiver side: the peer says (in a PING) that it sent 3 DATA, all lost: the link counts
    // them as consumed and grants 3 + 4, where without the PING it would stay at 4.
    got.length = 0;
    up(ping(3, 100));
    await until('a CREDIT', 2_000, () => of(KIND_CREDIT).length > 0);
    expect(Math.max(...of(KIND_CREDIT).map((d) => d.readUInt32BE(1))), 'the grant after the lost DATA').to.equal(7);
    // Then, idle: nothing at all on the link's subject.
    await sleep(400);
    got.length = 0;
    await sleep(600);
    expect(got.map((d) => d[0]), 'datagrams on an idle quiet link').to.deep.equal([]);
    // A PING that repairs nothing is answered with the grant (our last CREDIT may have been
    // lost, and the peer may be stuck behind it), once: a CREDIT starts no PINGs.
    up(ping(3, 100));
    await until('the grant again', 2_000, () => of(KIND_CREDIT).length > 0);
    await sleep(400);
    expect(got.map((d) => [d[0], d.readUInt32BE(1)]), 'the answer, and nothing after it').to.deep.equal([[KIND_CREDIT, 7]]);
    await far.close();
    await listener.close();
  });

  it('a nats peer that offers no liveness in its HELLO gets per-link PINGs, and its link does not claim liveness', async function () {
    const { listener, accepted } = await listenAt(server, 'old');
    observer = await natsConnect({ servers: `127.0.0.1:${server.port}` });
    const id = 'ab'.repeat(16);
    const hello = Buffer.alloc(18 + 32);
    hello[0] = KIND_HELLO;
    hello[1] = 2;
    hello.writeUInt32BE(64, 2);
    hello.writeUInt32BE(4096, 6);
    hello.writeUInt32BE(100, 10);
    hello.writeUInt32BE(600, 14);
    hello.write(id, 18, 'latin1');
    const base = listener.address.pathname.slice(1).replace(/\//g, '.');
    const kinds: number[] = [];
    observer.subscribe(`${base}.${id}.down`, { callback: (_e, m) => void kinds.push(m.data[0] ?? -1) });
    await observer.flush();
    const welcome = await observer.request(`${base}.hello`, hello, { timeout: 2_000 });
    expect(welcome.data[0]).to.equal(KIND_WELCOME);
    const far = await accepted();
    expect(far.ownLiveness).to.equal(false);
    await sleep(450);
    expect(kinds.filter((k) => k === KIND_PING).length, 'PINGs at 100 ms while idle').to.be.at.least(3);
    await far.close();
    await listener.close();
  });
});
