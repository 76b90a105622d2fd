/**
 * peer-limits.test.ts: the limits on what one peer may make a system hold (issue 14, Deliver 4).
 * Asks beyond pendingAsksPerPeer and subs beyond streamsPerPeer are answered with an `error`
 * ERR_LIMIT and the connection carries on; a connection beyond linksPerListener gets a `bye`
 * ERR_LIMIT and is closed at once, and the listener keeps serving. The peers are real child
 * processes (test/fixtures/flooder.ts) or systems over a real unix socket.
 */
import { expect } from 'chai';
import { fileURLToPath } from 'node:url';
import { NEVER, of } from 'rxjs';
import { ActorSystem, defineActor, LimitError, PeerGoneError, type SystemListener } from '../../src/index.js';
import { privateAddress } from '../../src/transports/core/private-address.js';
import { rejection } from '../setup/outcomes.js';
import { makeTempDir } from '../setup/tmp.js';
import { runChild } from './child-lines.js';
import { sleep, until } from '../setup/timing.js';

const FLOODER = fileURLToPath(new URL('../fixtures/flooder.js', import.meta.url));

describe('hostile: limits: what one peer may make a system hold (unix)', function () {
  this.timeout(60_000);
  let server: ActorSystem;
  let listener: SystemListener;
  let child: ReturnType<typeof runChild> | undefined;
  let open: () => void;
  const errors: unknown[] = [];

  beforeEach(async function () {
    let gate = new Promise<void>((r) => (open = r));
    errors.length = 0;
    server = await ActorSystem.start({
      name: `limits-srv-${process.pid}`,
      limits: { pendingAsksPerPeer: 5, streamsPerPeer: 4, linksPerListener: 2 },
      onError: (err) => errors.push(err),
    });
    server.local(
      defineActor({
        init: () => ({}),
        receive: {
          hold: async () => {
            await gate;
            gate = Promise.resolve();
          },
        },
        streams: { held: () => NEVER, one: () => of(1) },
      }),
      { name: 'sink' },
    );
    listener = await server.listen(privateAddress('unix', makeTempDir(), 'limits'));
  });

  afterEach(async function () {
    child?.child.kill('SIGKILL');
    if (child) await child.exited;
    child = undefined;
    await listener?.close();
    await server?.stop();
  });

  it('pendingAsksPerPeer: asks beyond it are answered ERR_LIMIT at once; those taken are answered; the connection carries on', async function () {
    child = runChild([FLOODER, 'asks', listener.address, `limits-asks-${process.pid}`, '8', '3']);
    await until('three asks refused', 30_000, () => child!.lines.filter((l) => l === 'err ERR_LIMIT').length === 3);
    expect(child.lines.filter((l) => l === 'ok'), 'nothing answered while the actor holds').to.have.length(0);
    open();
    await until('the five taken are answered, then one more', 30_000, () => child!.lines.includes('after ok'));
    expect(child.lines.filter((l) => l === 'ok')).to.have.length(5);
    expect(child.lines.filter((l) => l.startsWith('err'))).to.deep.equal(['err ERR_LIMIT', 'err ERR_LIMIT', 'err ERR_LIMIT']);
  });

  it('streamsPerPeer: subs beyond it are answered ERR_LIMIT; closing streams frees their places; the connection carries on', async function () {
    child = runChild([FLOODER, 'subs', listener.address, `limits-subs-${process.pid}`, '6', '2']);
    await until('the sender opens a stream again after two refusals', 30_000, () => child!.lines.includes('after ok'));
    expect(child.lines.filter((l) => l.startsWith('err'))).to.deep.equal(['err ERR_LIMIT', 'err ERR_LIMIT']);
  });

  it('linksPerListener: a connection beyond it gets a bye ERR_LIMIT and is closed at once; a place freed is taken again', async function () {
    const clients: ActorSystem[] = [];
    try {
      for (let i = 0; i < 4; i++) clients.push(await ActorSystem.start({ name: `limits-cli${i}-${process.pid}`, onError: () => {} }));
      const a = await clients[0]!.connect(listener.address);
      await clients[1]!.connect(listener.address);
      const refused = await rejection(clients[2]!.connect(listener.address));
      expect(refused).to.be.instanceOf(PeerGoneError);
      expect(refused.message).to.include('ERR_LIMIT').and.to.include('linksPerListener');
      expect(errors.some((e) => e instanceof LimitError && e.limit === 'linksPerListener'), 'the server reports the refusal').to.equal(true);
      await a.close();
      // the server sees the close a moment later: try until the place is free
      let joined: unknown;
      for (let t = 0; t < 100 && joined === undefined; t++) {
        try {
          joined = await clients[3]!.connect(listener.address);
        } catch {
          await sleep(50);
        }
      }
      expect(joined, 'a place freed is taken again').not.to.equal(undefined);
    } finally {
      await Promise.all(clients.map((c) => c.stop()));
    }
  });
});
