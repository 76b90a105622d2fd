/**
 * streams.test.ts: a stream from a supervised child that dies errors with PeerGoneError, and
 * RxJS's own `retry({ delay })` resubscribes through the same ref and reaches the restarted
 * child (a subscription made while the child is down waits for it).
 */
import { expect } from 'chai';
import { firstValueFrom, filter, retry, tap, timer } from 'rxjs';
import { ActorSystem, PeerGoneError } from '../../src/index.js';
import type worker from '../fixtures/supervised-worker.js';
import { CORE_TRANSPORTS, WORKER } from './helpers.js';

describe('supervision: streams across a restart', function () {
  let system: ActorSystem;
  beforeEach(async () => {
    system = await ActorSystem.start({ onError: () => {} });
  });
  afterEach(async () => {
    await system.stop();
  });

  for (const transport of CORE_TRANSPORTS) {
    it(`over ${transport}: the stream errors with PeerGoneError, and retry({ delay }) reaches the restarted child`, async function () {
      const ref = await system.spawn<typeof worker>(WORKER, { transport, name: `ticker-${transport}`, stdio: 'ignore', backoff: { initialMs: 50 } });
      const firstPid = ref.pid!;
      const errors: unknown[] = [];
      let killed = false;
      const fromNewChild = firstValueFrom(
        ref.stream('ticks', 10).pipe(
          tap((v) => {
            // a few values from the first child, then kill it under the stream
            if (!killed && v.pid === firstPid && v.n === 3) {
              killed = true;
              process.kill(firstPid, 'SIGKILL');
            }
          }),
          retry({
            count: 5,
            delay: (err: unknown) => {
              errors.push(err);
              return timer(20);
            },
          }),
          filter((v) => v.pid !== firstPid),
        ),
      );
      const v = await fromNewChild;
      expect(killed).to.equal(true);
      expect(v.pid).to.equal(ref.pid);
      expect(errors.length, 'one error per failed subscription').to.be.at.least(1);
      expect(errors[0]).to.be.instanceOf(PeerGoneError);
    });
  }
});
