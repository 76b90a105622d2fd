/**
 * strategies.test.ts: system.supervise() with one_for_one, one_for_all and rest_for_one,
 * over five children linked five ways (pipe, socketpair, shm, unix, tcp): SIGKILL the
 * middle one and exactly the children the strategy names get new processes; the others keep
 * their pids. Too many restarts in the group end every child `failed`.
 */
import { expect } from 'chai';
import { ActorSystem, ChildFailedError, type SupervisedRef, type SupervisionStrategy } from '../../src/index.js';
import type worker from '../fixtures/supervised-worker.js';
import { CORE_TRANSPORTS, nextRunning, procState, statusWhere, WORKER } from './helpers.js';

const EXPECTED: Record<SupervisionStrategy, number[]> = {
  one_for_one: [2],
  one_for_all: [0, 1, 2, 3, 4],
  rest_for_one: [2, 3, 4],
};

const specs = (tag: string): Array<{ module: URL; name: string; transport: string; stdio: 'ignore'; backoff: { initialMs: number } }> =>
  CORE_TRANSPORTS.map((transport) => ({ module: WORKER, name: `${tag}-${transport}`, transport, stdio: 'ignore', backoff: { initialMs: 20 } }));

describe('supervision: strategies', function () {
  let system: ActorSystem;
  beforeEach(async () => {
    system = await ActorSystem.start({ onError: () => {} });
  });
  afterEach(async () => {
    await system.stop();
  });

  for (const strategy of ['one_for_one', 'one_for_all', 'rest_for_one'] as const) {
    it(`${strategy}: killing the middle child (shm) restarts exactly children ${EXPECTED[strategy].join(', ')}`, async function () {
      const sup = await system.supervise(specs(strategy), { strategy });
      const refs = sup.children as SupervisedRef<typeof worker>[];
      for (const r of refs) await r.ask('inc', 1);
      const before = refs.map((r) => r.pid!);
      const restarted = EXPECTED[strategy];
      const back = restarted.map((i) => nextRunning(refs[i]!.status$, before[i]));
      process.kill(before[2]!, 'SIGKILL');
      await Promise.all(back);
      // every child answers; the restarted ones with fresh state
      const counts = await Promise.all(refs.map((r) => r.ask('count')));
      const after = refs.map((r) => r.pid!);
      for (let i = 0; i < refs.length; i++) {
        const label = `child ${i} (${CORE_TRANSPORTS[i]})`;
        if (restarted.includes(i)) {
          expect(after[i], `${label} has a new process`).to.not.equal(before[i]);
          expect(counts[i], `${label} has fresh state`).to.equal(0);
          expect(procState(before[i]!), `${label}'s old process is reaped`).to.equal(undefined);
        } else {
          expect(after[i], `${label} kept its process`).to.equal(before[i]);
          expect(counts[i], `${label} kept its state`).to.equal(1);
        }
      }
    });
  }

  it('one_for_all: more restarts than the intensity allows fail every child and resolve `failed`', async function () {
    const sup = await system.supervise(specs('fail').slice(0, 3), { strategy: 'one_for_all', intensity: { maxRestarts: 1, periodMs: 60_000 } });
    const refs = sup.children as SupervisedRef<typeof worker>[];
    const failed = refs.map((r) => statusWhere(r.status$, (s) => s.type === 'failed', 20_000, `${r.actor} failed`));
    const first = refs.map((r) => r.pid!);
    const back = refs.map((r, i) => nextRunning(r.status$, first[i]));
    process.kill(first[0]!, 'SIGKILL');
    await Promise.all(back); // the one restart allowed: the whole group
    const pids = refs.map((r) => r.pid);
    process.kill(refs[1]!.pid!, 'SIGKILL');
    const error = await sup.failed;
    expect(error).to.be.instanceOf(ChildFailedError);
    expect(error.message).to.match(/more than 1 restart\(s\) within 60000 ms/);
    await Promise.all(failed);
    for (const r of refs) expect(await r.ask('count').then(() => 'answered', (e: unknown) => e)).to.equal(error);
    for (const pid of pids) expect(procState(pid!), `pid ${pid} is gone and reaped`).to.equal(undefined);
  });
});
