/**
 * liveness.test.ts: heartbeats find a child that stops answering: SIGSTOPped (over every
 * core transport) or stuck in a busy loop. It is declared hung, sent SIGTERM, then SIGKILL
 * (a stopped process cannot act on SIGTERM), reaped, and restarted by its policy.
 */
import { expect } from 'chai';
import { ActorSystem, type ChildStatus } from '../../src/index.js';
import type worker from '../fixtures/supervised-worker.js';
import { CORE_TRANSPORTS, nextRunning, procState, record, statusWhere, WORKER } from './helpers.js';

const LIVENESS = { intervalMs: 200, hungAfterMs: 1000 };

describe('supervision: liveness', function () {
  let system: ActorSystem;
  beforeEach(async () => {
    system = await ActorSystem.start({ onError: () => {} });
  });
  afterEach(async () => {
    await system.stop();
  });

  for (const transport of CORE_TRANSPORTS) {
    it(`a SIGSTOPped child over ${transport} is found hung, killed (SIGTERM, then SIGKILL), reaped and replaced`, async function () {
      const ref = await system.spawn<typeof worker>(WORKER, { transport, name: `stopped-${transport}`, stdio: 'ignore', liveness: LIVENESS, killAfterMs: 300 });
      const seen = record(ref.status$);
      const oldPid = ref.pid!;
      const exited = statusWhere(ref.status$, (s) => s.type === 'exited', 15_000, 'the hung child exits');
      process.kill(oldPid, 'SIGSTOP');
      const exit = (await exited) as Extract<ChildStatus, { type: 'exited' }>;
      expect(exit).to.deep.include({ pid: oldPid, cause: 'hung', signal: 'SIGKILL' });
      const pid = await nextRunning(ref.status$, oldPid);
      expect(await ref.ask('pid')).to.equal(pid);
      expect(procState(oldPid), 'the old process is reaped').to.equal(undefined);
      expect(seen.map((s) => s.type)).to.deep.equal(['running', 'exited', 'restarting', 'starting', 'running']);
    });
  }

  it('a child in a busy loop is found hung and replaced; the ask that hung it rejects with PeerGoneError', async function () {
    const ref = await system.spawn<typeof worker>(WORKER, { name: 'busy', stdio: 'ignore', liveness: LIVENESS, killAfterMs: 300 });
    const oldPid = ref.pid!;
    const outcome = ref.ask('spin', 60_000).then(() => 'answered', (e: unknown) => (e as Error).name);
    const pid = await nextRunning(ref.status$, oldPid);
    expect(await outcome).to.equal('PeerGoneError');
    expect(await ref.ask('pid')).to.equal(pid);
    expect(procState(oldPid)).to.equal(undefined);
  });
});
