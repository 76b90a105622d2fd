/**
 * forward-backpressure.test.ts: a flood of tells through a forwarding node (A - B - C, over
 * real unix sockets, three systems in this process) at a slow actor on C. C pauses its link
 * from B while the actor's mailbox is full; B must then stop reading A rather than queue
 * what it forwards toward C without bound (issue 14: memory a peer can grow). And the other
 * way: a requester that stops reading its answers makes B stop reading the answers C sends.
 */
import { expect } from 'chai';
import { ActorSystem, connect, defineActor, listen, type ActorRef, type Link, type Listener } from '../../src/index.js';
import { privateAddress } from '../../src/transports/core/private-address.js';
import { makeTempDir } from '../setup/tmp.js';
import { sleep, until } from '../setup/timing.js';

describe('hostile: limits: a tell flood through a forwarding node (unix)', function () {
  this.timeout(120_000);

  it('the forwarding node stops reading the sender while the next hop is backed up; every tell arrives, in order', async function () {
    const dir = makeTempDir();
    const systems: ActorSystem[] = [];
    const start = async (name: string): Promise<ActorSystem> => {
      const s = await ActorSystem.start({ name: `${name}-${process.pid}`, forward: true, onError: () => {} }); // B relays (B.8: opt-in)
      systems.push(s);
      return s;
    };
    try {
      let open!: () => void;
      const gate = new Promise<void>((r) => (open = r));
      let next = 0;
      let outOfOrder = 0;
      const c = await start('fwd-c');
      c.local(
        defineActor({
          init: () => ({}),
          receive: {
            put: (_s, i: number, _pad: string) => {
              if (i !== next) outOfOrder++;
              next = i + 1;
              return i === 0 ? gate : undefined;
            },
          },
        }),
        { name: 'sink', mailbox: 200 },
      );
      const cListener = await c.listen(privateAddress('unix', dir, 'fwd-c'));
      const b = await start('fwd-b');
      b.local(defineActor({ init: () => ({}), receive: { refTo: (_s, path: string) => b.ref(path) } }), { name: 'router' });
      const bcLink: Link = await connect(cListener.address);
      await b.attach(bcLink);
      const bListener = await b.listen(privateAddress('unix', dir, 'fwd-b'));
      const a = await start('fwd-a');
      const toB = await a.connect(bListener.address);
      const sink = (await toB.ref('router').ask('refTo', `${c.node}/sink`)) as ActorRef;

      const COUNT = 20_000;
      const pad = 'x'.repeat(4096);
      let sent = 0;
      const flood = (async () => {
        for (; sent < COUNT; sent++) {
          sink.tell('put', sent, pad);
          if ((sent & 31) === 31) await toB.drain();
        }
      })();

      await until("C's mailbox fills", 60_000, () => c.mailboxLength('sink') >= 200);
      let maxQueued = 0;
      for (let t = 0; t < 75; t++) {
        maxQueued = Math.max(maxQueued, bcLink.bufferedAmount);
        await sleep(20);
      }
      // B's queue toward C: its high-water mark (1 MiB) plus what one read from A brings, not the flood (80 MB)
      expect(maxQueued, 'bytes B holds for C').to.be.below(8 * 1024 * 1024);
      expect(sent, 'A is held back').to.be.below(COUNT);

      open();
      await flood;
      await until('every tell handled on C', 90_000, () => next === COUNT);
      expect(outOfOrder).to.equal(0);
      await cListener.close();
      await bListener.close();
    } finally {
      for (const s of systems.reverse()) await s.stop();
    }
  });

  it('answers forwarded to a requester that does not read them: the forwarding node stops reading them, its queue stays bounded', async function () {
    const dir = makeTempDir();
    const systems: ActorSystem[] = [];
    const start = async (name: string): Promise<ActorSystem> => {
      const s = await ActorSystem.start({ name: `${name}-${process.pid}`, forward: true, onError: () => {} }); // B relays (B.8: opt-in)
      systems.push(s);
      return s;
    };
    const bLinks: Link[] = [];
    let bListener: Listener | undefined;
    try {
      const c = await start('rfwd-c');
      c.local(defineActor({ init: () => ({}), receive: { echo: (_s, b: Buffer) => b } }), { name: 'echo' });
      const cListener = await c.listen(privateAddress('unix', dir, 'rfwd-c'));
      const b = await start('rfwd-b');
      b.local(defineActor({ init: () => ({}), receive: { refTo: (_s, path: string) => b.ref(path) } }), { name: 'router' });
      await b.connect(cListener.address);
      // B's end of the link to A, made by hand so the test can read what B queues toward A
      bListener = await listen(privateAddress('unix', dir, 'rfwd-b'), (link) => {
        bLinks.push(link);
        void b.attach(link).catch(() => {});
      });
      const a = await start('rfwd-a');
      const aLink = await connect(bListener.address.href);
      const toB = await a.attach(aLink);
      const echo = (await toB.ref('router').ask('refTo', `${c.node}/echo`)) as ActorRef;
      aLink.pause(); // A stops reading: every answer now waits at B, or further back

      const payload = Buffer.alloc(256 * 1024, 7);
      let sent = 0;
      let stop = false;
      const flood = (async () => {
        for (; sent < 600 && !stop; sent++) {
          echo.ask('echo', payload).catch(() => {});
          await toB.drain();
        }
      })();
      let maxQueued = 0;
      for (let t = 0; t < 150 && sent < 600; t++) {
        maxQueued = Math.max(maxQueued, bLinks[0]?.bufferedAmount ?? 0);
        if (maxQueued > 64 * 1024 * 1024) break;
        await sleep(20);
      }
      stop = true;
      // what B holds for A: its high-water mark plus the answers already read from C, not 600 x 256 KiB
      expect(maxQueued, `bytes B holds for A after ${sent} asks`).to.be.below(16 * 1024 * 1024);
      expect(sent, 'A is held back in the end').to.be.below(600);
      aLink.resume();
      await flood;
      await cListener.close();
    } finally {
      await bListener?.close();
      for (const s of systems.reverse()) await s.stop();
    }
  });
});
