/**
 * nats.test.ts: what the nats transport promises beyond the conformance suite, each against
 * a real nats-server this file starts on a free loopback port (test/fixtures/nats-server.ts)
 * and stops: frames far above max_payload arrive whole in pieces no server refuses; the
 * listener reports its real subject and close() gives back every subscription and connection
 * (read from the server's own /connz); a server that is not there, or does not answer, fails
 * listen/connect with a TransportError naming the address within timeoutMs; a server that
 * dies or hangs ends the links as peer-gone within the heartbeat timeout; loss is counted,
 * never hidden; credit keeps a fast sender from piling bytes up in the server.
 *
 * The conformance cases that need `reliable` are pending for nats by name; the in-order and
 * backpressure cases here are their nats counterparts, with every frame accounted for.
 */
import { expect } from 'chai';
import { createServer, type Server, type Socket } from 'node:net';
import { connect as natsConnect, type NatsConnection } from '@nats-io/transport-node';
import { connect, listen, TransportError, type Link, type Listener } from '../../src/index.js';
import { DATA_HEADER_BYTES, KIND_DATA } from '../../src/transports/datagram/datagram-link.js';
import { Fragmenter } from '../../src/transports/datagram/fragment.js';
import { KIND_HELLO, KIND_WELCOME } from '../../src/transports/datagram/handshake-kinds.js';
import { freePort, INSTALL_HINT, startNatsServer, type NatsServer } from '../fixtures/nats-server.js';
import { connectionsBecome, listenAt, monitor, type Connz, type Varz } from './nats-helpers.js';
import { sendAll, sequencedFrames } from '../setup/frames.js';
import { withTimeout } from '../setup/timing.js';

const KiB = 1024;
const MiB = 1024 * KiB;

function frameOf(size: number, seed: number): Buffer {
  const b = Buffer.allocUnsafe(size);
  for (let i = 0; i < size; i += 4096) b[i] = (i / 4096 + seed) & 0xff;
  if (size > 0) b[size - 1] = seed & 0xff;
  return b;
}

describe('nats: the test server helper', function () {
  it('fails, saying how to install nats-server, when the binary is missing', async function () {
    let error: unknown;
    try {
      await startNatsServer({ binary: '/nonexistent/nats-server' });
    } catch (err) {
      error = err;
    }
    expect(error).to.be.instanceOf(Error);
    expect((error as Error).message).to.equal(INSTALL_HINT).and.include('apt-get install -y nats-server');
  });
});

