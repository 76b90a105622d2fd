/**
 * policy.test.ts: the pure parts of supervision: which exits each restart policy restarts,
 * the sliding window of restart intensity, and the documented backoff defaults.
 */
import { expect } from 'chai';
import { Backoff, DEFAULT_BACKOFF } from '../../src/actors/supervision/backoff.js';
import { RestartIntensity, wantsRestart } from '../../src/actors/supervision/restart-policy.js';
import type { ExitInfo } from '../../src/actors/supervision/status.js';

const exit = (code: number | null, signal: NodeJS.Signals | null, cause: ExitInfo['cause'] = 'exited'): ExitInfo => ({ pid: 1, code, signal, cause });

describe('supervision: restart policy, intensity and backoff', function () {
  it('permanent restarts every exit, transient only abnormal ones, temporary none; a stop on purpose never', function () {
    const cases: Array<[ExitInfo, boolean, boolean, boolean]> = [
      [exit(0, null), true, false, false],
      [exit(1, null), true, true, false],
      [exit(null, 'SIGKILL'), true, true, false],
      [exit(0, null, 'hung'), true, true, false],
      [exit(0, null, 'link-lost'), true, true, false],
      [exit(0, null, 'stopped'), false, false, false],
    ];
    for (const [e, permanent, transient, temporary] of cases) {
      const label = JSON.stringify(e);
      expect(wantsRestart('permanent', e), `permanent ${label}`).to.equal(permanent);
      expect(wantsRestart('transient', e), `transient ${label}`).to.equal(transient);
      expect(wantsRestart('temporary', e), `temporary ${label}`).to.equal(temporary);
    }
  });

  it('intensity allows 3 restarts in 5 s by default, refuses the 4th, and forgets restarts older than the period', function () {
    const i = new RestartIntensity();
    expect([i.allow(0), i.allow(1000), i.allow(2000), i.allow(3000)]).to.deep.equal([true, true, true, false]);
    expect(i.allow(5001), 'the first one left the window').to.equal(true);
    expect(() => new RestartIntensity({ maxRestarts: -1 })).to.throw(RangeError);
  });

  it('backoff doubles from 100 ms up to 10 s, and starts over after a stable run', function () {
    expect(DEFAULT_BACKOFF).to.deep.equal({ initialMs: 100, factor: 2, maxMs: 10_000, resetAfterMs: 10_000 });
    const b = new Backoff();
    const delays = Array.from({ length: 9 }, () => b.next(50).delayMs);
    expect(delays).to.deep.equal([100, 200, 400, 800, 1600, 3200, 6400, 10_000, 10_000]);
    expect(b.next(10_000), 'ran 10 s: stable').to.deep.equal({ attempt: 1, delayMs: 100 });
    expect(() => new Backoff({ factor: 0.5 })).to.throw(RangeError);
  });
});
