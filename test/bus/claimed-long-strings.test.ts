/**
 * claimed-long-strings.test.ts: a payload packed by msgpackr straight into claimed link
 * memory (8 KiB and more, so the bus claims) with a long string in it crosses every
 * transport that can claim, to a real child and back. Over shm a claim is a plain
 * Uint8Array, on which msgpackr's Buffer-only string writer threw "target.utf8Write is not a
 * function" (found by the soak: every such ask failed).
 */
import { expect } from 'chai';
import { ActorSystem, getTransport, type ActorRef } from '../../src/index.js';
import { Bench, type PeerChild } from './peers.js';

for (const scheme of ['shm', 'unix', 'udp']) {
  describe(`bus: ${scheme}: claimed frames with long strings`, function () {
    let bench: Bench;
    let peer: PeerChild;
    let echo: ActorRef;

    before(async function () {
      const system = await ActorSystem.start({ name: Bench.name('parent') });
      bench = new Bench(getTransport(scheme), system, 'claim');
      await bench.start();
      peer = await bench.peer();
      echo = peer.remote.ref('echo');
    });

    after(async function () {
      await bench?.stop();
    });

    it('asks with 8 KiB .. 64 KiB strings (ASCII and not) in an object come back whole', async function () {
      for (const n of [8192, 20_000, 65_536]) {
        for (const unit of ['x', 'é', '😀']) {
          const sent = { tag: n, pad: unit.repeat(Math.ceil(n / unit.length)), list: [unit.repeat(100), n] };
          expect(await echo.ask('echo', sent), `${n} x ${unit}`).to.deep.equal(sent);
        }
      }
    });
  });
}
