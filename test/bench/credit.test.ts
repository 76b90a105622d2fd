/**
 * credit.test.ts: the pacing of carriers without backpressure: the window closes when full,
 * reopens on acks, and a new phase starts with a full window even though the previous one
 * left less than an interval unacked (it would otherwise hang the next size). The ack
 * interval scales with the message size, and the Responder acks exactly at it, so the window
 * the sender keeps and the acks the peer sends agree at every size.
 */
import { expect } from 'chai';
import { ackInterval, ACKS_PER_WINDOW, Credit } from '../../benchmarks/baselines/credit.js';
import { Responder } from '../../benchmarks/responder.js';
import { decodeReply, encodeProbe } from '../../benchmarks/wire.js';

describe('bench: credit pacing', function () {
  it('closes at the window, reopens on acks, and resets per phase', async function () {
    // size 1000 against 16000 bytes: window = 16 messages, an ack every 4
    const c = new Credit(16_000);
    expect(ackInterval(1000, 16_000)).to.equal(4);
    for (let i = 1; i < 16; i++) expect(c.sent(1, 1000), `sink ${i}`).to.equal(true);
    expect(c.sent(1, 1000)).to.equal(false);
    let drained = false;
    const d = c.drain().then(() => (drained = true));
    c.ack(1, 4);
    await d;
    expect(drained).to.equal(true);
    c.ack(1, 4); // a repeated ack changes nothing
    for (let i = 0; i < 4; i++) c.sent(1, 1000);
    expect(c.open).to.equal(false);
    // Phase 2 starts afresh: the unacked of phase 1 were confirmed by its report.
    for (let i = 1; i < 16; i++) expect(c.sent(2, 1000), `phase 2 sink ${i}`).to.equal(true);
    c.ack(1, 16); // a late ack of the old phase is ignored
    expect(c.sent(2, 1000)).to.equal(false);
  });

  it('acks a quarter of the window, whatever the size, and never less than every sink', function () {
    const hw = 1024 * 1024;
    expect(ackInterval(64, hw)).to.equal(hw / 64 / ACKS_PER_WINDOW); // 4096: one message back per 4096
    expect(ackInterval(65536, hw)).to.equal(4);
    expect(ackInterval(1024 * 1024, hw)).to.equal(1);
    expect(ackInterval(64 * 1024 * 1024, hw)).to.equal(1);
  });

  it('keeps room for two intervals when one message is the whole high-water mark', function () {
    const c = new Credit(1000);
    expect(c.sent(1, 4000)).to.equal(true); // window max(2 x 1, 1) = 2
    expect(c.sent(1, 4000)).to.equal(false);
  });

  it('the Responder acks at the interval of the sinks it counts, with the cumulative count', function () {
    const hw = 16_000;
    const responder = new Responder({ copyEcho: false, ackEvery: (size) => ackInterval(size, hw) });
    const acks: Array<{ phase: number; frames: number }> = [];
    const reply = (bytes: Uint8Array): void => {
      const r = decodeReply(bytes);
      if (r.tag === 'ack') acks.push({ phase: r.phase, frames: r.frames });
    };
    for (let i = 0; i < 10; i++) responder.handle(encodeProbe({ tag: 'sink', phase: 7 }, 1000), reply); // every 4
    for (let i = 0; i < 6; i++) responder.handle(encodeProbe({ tag: 'sink', phase: 8 }, 4000), reply); // every 1
    expect(acks).to.deep.equal([
      { phase: 7, frames: 4 },
      { phase: 7, frames: 8 },
      ...[1, 2, 3, 4, 5, 6].map((frames) => ({ phase: 8, frames })),
    ]);
  });

  it('a Responder without ackEvery never acks', function () {
    const responder = new Responder({ copyEcho: false });
    let replies = 0;
    for (let i = 0; i < 5000; i++) responder.handle(encodeProbe({ tag: 'sink', phase: 1 }, 64), () => replies++);
    expect(replies).to.equal(0);
  });
});
