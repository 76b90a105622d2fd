/**
 * pool.test.ts: system.spawnPool() over every core transport: calls go to the worker with
 * the fewest in flight; a dead worker fails only its own in-flight asks (PeerGoneError)
 * while the others answer; the pool keeps answering while one of its workers is SIGKILLed
 * every 200 ms; resize() grows and shrinks it, stopping and reaping the removed workers.
 */
import { expect } from 'chai';
import { ActorSystem, PeerGoneError, type PoolRef } from '../../src/index.js';
import type worker from '../fixtures/supervised-worker.js';
import { alive, CORE_TRANSPORTS, gone, nextRunning, sleep, WORKER } from './helpers.js';

type Worker = typeof worker;
const OPTIONS = { stdio: 'ignore' as const, backoff: { initialMs: 20 }, intensity: { maxRestarts: 1000 } };

describe('supervision: pools', function () {
  let system: ActorSystem;
  beforeEach(async () => {
    system = await ActorSystem.start({ onError: () => {} });
  });
  afterEach(async () => {
    await system.stop();
  });

  for (const transport of CORE_TRANSPORTS) {
    describe(`over ${transport}`, function () {
      it('spreads asks least-outstanding-first; a dead worker rejects only its own in-flight asks with PeerGoneError', async function () {
        const pool = await system.spawnPool<Worker>(WORKER, { size: 3, transport, name: `pool-${transport}`, ...OPTIONS });
        const slow = [0, 1, 2].map(() => pool.ask('slow', 700));
        const pids = pool.workers.map((w) => w.pid!);
        const victim = pool.workers[1]!;
        const back = nextRunning(victim.status$, pids[1]);
        process.kill(pids[1]!, 'SIGKILL');
        const outcomes = await Promise.all(slow.map((p) => p.then((pid) => pid, (e: unknown) => e)));
        const rejected = outcomes.filter((o) => o instanceof PeerGoneError);
        const answered = outcomes.filter((o) => typeof o === 'number');
        expect(rejected, 'only the killed worker\'s ask failed').to.have.length(1);
        expect(answered.sort(), 'one slow ask per worker: the other two answered').to.deep.equal([pids[0], pids[2]].sort());
        // while the victim restarts, new asks go to the others; then to all three again
        await back;
        const later = await Promise.all([0, 1, 2].map(() => pool.ask('slow', 300)));
        expect(new Set(later).size, 'three asks at once land on three workers').to.equal(3);
      });

      it('keeps answering while one of its workers is SIGKILLed every 200 ms', async function () {
        const pool = await system.spawnPool<Worker>(WORKER, { size: 3, transport, name: `chaos-${transport}`, ...OPTIONS });
        let kills = 0;
        let turn = 0;
        const killer = setInterval(() => {
          // the next running worker in turn (one still starting is not "a child of the pool" yet)
          for (let k = 0; k < 3; k++) {
            const w = pool.workers[turn++ % 3]!;
            if (w.status.type === 'running') {
              process.kill(w.pid!, 'SIGKILL');
              kills++;
              return;
            }
          }
        }, 200);
        // At least 1.4 s, and until three kills happened: on a loaded machine a restart over shm
        // can outlast a tick, and a tick with no running worker kills nobody.
        const until = Date.now() + 1400;
        const giveUp = Date.now() + 20_000;
        let answered = 0;
        const other: unknown[] = [];
        const caller = async (): Promise<void> => {
          while ((Date.now() < until || kills < 3) && Date.now() < giveUp) {
            try {
              await pool.with({ timeout: 10_000 }).ask('pid');
              answered++;
            } catch (err) {
              if (!(err instanceof PeerGoneError)) other.push(`${(err as Error).name} ${(err as { code?: string }).code}: ${(err as Error).message}`);
            }
          }
        };
        try {
          await Promise.all([caller(), caller(), caller(), caller()]);
        } finally {
          clearInterval(killer);
        }
        expect(other.length, `no error but PeerGoneError: ${other.join('; ')}`).to.equal(0);
        expect(kills, 'workers were killed').to.be.at.least(3);
        expect(answered, `answers while ${kills} workers were killed`).to.be.above(kills);
        // and afterwards every worker is back
        // (a worker killed by the last tick may still look running until its exit is handled)
        for (const end = Date.now() + 15_000; !pool.workers.every((w) => w.status.type === 'running' && alive(w.pid!)); ) {
          if (Date.now() > end) throw new Error(`the pool did not recover: ${pool.workers.map((w) => w.status.type).join(', ')}`);
          await sleep(20);
        }
        const pids = await Promise.all([0, 1, 2].map(() => pool.ask('slow', 300)));
        expect(new Set(pids).size).to.equal(3);
      });
    });
  }

  it('resize() grows the pool, and shrinking stops and reaps the removed workers after their calls finish', async function () {
    const pool: PoolRef<Worker> = await system.spawnPool<Worker>(WORKER, { size: 2, name: 'elastic', ...OPTIONS });
    await pool.resize(4);
    expect(pool.size).to.equal(4);
    const four = await Promise.all([0, 1, 2, 3].map(() => pool.ask('slow', 300)));
    expect(new Set(four).size).to.equal(4);
    const removed = pool.workers.slice(1).map((w) => w.pid!);
    const inFlight = pool.workers[3]!.ask('slow', 300);
    await pool.resize(1);
    expect(await inFlight, 'the removed worker finished its call first').to.equal(removed[2]);
    expect(pool.size).to.equal(1);
    for (const pid of removed) await gone(pid, 5000, 'removed worker');
    expect(await pool.ask('pid')).to.equal(pool.workers[0]!.pid);
    await sleep(0);
  });
});
