/**
 * measure.test.ts: the measurements are honest: round trips count only replies to the echo
 * in flight, a best-effort channel's loss is counted from the receiver's own count (never
 * assumed), a reliable channel that loses anything fails, and a silent peer is an error, not
 * a hang.
 */
import { expect } from 'chai';
import { roundTrips, throughput } from '../../benchmarks/measure.js';
import { ECHO, REPORT, SINK } from '../../benchmarks/wire.js';
import { FakeChannel } from './fake-channel.js';

const RTT = { count: 300, maxMs: 10_000, lossTimeoutMs: 30, stallMs: 2000 };
const TP = { durationMs: 30, retryMs: 30, stallMs: 2000 };

describe('bench: measurements', function () {
  it('a clean channel: every round trip sampled, every sink confirmed', async function () {
    const ch = new FakeChannel(true);
    const rtt = await roundTrips(ch, 64, RTT);
    expect(rtt).to.include({ samples: 300, lost: 0 });
    expect(rtt.p50Us).to.be.above(0).and.at.most(rtt.p99Us);
    const tp = await throughput(ch, 64, TP);
    expect(tp.received).to.equal(tp.sent).and.equal(ch.arrived.get(SINK));
    expect(tp.seconds).to.be.at.least(0.03);
    expect(tp.mbPerSec).to.be.closeTo((tp.msgsPerSec * 64) / 1e6, 1e-9);
  });

  it('a best-effort channel: lost echoes are counted and retried, the throughput is what the receiver counted', async function () {
    let n = 0;
    // Drops every 4th message each way, reports included: the report request is repeated.
    const ch = new FakeChannel(false, () => ++n % 4 === 0);
    const rtt = await roundTrips(ch, 64, { ...RTT, count: 100 });
    expect(rtt.samples).to.equal(100);
    expect(rtt.lost).to.be.above(0);
    const tp = await throughput(ch, 64, TP);
    expect(tp.received).to.be.below(tp.sent).and.equal(ch.arrived.get(SINK));
    expect(tp.msgsPerSec).to.be.closeTo(tp.received / tp.seconds, 1e-6 * tp.msgsPerSec);
  });

  it('a best-effort channel that loses every report request still ends, with an error', async function () {
    const ch = new FakeChannel(false, (b) => b[0] === REPORT);
    let error: Error | undefined;
    await throughput(ch, 64, { ...TP, stallMs: 300 }).catch((e: Error) => (error = e));
    expect(error?.message).to.match(/did not report its count within 300 ms/);
  });

  it('a "reliable" channel that loses a message fails the cell instead of reporting a rate', async function () {
    let sinks = 0;
    const ch = new FakeChannel(true, (b, dir) => dir === 'out' && b[0] === SINK && ++sinks === 10);
    let error: Error | undefined;
    await throughput(ch, 64, TP).catch((e: Error) => (error = e));
    expect(error?.message).to.match(/^sent \d+ messages but the receiver counted \d+ on a reliable channel$/);
  });

  it('a reliable channel whose peer stops answering is an error after stallMs, not a hang', async function () {
    const ch = new FakeChannel(true, (b) => b[0] === ECHO);
    let error: Error | undefined;
    await roundTrips(ch, 64, { ...RTT, stallMs: 200 }).catch((e: Error) => (error = e));
    expect(error?.message).to.equal('no echo reply within 200 ms');
  });

  it('stops round trips at the time cap, with the samples it took', async function () {
    const ch = new FakeChannel(true);
    const rtt = await roundTrips(ch, 64, { ...RTT, count: 10_000_000, maxMs: 50 });
    expect(rtt.samples).to.be.above(0).and.below(10_000_000);
  });
});
