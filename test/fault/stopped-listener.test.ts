/**
 * stopped-listener.test.ts: connecting to a listener whose process is SIGSTOPped, over every
 * addressed transport (pipe, socketpair and the shm pair have no listener: not generated);
 * and, with the listener stopped to hold the window open, a client SIGKILLed in the middle
 * of its handshake.
 *
 * A stopped listener may still complete the kernel's half of a connection (a unix or tcp
 * backlog) but never answers. Outcome (docs/GUARANTEES.md, "SIGSTOP"): connect() fails
 * within its timeouts with a typed error (the transport's ETIMEDOUT, or the bus's
 * ERR_HANDSHAKE_TIMEOUT where the transport connected), never hangs; after SIGCONT the
 * listener, which now holds a handshake its client gave up on, keeps serving: a new
 * connect works and answers; and once it closes nothing of the case is left.
 *
 * The second case: a client process starts connecting while the listener is stopped (its
 * request, HELLO or kernel connection waits for the listener) and is SIGKILLed there. After
 * SIGCONT the listener meets a handshake whose client is dead: it fails that one handshake,
 * serves the next client, and leaves nothing of the dead one (its FIFOs, its WELCOME in the
 * queue) once it closes.
 */
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { basename } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ActorSystem } from '../../src/index.js';
import { privateAddress } from '../../src/transports/core/private-address.js';
import { Bench } from '../bus/peers.js';
import { rejection } from '../setup/outcomes.js';
import { sleep, withTimeout } from '../setup/timing.js';
import { exited, expectNothingLeft, FAULT_TRANSPORTS, transportOf } from './helpers.js';

const CONNECTOR = fileURLToPath(new URL('../fixtures/fault-connector.js', import.meta.url));

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

    it(`over ${label}: a client SIGKILLed mid-handshake fails that handshake only; the listener serves the next; nothing left`, async function () {
      const system = await ActorSystem.start({ onError: () => {} });
      const b = (bench = new Bench(transportOf(label), system, 'hsk'));
      const far = await b.listeningPeer(privateAddress(b.scheme, b.dir, 'far'));
      const pid = far.process.pid!;

      process.kill(pid, 'SIGSTOP');
      let client;
      try {
        client = spawn(process.execPath, [CONNECTOR, far.address], { stdio: ['ignore', 'pipe', 'inherit'] });
        const started = new Promise<void>((resolve) => client!.stdout!.on('data', () => resolve()));
        await withTimeout(started, 15_000, 'the client starts connecting');
        // time for its request (FIFO pair, HELLO, kernel connection) to reach the stopped
        // listener; were it slower, the case would only be a client that died before
        await sleep(500);
        client.kill('SIGKILL');
        await exited(client);
      } finally {
        process.kill(pid, 'SIGCONT');
      }

      const remote = await withTimeout(system.connect(far.address), 15_000, `connect after the dead handshake over ${label}`);
      expect(await remote.ref('echo').ask('echo', 'next')).to.equal('next');

      bench = undefined;
      await b.stop();
      expectNothingLeft(`after a dead handshake over ${label}`, [pid, client.pid!, process.pid], b.dir, [basename(b.dir)]);
    });
  }
});
