/**
 * stopped-listener.test.ts: connecting to a listener whose process is SIGSTOPped, over every
 * addressed transport (pipe, socketpair and the shm pair have no listener: not generated).
 *
 * A stopped listener may still complete the kernel's half of a connection (a unix or tcp
 * backlog) but never answers. Outcome (docs/GUARANTEES.md, "SIGSTOP"): connect() fails
 * within its timeouts with a typed error (the transport's ETIMEDOUT, or the bus's
 * ERR_HANDSHAKE_TIMEOUT where the transport connected), never hangs; after SIGCONT the
 * listener, which now holds a handshake its client gave up on, keeps serving: a new
 * connect works and answers; and once it closes nothing of the case is left.
 */
import { expect } from 'chai';
import { basename } from 'node:path';
import { ActorSystem } from '../../src/index.js';
import { privateAddress } from '../../src/transports/core/private-address.js';
import { Bench } from '../bus/peers.js';
import { rejection } from '../setup/outcomes.js';
import { withTimeout } from '../setup/timing.js';
import { expectNothingLeft, FAULT_TRANSPORTS, transportOf } from './helpers.js';

const ADDRESSED = FAULT_TRANSPORTS.filter((label) => label !== 'pipe' && label !== 'socketpair' && label !== 'shm');

describe('fault: connecting to a SIGSTOPped listener', function () {
  let bench: Bench | undefined;
  afterEach(async () => {
    await bench?.stop();
    bench = undefined;
  });

  for (const label of ADDRESSED) {
    it(`over ${label}: connect fails with a typed timeout, never hangs; after SIGCONT the listener serves a new connect; nothing left`, async function () {
      const system = await ActorSystem.start({ onError: () => {} });
      const b = (bench = new Bench(transportOf(label), system, 'stopl'));
      // the attempt on the stopped listener gives up after 1 s; the one after SIGCONT, made
      // by `system`, has the default 5 s, so a loaded machine cannot fail it
      const impatient = await ActorSystem.start({ handshakeTimeoutMs: 1000, onError: () => {} });
      const far = await b.listeningPeer(privateAddress(b.scheme, b.dir, 'far'));
      const pid = far.process.pid!;

      process.kill(pid, 'SIGSTOP');
      let err: Error;
      try {
        err = await withTimeout(rejection(impatient.connect(far.address, { timeoutMs: 1000 })), 15_000, `connect to a stopped ${label} listener`);
      } finally {
        process.kill(pid, 'SIGCONT');
        await impatient.stop();
      }
      expect((err as Error & { code?: string }).code, String(err)).to.be.oneOf(['ETIMEDOUT', 'ERR_HANDSHAKE_TIMEOUT']);

      const remote = await withTimeout(system.connect(far.address), 15_000, `connect after SIGCONT over ${label}`);
      expect(await remote.ref('echo').ask('echo', 'awake')).to.equal('awake');

      bench = undefined;
      await b.stop();
      expectNothingLeft(`after a stopped ${label} listener`, [pid, process.pid], b.dir, [basename(b.dir)]);
    });
  }
});
