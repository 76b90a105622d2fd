/**
 * chain.test.ts: three systems in a line, A (this process) - B (a child) - C (another child,
 * listening; B connects to it). A reaches C's actors only through B, by a ref B hands it:
 * ask, stream with credit, and cancel all cross the middle, and losing C mid-request errors
 * A's side with PeerGoneError. B opts in to forwarding (`forward: true`, off by default). Run over two scheme combinations rather than all (the per-hop
 * behaviour is the same code for every transport).
 */
import { expect } from 'chai';
import { rmSync } from 'node:fs';
import { lastValueFrom, range, toArray, type Subscription } from 'rxjs';
import { ActorSystem, getTransport, PeerGoneError, RemoteError, type ActorRef } from '../../src/index.js';
import { rejection } from '../setup/outcomes.js';
import { withTimeout } from '../setup/timing.js';
import { privateAddress } from '../../src/transports/core/private-address.js';
import { Bench, type PeerChild } from './peers.js';

/** [A-B scheme, B-C scheme]; B-C must be an addressed scheme (C listens). */
const CHAINS: [string, string][] = [
  ['socketpair', 'unix'],
  ['tcp', 'tcp'],
];

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Removes what a SIGKILLed listener left at a file address (reclaiming after a crash). */
function reclaim(address: string): void {
  const url = new URL(address);
  if (url.pathname && url.host === '' && url.protocol !== 'tcp:') rmSync(url.pathname, { force: true });
}

for (const [ab, bc] of CHAINS) {
  describe(`bus: chain A-(${ab})-B-(${bc})-C`, function () {
    this.timeout(30_000);
    let bench: Bench;
    let b: PeerChild;
    let seq = 0;

    before(async function () {
      const system = await ActorSystem.start({ name: Bench.name('chain-a'), onError: () => {} });
      bench = new Bench(getTransport(ab), system, 'chain');
      await bench.start();
      b = await bench.peer({ forward: true }, 'chain-b');
    });

    after(async function () {
      await bench?.stop();
    });

    /** Starts a C, has B connect to it, and returns refs (through B) to C's actors. */
    async function startC(): Promise<{ node: string; address: string; kill: () => void; echo: ActorRef; producer: ActorRef }> {
      const c = await bench.listeningPeer(privateAddress(bc, bench.dir, `c${++seq}`), {}, 'chain-c');
      expect(await b.remote.ref('echo').ask('connectTo', c.address)).to.equal(c.node);
      const echo = (await b.remote.ref('echo').ask('refTo', `${c.node}/echo`)) as ActorRef;
      const producer = (await b.remote.ref('echo').ask('refTo', `${c.node}/producer`)) as ActorRef;
      return {
        node: c.node,
        address: c.address,
        kill: () => {
          c.process.kill('SIGKILL');
          reclaim(c.address);
        },
        echo,
        producer,
      };
    }

    it("an answer from C too large for A's maxFrame reaches A as ERR_FRAME_TOO_LARGE, through B", async function () {
      // C checks its answer against B's maxFrame only; B finds it too large for A. Before
      // issue 12, B dropped it silently and A's ask waited for its own timeout.
      const c = await startC();
      const small = await ActorSystem.start({ name: Bench.name('chain-small'), onError: () => {} });
      const smallBench = new Bench(getTransport(ab), small, 'chain-small', 64 * 1024);
      try {
        await smallBench.start();
        const b2 = await smallBench.peer({ forward: true }, 'chain-b2');
        expect(await b2.remote.ref('echo').ask('connectTo', c.address)).to.equal(c.node);
        const far = (await b2.remote.ref('echo').ask('refTo', `${c.node}/echo`)) as ActorRef;
        const err = (await rejection(withTimeout(far.with({ timeout: 20_000 }).ask('bytes', 100 * 1024), 15_000, 'the answer'))) as RemoteError;
        expect(err).to.be.instanceOf(RemoteError);
        expect(err.code).to.equal('ERR_FRAME_TOO_LARGE');
        expect(err.message).to.match(/above the maxFrame of 65536/);
        expect(await far.ask('echo', 'still up')).to.equal('still up');
      } finally {
        await smallBench.stop();
      }
    });

    it('A asks, streams and opens a channel to C through B', async function () {
      const c = await startC();
      expect(c.echo.node).to.equal(c.node);
      expect(bench.system.remotes.map((r) => r.node), 'A has no direct connection to C').to.not.include(c.node);
      expect(await c.echo.ask('echo', new Map([[1, 2n]]))).to.deep.equal(new Map([[1, 2n]]));
      expect(await c.echo.ask('pid')).to.not.equal(await b.remote.ref('echo').ask('pid'));
      const err = (await rejection(c.echo.ask('fail', 'TypeError', 'from C', 'E_C'))) as RemoteError;
      expect(err).to.be.instanceOf(RemoteError);
      expect(err.code).to.equal('E_C');
      // credit crosses B both ways: 2,000 values with prefetch 8
      const got = await lastValueFrom(c.producer.with({ prefetch: 8, bufferSize: 2000 }).stream('count', 2000).pipe(toArray()));
      expect(got).to.deep.equal(Array.from({ length: 2000 }, (_, i) => i));
      const probe = (await c.echo.ask('probe')) as { maxInFlight: number };
      expect(probe.maxInFlight, 'in flight at C, counted on its wire').to.equal(8);
      const doubled = await lastValueFrom(c.producer.with({ prefetch: 4, bufferSize: 500 }).channel('double', range(0, 500)).pipe(toArray()));
      expect(doubled).to.deep.equal(Array.from({ length: 500 }, (_, i) => i * 2));
    });

    it("A's unsubscribe reaches C through B: the teardown runs there", async function () {
      const c = await startC();
      const key = `chain-${Date.now()}`;
      let sub: Subscription | undefined;
      await new Promise<void>((resolve, reject) => {
        sub = c.producer.stream('watched', key, 5).subscribe({ next: () => resolve(), error: reject });
      });
      sub!.unsubscribe();
      expect(await c.producer.ask('tornDown', key)).to.be.above(0);
    });

    it("killing C mid-stream and mid-ask errors A's requests with PeerGoneError within 1 s; A-B lives on", async function () {
      const c = await startC();
      let values = 0;
      let streamErr: Error | undefined;
      c.producer.stream('ticks', 5).subscribe({ next: () => values++, error: (e: Error) => (streamErr = e) });
      const ask = c.echo.ask('slow', 20_000);
      ask.catch(() => {});
      const end = Date.now() + 5000;
      while (values < 3 && Date.now() < end) await sleep(5);
      expect(values).to.be.at.least(3);
      const t0 = Date.now();
      c.kill();
      const askErr = await withTimeout(rejection(ask), 1000, 'ask through B rejected');
      while (!streamErr && Date.now() - t0 < 1000) await sleep(5);
      expect(askErr).to.be.instanceOf(PeerGoneError);
      expect(streamErr).to.be.instanceOf(PeerGoneError);
      expect(Date.now() - t0).to.be.below(1000);
      // a new request toward C fails fast at B rather than hanging
      expect(await withTimeout(rejection(c.echo.ask('echo', 1)), 1000, 'ask to dead C')).to.be.instanceOf(PeerGoneError);
      expect(await b.remote.ref('echo').ask('echo', 'B is fine')).to.equal('B is fine');
    });
  });
}
