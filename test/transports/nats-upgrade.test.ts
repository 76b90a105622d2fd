/**
 * nats-upgrade.test.ts: the nats same-host upgrade at the link level, against a real
 * nats-server this file starts: two ends that meet through NATS on one host move their
 * traffic to a local unix socket while frames flow both ways, and no frame is reordered,
 * lost or duplicated across the switch; when the local socket fails under a running flow,
 * traffic goes back to NATS in order, every frame received or counted lost; `?upgrade=0`
 * stays on NATS; a client that proves itself with a wrong nonce is refused and the link stays
 * on NATS; the socket and its directory are gone after close.
 *
 * Both ends run in this process (upgradeTuning.sameProcess: by default two ends of one
 * process stay on NATS); nats-upgrade-bus.test.ts does it across two processes.
 */
import { expect } from 'chai';
import { existsSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { connect, TransportError, type Link, type Listener } from '../../src/index.js';
import { NatsLink } from '../../src/transports/nats/nats-link.js';
import { upgradeTuning } from '../../src/transports/nats/upgrade-offer.js';
import { UpgradingLink } from '../../src/transports/nats/upgrading-link.js';
import { startNatsServer, type NatsServer } from '../fixtures/nats-server.js';
import { sleep, until, withTimeout } from '../setup/timing.js';
import { listenAt } from './nats-helpers.js';

/** Frame i: its number in the first 4 bytes; every 97th is 200 KiB (several datagrams on NATS). */
function frame(i: number): Buffer {
  const b = Buffer.alloc(i % 97 === 96 ? 200 * 1024 : 16 + (i % 40));
  b.writeUInt32BE(i, 0);
  b[b.length - 1] = i & 0xff;
  return b;
}

/** Sends numbered frames on `link` a few per millisecond (some written in place) until stop(). */
function pump(link: Link): { count: () => number; stop: () => Promise<void> } {
  let n = 0;
  let running = true;
  const done = (async () => {
    while (running) {
      for (let k = 0; k < 8 && running; k++, n++) {
        const f = frame(n);
        const room = n % 3 === 0 ? link.claim!(f.length) : null;
        let more: boolean;
        if (room) {
          room.set(f);
          more = link.commit!(f.length);
        } else more = link.send(f);
        if (!more) await link.drain();
      }
      await sleep(1);
    }
  })();
  return {
    count: () => n,
    stop: async () => {
      running = false;
      await done;
    },
  };
}

/** Records the numbers of the frames `link` hands up, checking each is intact. */
function record(link: Link): number[] {
  const seen: number[] = [];
  link.onFrame((f) => {
    const i = Buffer.from(f).readUInt32BE(0);
    expect(f.length, `frame ${i} length`).to.equal(frame(i).length);
    expect(f[f.length - 1], `frame ${i} last byte`).to.equal(i & 0xff);
    seen.push(i);
  });
  return seen;
}

/** Strictly increasing: never a frame before one sent earlier, never one twice. */
function expectInOrder(seen: readonly number[], what: string): void {
  for (let k = 1; k < seen.length; k++) {
    if (seen[k]! <= seen[k - 1]!) expect.fail(`${what}: frame ${seen[k]} handed up after frame ${seen[k - 1]} (position ${k})`);
  }
}

function asUpgrading(link: Link): UpgradingLink {
  expect(link, 'a same-host nats link').to.be.instanceOf(UpgradingLink);
  return link as UpgradingLink;
}

describe('nats: the same-host upgrade to a local socket (link level)', function () {
  this.timeout(30_000);
  let server: NatsServer;
  const opened: { close(): Promise<void> }[] = [];

  before(async function () {
    server = await startNatsServer({ monitor: true });
  });
  after(async function () {
    await server?.stop();
  });
  beforeEach(function () {
    upgradeTuning.sameProcess = true;
  });
  afterEach(async function () {
    upgradeTuning.sameProcess = false;
    upgradeTuning.wrongNonce = false;
    await Promise.allSettled(opened.splice(0).map((x) => x.close()));
  });

  async function pair(query = ''): Promise<{ client: Link; far: Link; listener: Listener }> {
    const { listener, accepted } = await listenAt(server, 'up', query);
    opened.push(listener);
    const client = await connect(listener.address.href);
    opened.push(client);
    const far = await accepted();
    opened.push(far);
    return { client, far, listener };
  }

  it('nats links on one host move to a local socket mid-flow, both ways, keeping every frame in order', async function () {
    const { client, far } = await pair();
    const [c, f] = [asUpgrading(client), asUpgrading(far)];
    const atFar = record(far);
    const atClient = record(client);
    // Frames flow both ways from before the switch until well after it.
    const up = pump(client);
    const down = pump(far);
    await until('both ends on the local socket', 5_000, () => c.path === 'local' && f.path === 'local');
    const atSwitch = [up.count(), down.count()];
    await until('frames after the switch', 5_000, () => up.count() > atSwitch[0]! + 500 && down.count() > atSwitch[1]! + 500);
    await Promise.all([up.stop(), down.stop()]);
    await until('every frame delivered', 10_000, () => atFar.length === up.count() && atClient.length === down.count());
    expect(atSwitch[0], 'frames the client sent on NATS before the switch').to.be.greaterThan(0);
    expect(atSwitch[1], 'frames the listener sent on NATS before the switch').to.be.greaterThan(0);
    expectInOrder(atFar, 'client -> listener');
    expectInOrder(atClient, 'listener -> client');
    expect(c.stats.lost + f.stats.lost, 'frames lost').to.equal(0);
    expect(c.stats.sent).to.equal(up.count());
    expect(f.stats.received).to.equal(up.count());
  });

  it('nats upgrade: the local socket lives in a private 0700 directory, removed with its last link', async function () {
    const { client, far } = await pair();
    const [c, f] = [asUpgrading(client), asUpgrading(far)];
    record(far);
    await until('upgraded', 5_000, () => c.path === 'local' && f.path === 'local');
    const path = f.rendezvousPath!;
    expect(c.rendezvousPath).to.equal(path);
    // The offer is released once matched: the socket and its directory are gone already, the
    // local link itself lives on.
    await until('the rendezvous socket removed once matched', 2_000, () => !existsSync(path) && !existsSync(dirname(path)));
    client.send(frame(0));
    await Promise.all([client.close(), far.close()]);

    // An offer that nobody takes up (upgrade off on the client, which then sends no offer in
    // its HELLO, cannot make one), so try with a client whose nonce is wrong: the socket
    // exists, 0700 directory, while the offer is open, and goes with the link.
    upgradeTuning.wrongNonce = true;
    const second = await pair();
    const s = asUpgrading(second.far);
    const p2 = s.rendezvousPath!;
    expect(statSync(dirname(p2)).mode & 0o777, 'directory mode').to.equal(0o700);
    expect(statSync(p2).isSocket()).to.equal(true);
    await until('the refused client gives up', 5_000, () => asUpgrading(second.client).upgradeSettled);
    await Promise.all([second.client.close(), second.far.close()]);
    expect(existsSync(p2), 'socket after close').to.equal(false);
    expect(existsSync(dirname(p2)), 'directory after close').to.equal(false);
  });

  it('nats upgrade: a client with the wrong nonce is refused, and the link stays on NATS and works', async function () {
    upgradeTuning.wrongNonce = true;
    const { client, far } = await pair();
    const [c, f] = [asUpgrading(client), asUpgrading(far)];
    const atFar = record(far);
    await until('the refused client gives up', 5_000, () => c.upgradeSettled);
    for (let i = 0; i < 50; i++) client.send(frame(i));
    await until('frames over NATS', 5_000, () => atFar.length === 50);
    expectInOrder(atFar, 'client -> listener');
    expect([c.path, f.path]).to.deep.equal(['nats', 'nats']);
  });

  it('nats with ?upgrade=0 stays on NATS: a plain nats link on both ends', async function () {
    const { client, far } = await pair('?upgrade=0');
    expect(client).to.be.instanceOf(NatsLink);
    expect(far).to.be.instanceOf(NatsLink);
    const atFar = record(far);
    for (let i = 0; i < 20; i++) client.send(frame(i));
    await until('frames over NATS', 5_000, () => atFar.length === 20);
    expectInOrder(atFar, 'client -> listener');
  });

  it('nats upgrade: a frame claimed on the local socket and committed after it failed goes on NATS after the fall back, not into the closed socket', async function () {
    const { client, far } = await pair();
    const c = asUpgrading(client);
    const atFar = record(far);
    client.send(frame(0));
    await until('upgraded', 5_000, () => c.path === 'local' && asUpgrading(far).path === 'local');
    client.send(frame(1));
    const room = client.claim!(frame(2).length)!;
    expect(() => client.send(frame(3)), 'a send between claim and commit').to.throw(TransportError).with.property('code', 'ERR_CLAIM_OPEN');
    room.set(frame(2));
    await withTimeout(c.dropLocal(), 5_000, 'the local link closed');
    await until('back on NATS', 5_000, () => c.path === 'nats');
    client.commit!(frame(2).length);
    client.send(frame(3));
    await until('frames 0..3 delivered', 5_000, () => atFar.length === 4);
    expect(atFar).to.deep.equal([0, 1, 2, 3]);
    expect(c.stats.lost + asUpgrading(far).stats.lost, 'frames lost').to.equal(0);
  });

  it('nats upgrade falls back to NATS when the local socket fails under a flow: order kept, every frame received or counted lost', async function () {
    const { client, far } = await pair();
    const [c, f] = [asUpgrading(client), asUpgrading(far)];
    const atFar = record(far);
    const atClient = record(client);
    const up = pump(client);
    const down = pump(far);
    await until('upgraded', 5_000, () => c.path === 'local' && f.path === 'local');
    await sleep(50);
    await withTimeout(f.dropLocal(), 5_000, 'the local link closed');
    await until('both ends back on NATS', 5_000, () => c.path === 'nats' && f.path === 'nats');
    const atFallback = [up.count(), down.count()];
    await until('frames after the fall back', 5_000, () => up.count() > atFallback[0]! + 300 && down.count() > atFallback[1]! + 300);
    await Promise.all([up.stop(), down.stop()]);
    await until('every frame received or counted lost', 10_000, () => atFar.length + f.stats.lost === up.count() && atClient.length + c.stats.lost === down.count());
    expectInOrder(atFar, 'client -> listener');
    expectInOrder(atClient, 'listener -> client');
    expect(atFar[atFar.length - 1], 'the last frame the client sent').to.equal(up.count() - 1);
    expect(atClient[atClient.length - 1], 'the last frame the listener sent').to.equal(down.count() - 1);
  });
});
