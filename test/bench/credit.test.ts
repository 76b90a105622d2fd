/**
 * credit.test.ts: the pacing of carriers without backpressure: the window closes when full,
 * reopens on acks, and a new phase starts with a full window even though the previous one
 * left fewer than ackEvery sinks unacked (it would otherwise hang the next size).
 */
import { expect } from 'chai';
import { Credit } from '../../benchmarks/baselines/credit.js';

describe('bench: credit pacing', function () {
  it('closes at the window, reopens on acks, and resets per phase', async function () {
    const c = new Credit(8, 1000);
    // size 1000: window = max(16, 1) = 16 messages
    for (let i = 1; i < 16; i++) expect(c.sent(1, 1000), `sink ${i}`).to.equal(true);
    expect(c.sent(1, 1000)).to.equal(false);
    let drained = false;
    const d = c.drain().then(() => (drained = true));
    c.ack(1, 8);
    await d;
    expect(drained).to.equal(true);
    c.ack(1, 8); // a repeated ack changes nothing
    for (let i = 0; i < 8; i++) c.sent(1, 1000);
    expect(c.open).to.equal(false);
    // Phase 2 starts afresh: the 16 unacked of phase 1 were confirmed by its report.
    for (let i = 1; i < 16; i++) expect(c.sent(2, 1000), `phase 2 sink ${i}`).to.equal(true);
    c.ack(1, 16); // a late ack of the old phase is ignored
    expect(c.sent(2, 1000)).to.equal(false);
  });
});
