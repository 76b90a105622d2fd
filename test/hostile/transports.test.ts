/**
 * transports.test.ts: `switchyard serve` (a real child process, node bin/switchyard.js) on
 * each addressed transport, attacked through raw connections made by hand (raw-attacks.ts:
 * raw unix/tcp sockets, raw FIFOs, raw SysV messages, raw udp datagrams, a raw shm peer, a
 * raw NATS client on a nats-server this test starts)
 * with garbage and handshake violations, a few hundred per transport, while a well-behaved
 * client (an ActorSystem in this process) keeps asking `echo`.
 *
 * Outcome per transport: each attack sees the link it broke closed (or its garbage ignored,
 * where the protocol ignores it); every ask of the client is answered, in order; serve is
 * still running; once the attackers are gone, serve's fds and threads are back to what they
 * were before (small slack for the runtime's own).
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { ActorSystem, type ActorRef, type AnyActorDefinition } from '../../src/index.js';
import { killStrays, startBin, type Running } from '../cli/spawn-bin.js';
import { makeTempDir } from '../setup/tmp.js';
import { startNatsServer, type NatsServer } from '../fixtures/nats-server.js';
import { fifoAttack, msgqAttack, natsAttacker, shmAttack, streamAttack, udpAttack, type AttackCase } from './raw-attacks.js';
import { runs } from './runs.js';

const CASES = 200;

interface Target {
  scheme: string;
  listenOn: (dir: string) => string;
  attack: (address: string, c: AttackCase) => Promise<void>;
  /** For nats: starts what the transport needs first (a server); returns what stops it. */
  start?: () => Promise<() => Promise<void>>;
}

/** The nats target's server and raw client, made by its start(). */
let nats: { server: NatsServer; attack: (address: string, c: AttackCase) => Promise<void> } | undefined;

const TARGETS: Target[] = [
  { scheme: 'unix', listenOn: (dir) => `unix://${join(dir, 's.sock')}`, attack: (a, c) => streamAttack({ path: new URL(a).pathname }, c) },
  {
    scheme: 'tcp',
    listenOn: () => 'tcp://127.0.0.1:0',
    attack: (a, c) => streamAttack({ host: '127.0.0.1', port: Number(new URL(a).port) }, c),
  },
  { scheme: 'fifo', listenOn: (dir) => `fifo://${join(dir, 'f')}`, attack: (a, c) => fifoAttack(new URL(a).pathname, c) },
  { scheme: 'msgq', listenOn: () => 'msgq://0', attack: (a, c) => msgqAttack(Number(new URL(a).hostname), c) },
  { scheme: 'udp', listenOn: () => 'udp://127.0.0.1:0', attack: (a, c) => udpAttack(Number(new URL(a).port), c) },
  { scheme: 'shm', listenOn: () => `shm://hostile-${process.pid}-${Date.now() % 1e6}`, attack: (a, c) => shmAttack(new URL(a).hostname, c) },
  {
    scheme: 'nats',
    listenOn: () => `${nats!.server.url}/hostile`,
    attack: (a, c) => nats!.attack(a, c),
    start: async () => {
      const server = await startNatsServer();
      const raw = await natsAttacker(server.url);
      nats = { server, attack: raw.attack };
      return async () => {
        await raw.close();
        await server.stop();
        nats = undefined;
      };
    },
  },
];

const attackCase: fc.Arbitrary<AttackCase> = fc.record({ kind: fc.nat({ max: 1000 }), bytes: fc.uint8Array({ minLength: 8, maxLength: 48 }) });

function count(pid: number, what: 'fd' | 'task'): number {
  return readdirSync(`/proc/${pid}/${what}`).length;
}

async function settle(pid: number, fds: number, threads: number): Promise<[number, number]> {
  let now: [number, number] = [count(pid, 'fd'), count(pid, 'task')];
  for (const deadline = Date.now() + 15_000; (now[0] > fds || now[1] > threads) && Date.now() < deadline; ) {
    await new Promise((r) => setTimeout(r, 100));
    now = [count(pid, 'fd'), count(pid, 'task')];
  }
  return now;
}

for (const t of TARGETS) {
  describe(`hostile: raw ${t.scheme} peers against switchyard serve`, function () {
    this.timeout(240_000);
    let serve: Running;
    let address: string;
    let system: ActorSystem;
    let stopExtra: (() => Promise<void>) | undefined;

    before(async function () {
      stopExtra = await t.start?.();
      serve = startBin(['serve', t.listenOn(makeTempDir()), '--name', `hostile-${t.scheme}`]);
      address = (await serve.line(/:\/\//, 20_000)).trim();
      system = await ActorSystem.start({ name: `hostile-client-${t.scheme}` });
    });

    after(async function () {
      await system?.stop();
      if (serve && serve.child.exitCode === null) {
        serve.child.kill('SIGINT');
        expect(await serve.exited, serve.stderr()).to.equal(0);
      }
      await killStrays();
      await stopExtra?.();
    });

    it(`${CASES} raw connections of garbage and handshake violations: the client is answered throughout; serve alive; its fds and threads flat`, async function () {
      const remote = await system.connect(address);
      const echo: ActorRef<AnyActorDefinition> = remote.ref('echo');
      for (let i = 0; i < 5; i++) expect(await echo.ask('echo', i)).to.equal(i);
      const pid = serve.child.pid!;
      const [fds, threads] = [count(pid, 'fd'), count(pid, 'task')];

      let answered = 0;
      let stop = false;
      const asking = (async () => {
        while (!stop) {
          expect(await echo.ask('echo', `ask ${answered}`, { timeoutMs: 20_000 })).to.equal(`ask ${answered}`);
          answered++;
          await new Promise((r) => setTimeout(r, 5));
        }
      })();
      try {
        await fc.assert(fc.asyncProperty(attackCase, (c) => t.attack(address, c)), runs(CASES));
      } finally {
        stop = true;
        await asking;
      }
      expect(answered, 'asks answered while under attack').to.be.above(0);
      expect(serve.child.exitCode, serve.stderr()).to.equal(null);
      const [fdsAfter, threadsAfter] = await settle(pid, fds + 2, threads + 2);
      expect(fdsAfter, `serve's fds (before: ${fds})`).to.be.at.most(fds + 2);
      expect(threadsAfter, `serve's threads (before: ${threads})`).to.be.at.most(threads + 2);
      expect(await echo.ask('echo', 'after')).to.equal('after');
      await remote.close();
    });
  });
}
