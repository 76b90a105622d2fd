/**
 * iterate.test.ts: `iterate()`, a stream with end-to-end backpressure (issue 14: a stream
 * consumed through `concatMap(timer)` grew its consumer by 670 MB, because credit went back
 * as values reached the first operator). The producer runs at full speed in another process;
 * a slow `for await` body must hold it back to the credit, get every value in order, and
 * cancel the producer (its generator's finally runs) when the loop is left early.
 */
import { expect } from 'chai';
import { fileURLToPath } from 'node:url';
import { firstValueFrom, lastValueFrom, Observable, range, toArray } from 'rxjs';
import { ActorSystem, defineActor, iterate, RemoteError, StreamOverflowError, type ActorRef, type RemoteSystem, type SystemListener } from '../../src/index.js';
import { privateAddress } from '../../src/transports/core/private-address.js';
import { makeTempDir } from '../setup/tmp.js';
import { runChild } from './child-lines.js';
import type worker from '../fixtures/supervised-worker.js';
import { WORKER } from '../supervision/helpers.js';
import { sleep, until } from '../setup/timing.js';

const PRODUCER = fileURLToPath(new URL('../fixtures/producer.js', import.meta.url));

const PREFETCH = 16;

for (const scheme of ['unix', 'shm']) {
  describe(`limits: iterate(), a stream with end-to-end backpressure (${scheme})`, function () {
    this.timeout(120_000);
    let system: ActorSystem;
    let listener: SystemListener;
    let child: ReturnType<typeof runChild>;
    let producer: ActorRef;

    before(async function () {
      system = await ActorSystem.start({ name: `iter-rx-${scheme}-${process.pid}`, onError: () => {} });
      listener = await system.listen(privateAddress(scheme, makeTempDir(), 'iter'));
      const connected = firstValueFrom(system.connections$);
      child = runChild([PRODUCER, listener.address, `iter-tx-${scheme}-${process.pid}`]);
      const remote: RemoteSystem = await connected;
      producer = remote.ref('producer').with({ prefetch: PREFETCH, bufferSize: 0 });
    });

    after(async function () {
      await listener?.close();
      await system?.stop();
      child?.child.kill('SIGKILL');
      if (child) await child.exited;
    });

    it('a slow loop body holds the producer to the credit: every value, in order, never more than prefetch ahead', async function () {
      const base = (await producer.ask('produced')) as number;
      const N = 400;
      let consumed = 0;
      let maxAhead = 0;
      let outOfOrder = 0;
      for await (const v of iterate(producer, 'count', N)) {
        if (v !== consumed) outOfOrder++;
        consumed++;
        await sleep(2); // the slow body
        if (consumed % 40 === 0) {
          const ahead = (await producer.ask('produced')) as number - base - consumed;
          maxAhead = Math.max(maxAhead, ahead);
        }
      }
      expect(consumed).to.equal(N);
      expect(outOfOrder).to.equal(0);
      // credit 16, bufferSize 0: produced but not yet taken by the loop is at most 16
      expect(maxAhead, 'values produced ahead of the loop').to.be.at.most(PREFETCH);
    });

    it('leaving the loop early cancels the stream: the producer tears its source down', async function () {
      const before = (await producer.ask('cancelled')) as number;
      let seen = 0;
      for await (const v of iterate(producer, 'count', 1e9)) {
        expect(v).to.equal(seen);
        if (++seen === 50) break;
      }
      await until('the producer sees the cancel', 30_000, async () => ((await producer.ask('cancelled')) as number) === before + 1);
    });

    it('next() calls made at once are answered in the order made: the values in order, then done', async function () {
      const it = iterate(producer, 'count', 3);
      const results = await Promise.all([it.next(), it.next(), it.next(), it.next(), it.next()]);
      expect(results).to.deep.equal([
        { value: 0, done: false },
        { value: 1, done: false },
        { value: 2, done: false },
        { value: undefined, done: true },
        { value: undefined, done: true },
      ]);
    });

    it('a stream error is thrown into the loop once, then the iterator is done', async function () {
      const untyped = iterate as (ref: ActorRef, name: string) => AsyncIterableIterator<unknown>;
      const it = untyped(producer, 'nope');
      let err: unknown;
      try {
        await it.next();
      } catch (e) {
        err = e;
      }
      expect(err).to.be.instanceOf(RemoteError);
      expect((err as RemoteError).code).to.equal('ERR_NO_HANDLER');
      expect(await it.next()).to.deep.equal({ value: undefined, done: true });
    });
  });
}

describe('limits: iterate() on an actor in this process', function () {
  it('pulls a generator only as the loop takes values, and bounds an Observable by prefetch + bufferSize', async function () {
    const system = await ActorSystem.start({ name: `iter-local-${process.pid}` });
    let produced = 0;
    const ref = system.local(
      defineActor({
        init: () => ({}),
        streams: {
          gen: function* () {
            for (let i = 0; ; i++) {
              produced++;
              yield i;
            }
          },
          burst: () => range(0, 1000),
          late: () => new Observable<number>((s) => void setTimeout(() => (s.next(1), s.complete()), 5)),
        },
      }),
      { name: 'p' },
    ).with({ prefetch: 8, bufferSize: 4 });
    let taken = 0;
    for await (const v of iterate(ref, 'gen')) {
      expect(v).to.equal(taken);
      if (++taken === 100) break;
      expect(produced - taken, 'pulled ahead of the loop').to.be.at.most(8);
    }
    const it = iterate(ref, 'burst');
    let err: unknown;
    try {
      for await (const _ of it) await sleep(1);
    } catch (e) {
      err = e;
    }
    expect(err, 'an Observable beyond prefetch + bufferSize overflows').to.be.instanceOf(StreamOverflowError);
    const late: number[] = [];
    for await (const v of iterate(ref, 'late')) late.push(v as number);
    expect(late).to.deep.equal([1]);
    expect(await lastValueFrom(ref.stream('burst').pipe(toArray()))).to.have.length(1000);
    await system.stop();
  });
});

describe('limits: iterate() through a supervised child and a pool', function () {
  this.timeout(60_000);
  it('takes its Demand through ref.with(): every value, in order, from a spawned child and from a pool', async function () {
    const system = await ActorSystem.start({ name: `iter-sup-${process.pid}`, onError: () => {} });
    try {
      const child = await system.spawn<typeof worker>(WORKER, { transport: 'socketpair', name: 'iter-child', stdio: 'ignore' });
      const pool = await system.spawnPool<typeof worker>(WORKER, { size: 1, transport: 'socketpair', stdio: 'ignore' });
      const refs: ActorRef<typeof worker>[] = [child.with({ prefetch: 4 }), pool.with({ prefetch: 4 })];
      for (const ref of refs) {
        const got: number[] = [];
        for await (const v of iterate(ref, 'count', 50)) {
          got.push(v);
          await sleep(1);
        }
        expect(got).to.deep.equal([...Array(50).keys()]);
      }
    } finally {
      await system.stop();
    }
  });
});