describe('nats: addresses, sizes and resources', function () {
  this.timeout(30_000);
  let server: NatsServer;
  let observer: NatsConnection | undefined;

  before(async function () {
    server = await startNatsServer({ monitor: true });
  });
  after(async function () {
    await server?.stop();
  });
  afterEach(async function () {
    await observer?.close();
    observer = undefined;
  });

  it('reports the real subject as its address: a random name, or the one asked for, and refuses a taken name', async function () {
    const a = await listenAt(server, 'app');
    expect(a.listener.address.href).to.match(new RegExp(`^nats://127\\.0\\.0\\.1:${server.port}/app/l[0-9a-f]{16}$`));
    const b = await listenAt(server, 'app/sub', '?name=main&heartbeat=50');
    expect(b.listener.address.href).to.equal(`nats://127.0.0.1:${server.port}/app/sub/main?heartbeat=50`);
    const subs = (await monitor<Connz>(server, '/connz?subs=1')).connections.flatMap((c) => c.subscriptions_list ?? []);
    expect(subs).to.include('app.sub.main.hello');

    let error: unknown;
    try {
      await listen(`${server.url}/app/sub?name=main`, () => {});
    } catch (err) {
      error = err;
    }
    expect(error).to.be.instanceOf(TransportError).with.property('code', 'EADDRINUSE');
    expect((error as TransportError).message).to.include(`${server.url}/app/sub?name=main`);

    const link = await connect(b.listener.address);
    const far = await b.accepted();
    far.onFrame(() => {});
    const linkSubs = (await monitor<Connz>(server, '/connz?subs=1')).connections.flatMap((c) => c.subscriptions_list ?? []);
    expect(linkSubs.filter((x) => /^app\.sub\.main\.[0-9a-f]{32}\.(up|down)$/.test(x)), 'one subject per direction').to.have.length(2);
    expect(link.remote).to.equal(`nats://127.0.0.1:${server.port}/app/sub/main`);
    await link.close();
    await far.closed;
    await a.listener.close();
    await b.listener.close();
  });

  it('carries an 8 MiB frame through a server with the default 1 MiB max_payload, whole, in pieces no larger', async function () {
    const varz = await monitor<Varz>(server, '/varz');
    expect(varz.max_payload).to.equal(MiB);
    // A third client sees every datagram of the link, as the server passes it on.
    observer = await natsConnect({ servers: `127.0.0.1:${server.port}` });
    const sizes: number[] = [];
    observer.subscribe('big.>', { callback: (_e, m) => void sizes.push(m.data.length) });
    await observer.flush();

    const { listener, accepted } = await listenAt(server, 'big');
    const link = await connect(listener.address);
    const far = await accepted();
    const frame = frameOf(8 * MiB, 3);
    const got = new Promise<Buffer>((resolve) => far.onFrame((f) => resolve(Buffer.from(f))));
    link.send(frame);
    const back = await withTimeout(got, 20_000, 'the 8 MiB frame');
    expect(back.length).to.equal(frame.length);
    expect(back.equals(frame), 'bytes of the 8 MiB frame').to.equal(true);
    expect(far.stats).to.include({ received: 1, lost: 0 });
    // The server may pass the pieces to the observer after the link's reader: a PING/PONG
    // round trip of the observer's comes back only behind every message queued for it.
    await observer.flush();
    expect(Math.max(...sizes), 'largest NATS message').to.be.at.most(MiB);
    expect(sizes.filter((s) => s > 512 * KiB).length, 'pieces of about max_payload').to.be.at.least(8);
    await link.close();
    await far.closed;
    await listener.close();
  });

  it('uses the smaller datagram of the two sides: a client asking for 4 KiB pieces gets them both ways', async function () {
    observer = await natsConnect({ servers: `127.0.0.1:${server.port}` });
    const sizes: number[] = [];
    observer.subscribe('small.>', { callback: (_e, m) => void sizes.push(m.data.length) });
    await observer.flush();
    const { listener, accepted } = await listenAt(server, 'small');
    const link = await connect(`${listener.address.href}?datagram=4096`);
    const far = await accepted();
    far.onFrame((f) => far.send(Buffer.from(f)));
    const frame = frameOf(100 * KiB, 5);
    const back = new Promise<Buffer>((resolve) => link.onFrame((f) => resolve(Buffer.from(f))));
    link.send(frame);
    expect((await withTimeout(back, 10_000, 'the echo')).equals(frame)).to.equal(true);
    await observer.flush();
    const data = sizes.filter((n) => n > 100);
    expect(Math.max(...data), 'largest message').to.equal(4096);
    expect(data.length, 'pieces both ways').to.be.at.least(2 * Math.ceil((100 * KiB) / (4096 - 21)));
    await link.close();
    await far.closed;
    await listener.close();
  });

  it('ignores junk on the hello subject and datagrams for links it does not have, and keeps serving', async function () {
    const { listener, accepted } = await listenAt(server, 'junk');
    observer = await natsConnect({ servers: `127.0.0.1:${server.port}` });
    const base = listener.address.pathname.slice(1).replace(/\//g, '.');
    const good = Buffer.alloc(50);
    good[0] = KIND_HELLO;
    good[1] = 2;
    good.writeUInt32BE(64, 2);
    good.writeUInt32BE(4096, 6);
    good.writeUInt32BE(100, 10);
    good.writeUInt32BE(600, 14);
    good.write('cd'.repeat(16), 18, 'latin1');
    const variants: Buffer[] = [
      Buffer.from('hello?'),
      good.subarray(0, 49), // truncated
      Buffer.concat([good, Buffer.of(0)]), // an extension cut short (1 byte of its 3-byte head)
      Buffer.concat([good, Buffer.of(9, 0, 2, 1)]), // an extension longer than what follows
      Buffer.concat([good, Buffer.of(9, 0, 0, 9, 0, 0)]), // the same extension twice
      Buffer.from(good).fill(1, 1, 2), // version 1
      Buffer.from(good).fill(3, 1, 2), // version 3
      Buffer.from(good).fill(0, 2, 6), // window 0
      Buffer.from(good).fill(0, 6, 10), // datagram 0
      Buffer.from(good).fill(0x2e, 18, 19), // a dot in the link id
      Buffer.from(good).fill(0x2a, 18, 19), // a wildcard in the link id
    ];
    for (const v of variants) {
      let answered = true;
      try {
        await observer.request(`${base}.hello`, v, { timeout: 150 });
      } catch {
        answered = false;
      }
      expect(answered, `answer to ${v.toString('hex').slice(0, 24)}...`).to.equal(false);
    }
    observer.publish(`${base}.${'ef'.repeat(16)}.up`, Buffer.of(1, 0, 0, 0, 0));
    const link = await connect(listener.address);
    const far = await accepted();
    const echoed = new Promise<string>((resolve) => link.onFrame((f) => resolve(Buffer.from(f).toString())));
    far.onFrame((f) => far.send(f));
    link.send(Buffer.from('still serving'));
    expect(await withTimeout(echoed, 5_000, 'the echo')).to.equal('still serving');
    await link.close();
    await far.closed;
    await listener.close();
  });

  it('connect fails within timeoutMs, naming the address, when something on the hello subject never answers', async function () {
    observer = await natsConnect({ servers: `127.0.0.1:${server.port}` });
    let hellos = 0;
    observer.subscribe('app.mute.hello', { callback: () => void hellos++ });
    await observer.flush();
    const t0 = performance.now();
    let error: unknown;
    try {
      await connect(`${server.url}/app/mute`, { timeoutMs: 1_200 });
    } catch (err) {
      error = err;
    }
    const ms = performance.now() - t0;
    expect(error).to.be.instanceOf(TransportError).with.property('code', 'ETIMEDOUT');
    expect((error as TransportError).message).to.include(`${server.url}/app/mute`);
    // HELLO went more than once (every 500 ms), and the wait ended at the deadline, not
    // before it (timers never fire early) and not long after it (a hang guard, not a timing).
    expect(hellos).to.be.at.least(2);
    expect(ms).to.be.at.least(1_200).and.below(10_000);
  });

  it('close() gives back every subscription and connection; links outlive their listener', async function () {
    // Earlier cases' connections may still be leaving (the server notices a close a moment
    // later): start from none.
    await connectionsBecome(server, 0);
    const { listener, accepted } = await listenAt(server, 'res');
    const link = await connect(listener.address);
    const far = await accepted();
    // One process, one server: the listener and the client share one connection.
    expect((await monitor<Connz>(server, '/connz')).num_connections).to.equal(1);

    await listener.close();
    // Stops accepting at once ("nobody listens": the server's own answer)...
    let error: unknown;
    try {
      await connect(listener.address, { timeoutMs: 2_000 });
    } catch (err) {
      error = err;
    }
    expect(error).to.be.instanceOf(TransportError).with.property('code', 'ECONNREFUSED');
    // ...while the link it handed out keeps working, on the listener's connection.
    const echoed = new Promise<string>((resolve) => link.onFrame((f) => resolve(Buffer.from(f).toString())));
    far.onFrame((f) => far.send(f));
    link.send(Buffer.from('after the listener closed'));
    expect(await withTimeout(echoed, 5_000, 'the echo')).to.equal('after the listener closed');
    expect((await monitor<Connz>(server, '/connz')).num_connections).to.equal(1);

    await link.close();
    expect((await link.closed).kind).to.equal('closed');
    expect((await far.closed).kind).to.equal('peer-gone');
    // The shared connection is gone once the last link on it has closed.
    await connectionsBecome(server, 0);
  });

  it('counts a lost piece and a lost frame, and never delivers a frame partly', async function () {
    const { listener, accepted } = await listenAt(server, 'loss');
    // A hand-made client: a HELLO, then DATA with one piece and one whole frame left out.
    observer = await natsConnect({ servers: `127.0.0.1:${server.port}` });
    const id = 'ab'.repeat(16);
    const datagram = 4096;
    const hello = Buffer.alloc(18 + 32);
    hello[0] = KIND_HELLO;
    hello[1] = 2;
    hello.writeUInt32BE(64, 2);
    hello.writeUInt32BE(datagram, 6);
    hello.writeUInt32BE(100, 10);
    hello.writeUInt32BE(600, 14);
    hello.write(id, 18, 'latin1');
    const base = listener.address.pathname.slice(1).replace(/\//g, '.');
    // An extension of a tag no side knows (200) is skipped, not a reason to ignore the HELLO.
    const welcome = await observer.request(`${base}.hello`, Buffer.concat([hello, Buffer.of(200, 0, 2, 7, 7)]), { timeout: 2_000 });
    expect(welcome.data[0]).to.equal(KIND_WELCOME);
    const far = await accepted();
    const got: string[] = [];
    far.onFrame((f) => got.push(`${f.byteLength}:${f[0]}`));

    const fragmenter = new Fragmenter(datagram - DATA_HEADER_BYTES);
    const frames = [frameOf(100, 1), frameOf(3 * datagram, 2), frameOf(100, 3), frameOf(100, 4), frameOf(100, 5)];
    let dseq = 0;
    frames.forEach((frame, i) => {
      fragmenter.split(frame).forEach((piece, j) => {
        const d = Buffer.allocUnsafe(DATA_HEADER_BYTES + piece.length);
        d[0] = KIND_DATA;
        d.writeUInt32BE(dseq++, 1);
        piece.copy(d, DATA_HEADER_BYTES);
        // frame 1 loses its second piece; frame 3 is lost whole
        if ((i === 1 && j === 1) || i === 3) return;
        observer!.publish(`${base}.${id}.up`, d);
      });
    });
    // The hand-made client never sends a heartbeat: the link ends when its silence runs out,
    // and gives up on what is incomplete then.
    const reason = await withTimeout(far.closed, 5_000, 'the link ending on silence');
    expect(reason.kind).to.equal('peer-gone');
    expect(got).to.deep.equal(['100:1', '100:3', '100:5']);
    expect(far.stats).to.include({ received: 3, lost: 2, expired: 1 });
    await listener.close();
  });
});

describe('nats: over a healthy server', function () {
  this.timeout(60_000);
  let server: NatsServer;

  before(async function () {
    server = await startNatsServer({ monitor: true });
  });
  after(async function () {
    await server?.stop();
  });

  it('delivers 20,000 frames in order, and accounts for every frame sent', async function () {
    const { listener, accepted } = await listenAt(server, 'order');
    const link = await connect(listener.address);
    const far = await accepted();
    const N = 20_000;
    let next = 0;
    let bad: string | undefined;
    const done = new Promise<void>((resolve) =>
      far.onFrame((f) => {
        const seq = Buffer.from(f.buffer, f.byteOffset, f.byteLength).readUInt32BE(0);
        if (seq !== next && bad === undefined) bad = `expected frame ${next}, got ${seq}`;
        next = seq + 1;
        if (next === N) resolve();
      }),
    );
    await sendAll(link, sequencedFrames(N));
    await withTimeout(done, 30_000, 'all frames');
    expect(bad).to.equal(undefined);
    expect(link.stats!.sent).to.equal(N);
    // at-most-once, but a healthy server loses nothing: and whatever it lost would be here
    expect(far.stats!.received + far.stats!.lost).to.equal(N);
    expect(far.stats!.lost).to.equal(0);
    await link.close();
    await far.closed;
    await listener.close();
  });

  it('holds a fast sender back from a paused reader by credit: no slow consumer, nothing lost on resume', async function () {
    const { listener, accepted } = await listenAt(server, 'credit');
    const link = await connect(listener.address, { highWaterMark: 4 * MiB });
    const far = await accepted();
    let frames = 0;
    far.pause();
    far.onFrame(() => void frames++);
    const frame = frameOf(256 * KiB, 9);
    let sent = 0;
    let blocked = false;
    while (sent < 1024) {
      sent++;
      if (!link.send(frame)) {
        const drained = await Promise.race([link.drain().then(() => true), new Promise((r) => setTimeout(() => r(false), 500))]);
        if (!drained) {
          blocked = true;
          break;
        }
      }
    }
    expect(blocked, 'drain() stayed pending while the reader was paused').to.equal(true);
    // Below the server's own per-client limit (max_pending, 64 MiB by default), past which it
    // would drop the reader as a slow consumer.
    expect(sent * frame.length, 'bytes accepted before the sender was held back').to.be.below(64 * MiB);
    const drained = link.drain();
    far.resume();
    await withTimeout(drained, 10_000, 'drain() after the reader resumed');
    const all = async (): Promise<void> => {
      while (frames < sent) await new Promise((r) => setTimeout(r, 10));
    };
    await withTimeout(all(), 20_000, `all ${sent} frames`);
    expect(far.stats).to.include({ received: sent, lost: 0 });
    expect((await monitor<Varz>(server, '/varz')).slow_consumers).to.equal(0);
    await link.close();
    await far.closed;
    await listener.close();
  });
});

describe('nats: a server configured for large messages', function () {
  this.timeout(30_000);
  let server: NatsServer;

  before(async function () {
    server = await startNatsServer({ config: 'max_payload: 67108864\nmax_pending: 268435456\n' });
  });
  after(async function () {
    await server?.stop();
  });

  it('sends pieces of at most 8 MiB by default, even where max_payload allows 64 MiB', async function () {
    const observer = await natsConnect({ servers: `127.0.0.1:${server.port}` });
    try {
      expect(observer.info?.max_payload).to.equal(64 * MiB);
      const sizes: number[] = [];
      observer.subscribe('large.>', { callback: (_e, m) => void sizes.push(m.data.length) });
      await observer.flush();
      const { listener, accepted } = await listenAt(server, 'large');
      const link = await connect(listener.address);
      const far = await accepted();
      const frame = frameOf(20 * MiB, 7);
      const got = new Promise<Buffer>((resolve) => far.onFrame((f) => resolve(Buffer.from(f))));
      link.send(frame);
      expect((await withTimeout(got, 20_000, 'the 20 MiB frame')).equals(frame)).to.equal(true);
      await observer.flush();
      expect(Math.max(...sizes)).to.equal(8 * MiB);
      expect(sizes.filter((n) => n > MiB)).to.have.length(3);
      await link.close();
      await far.closed;
      await listener.close();
    } finally {
      await observer.close();
    }
  });
});

describe('nats: a server that is missing, silent, killed or hung', function () {
  this.timeout(30_000);
  let silent: Server | undefined;
  const sockets = new Set<Socket>();

  afterEach(async function () {
    for (const s of sockets) s.destroy();
    sockets.clear();
    await new Promise<void>((r) => (silent ? silent.close(() => r()) : r()));
    silent = undefined;
  });

  async function failure(start: () => Promise<unknown>): Promise<{ error: TransportError; ms: number }> {
    const t0 = performance.now();
    let error: unknown;
    try {
      const x = await start();
      await (x as { close(): Promise<void> }).close();
    } catch (err) {
      error = err;
    }
    expect(error).to.be.instanceOf(TransportError);
    return { error: error as TransportError, ms: performance.now() - t0 };
  }

  it('listen and connect fail at once, naming the address, where no server listens', async function () {
    const port = await freePort();
    for (const [what, p, address] of [
      ['listen', () => listen(`nats://127.0.0.1:${port}/app`, () => {}, { timeoutMs: 20_000 }), `nats://127.0.0.1:${port}/app`],
      ['connect', () => connect(`nats://127.0.0.1:${port}/app/x`, { timeoutMs: 20_000 }), `nats://127.0.0.1:${port}/app/x`],
    ] as const) {
      const { error, ms } = await failure(p);
      expect(error.code, what).to.equal('ECONNREFUSED');
      expect(error.address, what).to.equal(address);
      expect(error.message, what).to.include(address).and.include('nats-server');
      // ECONNREFUSED, not ETIMEDOUT: it did not wait for the deadline (a hang guard here)
      expect(ms, what).to.be.below(10_000);
    }
  });

  it('listen and connect fail within timeoutMs, naming the address, when the server never answers', async function () {
    // A TCP listener that accepts and says nothing: a hung server, or something that is not NATS.
    silent = createServer((s) => void sockets.add(s));
    await new Promise<void>((r) => silent!.listen(0, '127.0.0.1', () => r()));
    const { port } = silent.address() as { port: number };
    for (const [what, p, address] of [
      ['listen', () => listen(`nats://127.0.0.1:${port}/app`, () => {}, { timeoutMs: 700 }), `nats://127.0.0.1:${port}/app`],
      ['connect', () => connect(`nats://127.0.0.1:${port}/app/x`, { timeoutMs: 700 }), `nats://127.0.0.1:${port}/app/x`],
    ] as const) {
      const { error, ms } = await failure(p);
      expect(error.code, what).to.equal('ETIMEDOUT');
      expect(error.message, what).to.include(address);
      // at the deadline: not before it, and not long after it (a hang guard, not a timing)
      expect(ms, what).to.be.at.least(700).and.below(10_000);
    }
  });

  for (const how of ['killed', 'hung'] as const) {
    it(`ends a listener's links and the client's as peer-gone within the heartbeat timeout when the server is ${how}`, async function () {
      const server = await startNatsServer();
      try {
        const { listener, accepted } = await listenAt(server, 'gone', '?heartbeat=50&timeout=400');
        const link = await connect(`${listener.address.href}`);
        const far = await accepted();
        const echoed = new Promise<void>((resolve) => link.onFrame(() => resolve()));
        far.onFrame((f) => far.send(f));
        link.send(Buffer.from('hi'));
        await withTimeout(echoed, 5_000, 'an echo before the server goes');
        // killed: the server's sockets close; hung (SIGSTOP): they stay open and only the
        // silence of the heartbeats tells.
        if (how === 'killed') await server.kill();
        else server.process.kill('SIGSTOP');
        // The listener's side uses heartbeat 50 / timeout 400; the client's the defaults (600).
        const [a, b] = await withTimeout(Promise.all([far.closed, link.closed]), 3_000, 'both links ending');
        expect(a.kind).to.equal('peer-gone');
        expect(b.kind).to.equal('peer-gone');
        if (how === 'hung') server.process.kill('SIGCONT');
        await listener.close();
      } finally {
        if (server.process.signalCode === null && server.process.exitCode === null) server.process.kill('SIGCONT');
        await server.kill();
      }
    });
  }
});
