/**
 * sigstop-supervised.test.ts: a supervised child (system.spawn) SIGSTOPped for longer than
 * its liveness allows, over the transports test/supervision/liveness.test.ts does not run
 * (fifo, msgq, udp: that suite covers pipe, socketpair, shm, unix and tcp, so they are not
 * generated here again).
 *
 * Outcome (docs/GUARANTEES.md, "SIGSTOP" and section 3): the stopped child is found gone,
 * by the supervisor's heartbeats (`hung`) or, on udp, by the link's own silence timeout
 * first (`link-lost`), and killed with SIGKILL (a stopped process cannot act on SIGTERM);
 * the ask it held rejects with PeerGoneError; the old process is reaped; its restarted
 * successor answers; and once the system stopped nothing of either is left.
 */
import { expect } from 'chai';
import { ActorSystem, PeerGoneError, type ChildStatus } from '../../src/index.js';
import type worker from '../fixtures/supervised-worker.js';
import { withTimeout } from '../setup/timing.js';
import { nextRunning, procState, statusWhere, WORKER } from '../supervision/helpers.js';
import { expectNothingLeft, tmpNames } from './helpers.js';

const LIVENESS = { intervalMs: 200, hungAfterMs: 1000 };

describe('fault: SIGSTOP of a supervised child past its liveness', function () {
  let system: ActorSystem | undefined;
  afterEach(async () => {
    await system?.stop();
    system = undefined;
  });

  for (const transport of ['fifo', 'msgq', 'udp'] as const) {
    it(`over ${transport}: found gone, SIGKILLed and reaped, the held ask rejects with PeerGoneError, a new incarnation answers; nothing left`, async function () {
      // each incarnation gets a private switchyard-spawn-* dir in the run's temp dir while it
      // links (launch.ts); none may outlive the case
      const spawnDirsBefore = tmpNames('switchyard-spawn-');
      const sys = (system = await ActorSystem.start({ onError: () => {} }));
      const ref = await sys.spawn<typeof worker>(WORKER, { transport, name: `frozen-${transport}`, stdio: 'ignore', liveness: LIVENESS, killAfterMs: 300, backoff: { initialMs: 50 } });
      const oldPid = ref.pid!;
      const newSpawnDirs = (): string[] => [...tmpNames('switchyard-spawn-')].filter((n) => !spawnDirsBefore.has(n));
      const exited = statusWhere(ref.status$, (s) => s.type === 'exited', 15_000, 'the stopped child exits');
      const held = ref.ask('slow', 60_000).then(
        () => 'answered',
        (e: unknown) => e,
      );
      process.kill(oldPid, 'SIGSTOP');
      const exit = (await exited) as Extract<ChildStatus, { type: 'exited' }>;
      expect(exit.pid).to.equal(oldPid);
      expect(exit.signal).to.equal('SIGKILL');
      expect(exit.cause).to.be.oneOf(['hung', 'link-lost']);
      expect(await withTimeout(held, 15_000, 'the held ask'), 'the held ask').to.be.instanceOf(PeerGoneError);
      const pid = await nextRunning(ref.status$, oldPid);
      expect(await ref.ask('pid')).to.equal(pid);
      expect(procState(oldPid), 'the old process is reaped').to.equal(undefined);

      system = undefined;
      await sys.stop();
      expectNothingLeft(`after a stopped supervised child over ${transport}`, [oldPid, pid, process.pid], undefined);
      expect(newSpawnDirs(), 'private dirs of both incarnations').to.deep.equal([]);
    });
  }
});
