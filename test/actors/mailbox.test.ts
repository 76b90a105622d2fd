/**
 * mailbox.test.ts: the mailbox's order and exclusivity, through both doors: post() and the
 * idle fast path runTell() that tells take (issue 12).
 */
import { expect } from 'chai';
import { Mailbox } from '../../src/actors/mailbox.js';

describe('mailbox', function () {
  const report = (onError: (err: unknown) => void, err: unknown): void => onError(err);

  it('runTell runs at once when idle; what the handler posts runs after it, in order', function () {
    const m = new Mailbox();
    const seen: string[] = [];
    expect(m.idle).to.equal(true);
    m.runTell(
      (_s, a) => {
        seen.push(`tell ${String(a)}`);
        m.post(() => seen.push('posted 1'));
        m.post(() => seen.push('posted 2'));
        expect(m.idle, 'busy while the handler runs').to.equal(false);
        seen.push('tell end');
      },
      undefined,
      ['x'],
      () => seen.push('error'),
      report,
    );
    expect(seen).to.deep.equal(['tell x', 'tell end', 'posted 1', 'posted 2']);
    expect(m.idle).to.equal(true);
  });

  it('an async tell holds the mailbox until it settles; a throw or rejection reaches onError once', async function () {
    const m = new Mailbox();
    const seen: string[] = [];
    let release!: () => void;
    m.runTell(() => new Promise<void>((r) => (release = r)).then(() => seen.push('async done')), undefined, [], () => seen.push('error'), report);
    m.post(() => seen.push('queued'));
    expect(m.idle).to.equal(false);
    await Promise.resolve();
    expect(seen).to.deep.equal([]);
    release();
    await new Promise((r) => setImmediate(r));
    expect(seen).to.deep.equal(['async done', 'queued']);
    const errors: unknown[] = [];
    m.runTell(() => {
      throw new Error('sync');
    }, undefined, [], (e) => errors.push(e), report);
    m.runTell(() => Promise.reject(new Error('async')), undefined, [], (e) => errors.push(e), report);
    await new Promise((r) => setImmediate(r));
    expect(errors.map((e) => (e as Error).message)).to.deep.equal(['sync', 'async']);
    expect(m.idle).to.equal(true);
  });

  it('an error callback that throws does not wedge the mailbox: the throw is rethrown apart, the next job runs', function () {
    const m = new Mailbox();
    const seen: string[] = [];
    const rethrown: unknown[] = [];
    const real = globalThis.queueMicrotask;
    // settle() rethrows on a microtask of its own; catch it here instead of in the runner
    globalThis.queueMicrotask = (fn: () => void): void => {
      try {
        fn();
      } catch (err) {
        rethrown.push(err);
      }
    };
    try {
      m.runTell(
        () => {
          throw new Error('handler');
        },
        undefined,
        [],
        () => {
          throw new Error('onError itself');
        },
        report,
      );
      m.post(
        () => {
          throw new Error('posted');
        },
        () => {
          throw new Error('done itself');
        },
      );
      m.post(() => seen.push('still served'));
    } finally {
      globalThis.queueMicrotask = real;
    }
    expect(seen).to.deep.equal(['still served']);
    expect(rethrown.map((e) => (e as Error).message)).to.deep.equal(['onError itself', 'done itself']);
    expect(m.idle).to.equal(true);
  });
});
