/**
 * soak-ledger.test.ts: the soak's bookkeeping rules (benchmarks/soak/ledger.ts), each with the
 * outcome that would make the soak fail or pass: a tell missing from a clean window is lost,
 * from a window with a kill it is in doubt until a later answer lists it; duplicates, disorder
 * and tells never sent are broken promises; an unreliable transport counts losses without
 * breaking, but not duplicates.
 */
import { expect } from 'chai';
import { AskTimeoutError } from '../../src/index.js';
import { Ledger } from '../../benchmarks/soak/ledger.js';

function sent(l: Ledger, from: number, to: number): number[] {
  const w: number[] = [];
  for (let s = from; s <= to; s++) {
    l.tellSent(s);
    w.push(s);
  }
  return w;
}

describe('soak ledger', function () {
  it('a tell missing from a clean window is lost: a broken promise on a reliable transport only', function () {
    for (const reliable of [true, false]) {
      const l = new Ledger('t', reliable);
      l.settleWindow(sent(l, 0, 4), [0, 1, 3, 4], true);
      expect(l.counts).to.include({ tellsSent: 5, tellsReceived: 4, tellsLost: 1, tellsInDoubt: 0 });
      expect(l.lost).to.equal(1);
      expect(l.broken, `reliable=${reliable}`).to.equal(reliable ? 1 : 0);
      if (reliable) expect(l.violations[0]).to.match(/1 acknowledged tell\(s\) lost \(first: 2\)/);
    }
  });

  it('after a kill a missing tell is in doubt, and received if a later answer lists it', function () {
    const l = new Ledger('t', true);
    l.settleWindow(sent(l, 0, 4), [0, 1], false);
    expect(l.counts).to.include({ tellsReceived: 2, tellsInDoubt: 3, tellsLost: 0 });
    l.settleWindow(sent(l, 5, 6), [3, 4, 5, 6], true);
    expect(l.counts).to.include({ tellsReceived: 6, tellsInDoubt: 1, tellsLost: 0 });
    l.abandonWindow(sent(l, 7, 8));
    expect(l.counts.tellsInDoubt).to.equal(3);
    expect(l.broken).to.equal(0);
  });

  it('a tell listed twice, out of order, or never sent breaks a promise, reliable or not', function () {
    for (const reliable of [true, false]) {
      const l = new Ledger('t', reliable);
      l.settleWindow(sent(l, 0, 2), [0, 1, 2], true);
      l.settleWindow(sent(l, 3, 4), [1, 3, 4], true);
      expect(l.violations[0]).to.match(/tell 1 was received twice/);
      const m = new Ledger('t', reliable);
      m.settleWindow(sent(m, 0, 2), [0, 2, 1], true);
      expect(m.violations.join('\n')).to.match(/tell 1 arrived after tell 2/);
      const n = new Ledger('t', reliable);
      n.settleWindow(sent(n, 0, 1), [0, 1, 9], true);
      expect(n.violations.join('\n')).to.match(/tell 9 was received but never sent/);
    }
  });

  it('asks: PeerGoneError is an outcome, a wrong answer is broken, a timeout is lost only where losses are allowed', function () {
    const reliable = new Ledger('t', true);
    reliable.askPeerGone();
    reliable.askAnswered(true, 'a');
    expect(reliable.broken).to.equal(0);
    reliable.askAnswered(false, '#7');
    reliable.askFailed(new AskTimeoutError('child/soak', 'echo', 1000), true);
    expect(reliable.broken).to.equal(2);
    const lossy = new Ledger('t', false);
    lossy.askFailed(new AskTimeoutError('child/soak', 'echo', 1000), true);
    expect(lossy.counts.asksLost).to.equal(1);
    expect(lossy.broken).to.equal(0);
  });

  it('streams: a repeat is broken anywhere; a gap or a short stream is lost, broken where reliable', function () {
    const l = new Ledger('t', true);
    let next = 0;
    for (const v of [0, 1, 2]) next = l.streamValue(v, next);
    l.streamEnded('complete', next, 3);
    expect(l.broken).to.equal(0);
    next = l.streamValue(0, 0);
    next = l.streamValue(0, next);
    expect(l.violations.at(-1)).to.match(/sent 0 after 0/);
    const lossy = new Ledger('t', false);
    next = lossy.streamValue(0, 0);
    next = lossy.streamValue(3, next);
    lossy.streamEnded('complete', next, 6);
    expect(lossy.counts.streamValuesLost).to.equal(4);
    expect(lossy.broken).to.equal(0);
    const strict = new Ledger('t', true);
    strict.streamValue(1, 0);
    strict.streamEnded('peer-gone', 2, 10);
    expect(strict.broken).to.equal(1);
    expect(strict.counts.streamsCut).to.equal(1);
  });
});
