/**
 * mailbox-flood.test.ts: a peer in another process floods tells at an actor that cannot keep
 * up (issue 14, defect 4). The mailbox is bounded: the link feeding it is paused while it is
 * full and resumed once it has drained to half, so the sender is held back by its own link,
 * the receiver's memory stays flat, and every tell is still handled, once, in order. The same
 * for asks: a flood of asks not awaited one by one meets the same pause, and every ask is
 * answered, in order (the per-peer limit of unanswered asks is far above the mailbox's).
 * Over one transport per carrier: unix (a byte stream; tcp and fifo share its carrier and pass
 * too), shm (the ring) and msgq (datagrams under credit), each from a real child
 * (test/fixtures/flooder.ts).
 */
import { expect } from 'chai';
import { fileURLToPath } from 'node:url';
import { ActorSystem, defineActor, type SystemListener } from '../../src/index.js';
import { privateAddress } from '../../src/transports/core/private-address.js';
import { makeTempDir } from '../setup/tmp.js';
import { sleep, until, withTimeout } from '../setup/timing.js';
import { runChild } from './child-lines.js';

const FLOODER = fileURLToPath(new URL('../fixtures/flooder.js', import.meta.url));

const LIMIT = 2000;
const COUNT = 40_000;
const BYTES = 4096;

for (const scheme of ['unix', 'shm', 'msgq']) {
  describe(`hostile: limits: a flood from another process at a slow actor (${scheme})`, function () {
    this.timeout(180_000);
    let system: ActorSystem;
    let listener: SystemListener;
    let flooder: ReturnType<typeof runChild> | undefined;

    afterEach(async function () {
      flooder?.child.kill('SIGKILL');
      if (flooder) await flooder.exited;
      await listener?.close();
      await system?.stop();
    });

    for (const mode of ['tell', 'askflood']) {
      const what = mode === 'tell' ? 'tell' : 'ask';
      it(`${what}s: pauses the link while the mailbox is full: bounded mailbox and RSS, sender held back, then every ${what} handled in order`, async function () {
        let open!: () => void;
        const gate = new Promise<void>((r) => (open = r));
        let next = 0;
        let outOfOrder = 0;
        const sink = defineActor({
          init: () => ({}),
          receive: {
            // the first tell holds the actor until the test opens the gate: a handler that cannot keep up
            put: async (_s, i: number, _pad: string) => {
              if (i !== next) outOfOrder++;
              next = i + 1;
              if (i === 0) await gate;
              return i;
            },
          },
        });
        // heartbeats every 200 ms: the link is paused far longer than 3 periods, and that silence is ours, not the peer's
        system = await ActorSystem.start({ name: `flood-rx-${scheme}-${process.pid}`, heartbeatMs: 200, onError: () => {} });
        system.local(sink, { name: 'sink', mailbox: LIMIT });
        listener = await system.listen(privateAddress(scheme, makeTempDir(), 'flood'));
        flooder = runChild([FLOODER, mode, listener.address, `flood-tx-${scheme}-${process.pid}`, String(COUNT), String(BYTES)]);

        await until('the mailbox fills', 60_000, () => system.mailboxLength('sink') >= LIMIT);
        global.gc?.();
        const rss0 = process.memoryUsage().rss;
        let maxLength = 0;
        let maxRss = rss0;
        // held for a while: without backpressure the flood lands in the mailbox meanwhile
        for (let t = 0; t < 100; t++) {
          maxLength = Math.max(maxLength, system.mailboxLength('sink'));
          maxRss = Math.max(maxRss, process.memoryUsage().rss);
          if (maxLength > 4 * LIMIT) break;
          await sleep(20);
        }
        // One batch may land beyond the limit (it was read before the pause): at most a 4 MiB shm
        // ring of 4 KiB tells, about 1,000.
        expect(maxLength, 'waiting messages while the actor is stuck').to.be.at.most(LIMIT + 2000);
        expect(flooder.lines, 'the sender is held back by its link').not.to.include('done');
        expect(maxRss - rss0, 'receiver RSS growth while stuck (bytes)').to.be.below(150 * 1024 * 1024);

        open();
        await until(`every ${what} handled`, 150_000, () => next === COUNT);
        expect(outOfOrder, 'tells out of order').to.equal(0);
        await until('the sender finished', 30_000, () => flooder!.lines.includes('done'));
        expect(system.mailboxLength('sink')).to.equal(0);
        if (mode === 'askflood') await until('every ask answered, in order', 60_000, () => flooder!.lines.includes(`answered ${COUNT} true`));
        await system.stop();
        expect(await withTimeout(flooder.exited, 30_000, 'the sender exits once we close')).to.equal(0);
        flooder = undefined;
      });
    }
  });
}
