/**
 * kill-child.test.ts: SIGKILL of the far process mid-stream, over every transport of the
 * matrix (FAULT_TRANSPORTS in helpers.ts).
 *
 * The far side is a plain bus-peer (test/fixtures/bus-peer.ts), not a supervised child: no
 * supervisor watches its pid, so what ends the stream here is the transport's own detection
 * (EOF on a byte stream, the liveness socket of shm, the pid probe of msgq, the silence
 * timeout of udp and nats). The bus heartbeat is left at its default (15 s to declare a
 * peer gone), longer than the bound below, so it cannot be what passes the test.
 *
 * Outcome (docs/GUARANTEES.md, "peer crash"): the stream errors with PeerGoneError within
 * 10 s, an ask in flight rejects with PeerGoneError, the values before the error are
 * 0, 1, 2, ... with nothing skipped, duplicated or reordered (on udp, which promises neither
 * order nor delivery: nothing duplicated), and once our side is closed
 * nothing of the case is left in ipcs, /dev/shm or its temp dir.
 */
import { expect } from 'chai';
import { basename } from 'node:path';
import { ActorSystem, PeerGoneError } from '../../src/index.js';
import { Bench } from '../bus/peers.js';
import { until, withTimeout } from '../setup/timing.js';
import { exited, expectNothingLeft, expectSequence, FAULT_TRANSPORTS, transportOf } from './helpers.js';

/** A bound for a hang, not a timing claim: detection is usually well under a second. */
const DETECT_MS = 10_000;

describe('fault: SIGKILL of the child mid-stream', function () {
  let bench: Bench | undefined;
  afterEach(async () => {
    await bench?.stop();
    bench = undefined;
  });

  for (const scheme of FAULT_TRANSPORTS) {
    it(`over ${scheme}: the stream errors with PeerGoneError, the ask in flight rejects, values before are in order and whole; nothing left`, async function () {
      const system = await ActorSystem.start({ onError: () => {} });
      const b = (bench = new Bench(transportOf(scheme), system, 'kill'));
      await b.start();
      const peer = await b.peer({}, 'victim');
      const pid = peer.process.pid!;

      const values: number[] = [];
      const ended = new Promise<unknown>((resolve) => {
        peer.remote
          .ref('producer')
          .stream('ticks', 5)
          .subscribe({ next: (v) => values.push(v as number), error: resolve, complete: () => resolve('completed') });
      });
      await until('five values from the stream', 15_000, () => values.length >= 5);
      const ask = peer.remote
        .ref('echo')
        .ask('slow', 60_000)
        .then(
          () => 'answered',
          (e: unknown) => e,
        );
      // the ask is on its way once a later one on the same link has been answered (another
      // actor: echo's mailbox is busy with the slow ask)
      expect(await peer.remote.ref('counter').with({ timeout: 10_000 }).ask('stats')).to.have.property('count');

      peer.process.kill('SIGKILL');
      const err = await withTimeout(ended, DETECT_MS, `the stream's error after SIGKILL over ${scheme}`);
      expect(err, String(err)).to.be.instanceOf(PeerGoneError);
      const askOutcome = await withTimeout(ask, DETECT_MS, 'the ask in flight');
      expect(askOutcome, String(askOutcome)).to.be.instanceOf(PeerGoneError);
      expectSequence(values, b.transport, 'values before the error');
      expect((await withTimeout(peer.remote.closed, DETECT_MS, 'the connection ends')).kind).to.equal('peer-gone');

      await exited(peer.process);
      bench = undefined;
      await b.stop();
      expectNothingLeft(`after SIGKILL over ${scheme}`, [pid, process.pid], b.dir, [basename(b.dir)]);
    });
  }
});
