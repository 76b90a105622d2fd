/**
 * datagram-bye.test.ts: owns the tests of how a datagram link (msgq, udp) ends on the peer's
 * BYE now that LinkCore runs its life: the BYE is an ending in order, so a paused reader gets
 * every frame sent before it (after resume()) and only then `peer-gone`; the side that closed
 * ends as `closed` even though the peer's answering BYE arrives while it lingers. Both ends
 * live in this process.
 */
import { expect } from 'chai';
import { connect, listen, type CloseReason, type Link } from '../../src/index.js';
import { expectFrames } from '../setup/frames.js';
import { prng, randomBytes } from '../setup/random.js';
import { withTimeout } from '../setup/timing.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

for (const address of ['msgq://0', 'udp://127.0.0.1:0']) {
  const scheme = address.split(':')[0]!;
  describe(`datagram BYE: ${scheme}`, function () {
    it('a paused reader gets every frame sent before the BYE after resume(), then peer-gone; the closer ends closed', async function () {
      let accepted!: (l: Link) => void;
      const got = new Promise<Link>((r) => (accepted = r));
      const listener = await listen(address, (l) => accepted(l));
      const client = await connect(listener.address);
      const server = await withTimeout(got, 10_000, 'accepted');
      try {
        const rand = prng(21);
        // Fewer datagrams than the credit window, so all of them (and the BYE) reach the reader.
        const frames = Array.from({ length: 20 }, (_, i) => randomBytes(rand, 1 + i * 37));
        const received: Buffer[] = [];
        let endedAfter = -1;
        server.pause();
        server.onFrame((f) => received.push(Buffer.from(f)));
        const serverEnded = server.closed.then((r: CloseReason) => {
          endedAfter = received.length;
          return r;
        });
        for (const f of frames) client.send(f);
        const clientClosing = client.close(); // flushes, says BYE, waits for ours
        await sleep(300);
        expect(received.length, 'nothing is delivered while paused').to.equal(0);
        expect(endedAfter, 'the BYE waits behind the held frames').to.equal(-1);
        server.resume();
        const reason = await withTimeout(serverEnded, 5_000, 'the reader ends on the BYE');
        expect(reason.kind).to.equal('peer-gone');
        expect(endedAfter, 'every frame before the BYE was delivered before the ending').to.equal(frames.length);
        expectFrames(received, frames, scheme);
        await withTimeout(clientClosing, 5_000, 'the closer finishes');
        expect((await client.closed).kind, 'close() ends as closed, even when the peer answers').to.equal('closed');
      } finally {
        await client.close();
        await server.close();
        await listener.close();
      }
    });
  });
}
