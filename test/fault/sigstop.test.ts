/**
 * sigstop.test.ts: SIGSTOP of the far process for longer than the heartbeat allows, then
 * SIGCONT, over every transport.
 *
 * The contract (docs/GUARANTEES.md, "SIGSTOP"): a stopped peer cannot be told from a hung
 * one, so after 3 silent heartbeat periods of the bus (udp, nats: maybe their own silence
 * timeout first)
 * our side declares it gone: the stream errors with PeerGoneError, the ask in flight rejects
 * with PeerGoneError, and the connection ends `peer-gone` and is closed by us. Nothing more
 * from the stopped process is delivered once that happened, on any transport: the link is
 * closed, not paused. After SIGCONT the stopped process finds its link ended and
 * exits (bus-peer exits when its connection ends), and nothing is left behind.
 */
import { expect } from 'chai';
import { basename } from 'node:path';
import { ActorSystem, PeerGoneError, ProtocolError } from '../../src/index.js';
import { Bench } from '../bus/peers.js';
import { sleep, until, withTimeout } from '../setup/timing.js';
import { exited, expectNothingLeft, expectSequence, FAULT_TRANSPORTS, transportOf } from './helpers.js';

/** Ours: a peer is gone after 3 x 400 ms of silence (short, but not so short that a loaded machine fakes it). */
const HEARTBEAT_MS = 400;
const BOUND_MS = 15_000;

describe('fault: SIGSTOP of the child past the heartbeat', function () {
  let bench: Bench | undefined;
  afterEach(async () => {
    await bench?.stop();
    bench = undefined;
  });

  for (const scheme of FAULT_TRANSPORTS) {
    it(`over ${scheme}: declared gone (PeerGoneError for the stream and the ask), nothing delivered after; on SIGCONT the child exits; nothing left`, async function () {
      const errors: unknown[] = [];
      const system = await ActorSystem.start({ heartbeatMs: HEARTBEAT_MS, onError: (e) => errors.push(e) });
      const b = (bench = new Bench(transportOf(scheme), system, 'stop'));
      await b.start();
      const peer = await b.peer({ heartbeatMs: HEARTBEAT_MS }, 'sleeper');
      const pid = peer.process.pid!;

      const values: number[] = [];
      let endedAt = -1;
      const ended = new Promise<unknown>((resolve) => {
        peer.remote
          .ref('producer')
          .stream('ticks', 5)
          .subscribe({
            next: (v) => values.push(v as number),
            error: (e: unknown) => {
              endedAt = values.length;
              resolve(e);
            },
            complete: () => resolve('completed'),
          });
      });
      await until('five values from the stream', 15_000, () => values.length >= 5);
      const ask = peer.remote
        .ref('echo')
        .ask('slow', 60_000)
        .then(
          () => 'answered',
          (e: unknown) => e,
        );

      process.kill(pid, 'SIGSTOP');
      try {
        const err = await withTimeout(ended, BOUND_MS, `the stream's error while the child is stopped (${scheme})`);
        expect(err, String(err)).to.be.instanceOf(PeerGoneError);
        expect(await withTimeout(ask, BOUND_MS, 'the ask in flight'), 'the ask in flight').to.be.instanceOf(PeerGoneError);
        expect((await peer.remote.closed).kind).to.equal('peer-gone');
      } finally {
        process.kill(pid, 'SIGCONT');
      }
      // the stopped process runs again: it must find its link ended and go, sending us nothing
      const exit = await withTimeout(exited(peer.process), BOUND_MS, 'the continued child exits by itself');
      expect(exit.signal, 'it exited by itself').to.equal(null);
      await sleep(100);
      expect(values.length, 'nothing delivered after the error').to.equal(endedAt);
      expectSequence(values, b.transport, 'values before the error');
      expect(errors.filter((e) => e instanceof ProtocolError), 'nothing corrupt reached the bus').to.deep.equal([]);

      bench = undefined;
      await b.stop();
      expectNothingLeft(`after SIGSTOP/SIGCONT over ${scheme}`, [pid, process.pid], b.dir, [basename(b.dir)]);
    });
  }
});
