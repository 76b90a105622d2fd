/**
 * nats-upgrade-bus.test.ts: the nats same-host upgrade between two real processes on one
 * host, at the bus level, against a real nats-server this file starts (with monitoring): a
 * system here connects over nats:// to a system in a child process; the link moves to the
 * local socket (and the server's /varz shows the stream's messages leaving it) while a bus
 * stream keeps every value in order, with nothing lost across the switch; asks are answered
 * before and after. Then the local socket is dropped under the running stream: values keep
 * coming over NATS, in order, any missing one counted lost. A listener process that gets
 * SIGTERM while its offer is open leaves neither the socket nor its directory behind.
 */
import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Subscription } from 'rxjs';
import { ActorSystem, connect } from '../../src/index.js';
import { upgradeTuning } from '../../src/transports/nats/upgrade-offer.js';
import { UpgradingLink } from '../../src/transports/nats/upgrading-link.js';
import { startNatsServer, type NatsServer } from '../fixtures/nats-server.js';
import { until, withTimeout } from '../setup/timing.js';
import { monitor } from './nats-helpers.js';

const PEER = fileURLToPath(new URL('../fixtures/nats-upgrade-peer.js', import.meta.url));

interface VarzMsgs {
  in_msgs: number;
}

function expectInOrder(values: readonly number[], what: string): void {
  for (let i = 1; i < values.length; i++) {
    if (values[i]! <= values[i - 1]!) expect.fail(`${what}: value ${values[i]} after ${values[i - 1]}`);
  }
}

describe('nats: the same-host upgrade between two processes (bus level)', function () {
  this.timeout(60_000);
  let server: NatsServer;
  let child: ChildProcess | undefined;

  before(async function () {
    server = await startNatsServer({ monitor: true });
  });
  after(async function () {
    await server?.stop();
  });
  afterEach(async function () {
    upgradeTuning.wrongNonce = false;
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child!.once('exit', r));
      child.stdin!.end();
      await withTimeout(exited, 10_000, 'the peer exiting').catch(() => child!.kill('SIGKILL'));
    }
    child = undefined;
  });

  async function peerAddress(): Promise<string> {
    child = spawn(process.execPath, [PEER, `${server.url}/upbus`], { stdio: ['pipe', 'pipe', 'inherit'] });
    let out = '';
    return withTimeout(
      new Promise<string>((resolve, reject) => {
        child!.once('exit', (code) => reject(new Error(`the peer exited (${code}) before listening`)));
        child!.stdout!.setEncoding('utf8').on('data', (s: string) => {
          out += s;
          const m = /^listening (\S+)$/m.exec(out);
          if (m) resolve(m[1]!);
        });
      }),
      15_000,
      'the peer listening',
    );
  }

  it('nats: a bus stream keeps its order and loses nothing across the switch to the local socket, and across the fall back', async function () {
    const address = await peerAddress();
    const a = await ActorSystem.start({ name: 'up-a' });
    let sub: Subscription | undefined;
    try {
      const link = await connect(address);
      expect(link, 'a same-host nats link').to.be.instanceOf(UpgradingLink);
      const up = link as UpgradingLink;
      await a.attach(link);
      const ref = a.ref('up-b/counter');
      expect(await ref.ask('echo', 'before')).to.equal('before');

      const values: number[] = [];
      let failed: unknown;
      sub = ref.stream('count', 2).subscribe({ next: (v) => void values.push(v as number), error: (e: unknown) => (failed = e) });
      await until('the link on the local socket', 10_000, () => up.path === 'local');
      await until('values after the switch', 10_000, () => values.length >= 100);

      // The stream's values no longer go through the server: over 500 ms of ~250 values, the
      // server takes in only the links' heartbeats (a few per 100 ms).
      const before = (await monitor<VarzMsgs>(server, '/varz')).in_msgs;
      const count = values.length;
      await new Promise((r) => setTimeout(r, 500));
      const inMsgs = (await monitor<VarzMsgs>(server, '/varz')).in_msgs - before;
      const flowed = values.length - count;
      expect(flowed, 'values during the 500 ms').to.be.greaterThan(50);
      expect(inMsgs, `messages the server took in while ${flowed} values flowed`).to.be.lessThan(flowed / 2);

      expect(await ref.ask('echo', 'upgraded')).to.equal('upgraded');
      expectInOrder(values, 'across the switch');
      expect(values[values.length - 1]! - values[0]! + 1, 'values missing across the switch').to.equal(values.length);
      expect(values[0]).to.equal(0);
      expect(up.stats.lost).to.equal(0);

      // The local socket fails under the running stream: back to NATS, in order.
      await up.dropLocal();
      await until('the link back on NATS', 5_000, () => up.path === 'nats');
      const atFallback = values.length;
      await until('values after the fall back', 10_000, () => values.length >= atFallback + 100 || failed !== undefined);
      expect(failed).to.equal(undefined);
      expectInOrder(values, 'across the fall back');
      const gap = values[values.length - 1]! - values[0]! + 1 - values.length;
      await until(`${gap} missing values counted lost (counted ${up.stats.lost})`, 5_000, () => up.stats.lost >= gap);
      expect(await ref.ask('echo', 'after')).to.equal('after');
    } finally {
      sub?.unsubscribe();
      await a.stop();
    }
  });

  it('nats upgrade: a listener process stopped by SIGTERM with an offer open removes its local socket and directory', async function () {
    const address = await peerAddress();
    // A client whose proof is refused: the child's offer stays open (until its timeout).
    upgradeTuning.wrongNonce = true;
    const link = await connect(address);
    try {
      expect(link, 'a same-host nats link').to.be.instanceOf(UpgradingLink);
      const up = link as UpgradingLink;
      await until('the refused client gives up', 5_000, () => up.upgradeSettled);
      const path = up.rendezvousPath!;
      expect(statSync(path).isSocket(), 'the offered socket while the offer is open').to.equal(true);
      const exited = new Promise<NodeJS.Signals | null>((r) => child!.once('exit', (_code, signal) => r(signal)));
      child!.kill('SIGTERM');
      expect(await withTimeout(exited, 10_000, 'the peer dying of SIGTERM')).to.equal('SIGTERM');
      expect(existsSync(path), 'socket after SIGTERM').to.equal(false);
      expect(existsSync(dirname(path)), 'directory after SIGTERM').to.equal(false);
    } finally {
      await link.close();
    }
  });
});
