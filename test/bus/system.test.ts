/**
 * system.test.ts: ActorSystem lifetimes that do not depend on the transport: what happens to
 * links and asks around stop(), and local refs behaving like remote ones.
 */
import { expect } from 'chai';
import { lastValueFrom, NEVER, toArray } from 'rxjs';
import { ActorSystem, connect, defineActor, listen, PeerGoneError, SwitchyardError, type Link } from '../../src/index.js';
import { rejection } from '../setup/outcomes.js';
import { withTimeout } from '../setup/timing.js';

const slow = defineActor({
  init: () => ({}),
  receive: {
    wait: (_s, ms: number) => new Promise((r) => setTimeout(() => r(ms), ms)),
  },
  streams: { forever: () => NEVER },
});

describe('bus: ActorSystem lifetimes', function () {
  it('attach() after stop() closes the link it was given and rejects with PeerGoneError', async function () {
    const accepted: Link[] = [];
    const listener = await listen('tcp://127.0.0.1:0', (l) => accepted.push(l));
    const link = await connect(listener.address);
    const system = await ActorSystem.start({ name: 'late-attach' });
    await system.stop();
    expect(await rejection(system.attach(link))).to.be.instanceOf(PeerGoneError);
    expect((await withTimeout(link.closed, 5000, 'our link closed')).kind).to.equal('closed');
    while (accepted.length === 0) await new Promise((r) => setTimeout(r, 10));
    expect((await withTimeout(accepted[0]!.closed, 5000, 'far end sees the close')).kind).to.equal('peer-gone');
    await listener.close();
  });

  it('stop() ends local asks and local streams at once, with ERR_ACTOR_STOPPED, as it ends remote ones', async function () {
    const system = await ActorSystem.start({ name: 'local-stop' });
    const ref = system.local(slow, { name: 'slow' });
    const ask = ref.ask('wait', 10_000);
    const stream = lastValueFrom(ref.stream('forever').pipe(toArray()));
    await new Promise((r) => setTimeout(r, 20));
    const t0 = Date.now();
    await system.stop();
    const [askErr, streamErr] = await Promise.all([rejection(ask), rejection(stream)]);
    expect(Date.now() - t0, 'promptly').to.be.below(1000);
    expect(askErr).to.be.instanceOf(SwitchyardError);
    expect((askErr as SwitchyardError).code).to.equal('ERR_ACTOR_STOPPED');
    expect((streamErr as SwitchyardError).code).to.equal('ERR_ACTOR_STOPPED');
  });

  it('validates ask timeouts and stream options locally, naming the bad value', async function () {
    const system = await ActorSystem.start({ name: 'options' });
    const ref = system.local(slow, { name: 'slow' });
    for (const timeout of [0, -1, 1.5, Number.NaN, 2 ** 31]) {
      const err = await rejection(ref.with({ timeout }).ask('wait', 1));
      expect(err, String(timeout)).to.be.instanceOf(RangeError);
    }
    expect(await ref.with({ timeout: Number.POSITIVE_INFINITY }).ask('wait', 1)).to.equal(1);
    expect(() => ref.with({ prefetch: 2 ** 31 }).stream('forever')).to.throw(RangeError, /prefetch/);
    expect(() => ref.with({ bufferSize: -1 }).stream('forever')).to.throw(RangeError, /bufferSize/);
    await system.stop();
  });
});
