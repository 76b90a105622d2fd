/**
 * spawn.test.ts: system.spawn() over every transport: a real child process, started without
 * a shell, answering asks, tells and streams through a ref that survives restarts; a child
 * that is SIGKILLed under load, exits with code 1 or throws in init comes back with fresh
 * state; in-flight asks reject with PeerGoneError while later ones wait for the restart;
 * tells are held (bounded) while it is down; too many restarts end in `failed`; transient
 * and temporary children are left down. Every exited process is reaped (checked in /proc).
 */
import { expect } from 'chai';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { lastValueFrom, toArray } from 'rxjs';
import { ActorSystem, AskTimeoutError, ChildFailedError, ChildQueueFullError, PeerGoneError, type ChildStatus, type SupervisedRef } from '../../src/index.js';
import type worker from '../fixtures/supervised-worker.js';
import { makeTempDir } from '../setup/tmp.js';
import { ALL_TRANSPORTS, CORE_TRANSPORTS, cmdline, gone, nextRunning, procState, record, statusWhere, WORKER, WORKER_PATH } from './helpers.js';

type Worker = typeof worker;
const FAST = { backoff: { initialMs: 20 }, stdio: 'ignore' as const };

function useSystem(): () => ActorSystem {
  let system: ActorSystem | undefined;
  beforeEach(async () => {
    system = await ActorSystem.start({ onError: () => {} });
  });
  afterEach(async () => {
    await system?.stop();
  });
  return () => system!;
}

for (const transport of ALL_TRANSPORTS) {
  describe(`supervision: spawn over ${transport}`, function () {
    const system = useSystem();

    it('resolves a ref once the child answers; no shell in between; asks, tells and streams work', async function () {
      const ref = await system().spawn<Worker>(WORKER, { transport, name: `basic-${transport}`, ...FAST });
      const pid = ref.pid!;
      expect(ref.status).to.deep.include({ type: 'running', pid, incarnation: 1 });
      const argv = cmdline(pid);
      expect(argv[0], 'node itself, not a shell').to.equal(process.execPath);
      expect(argv[1]).to.match(/supervision\/child-main\.js$/);
      expect(await ref.ask('ppid')).to.equal(process.pid);
      expect(await ref.ask('inc', 2)).to.equal(2);
      ref.tell('inc', 3);
      expect(await ref.ask('count')).to.equal(5);
      expect(await lastValueFrom(ref.stream('count', 5).pipe(toArray()))).to.deep.equal([0, 1, 2, 3, 4]);
      await ref.stop();
      expect(ref.status.type).to.equal('stopped');
      await gone(pid, 5000, 'stopped child');
    });
  });
}

for (const transport of CORE_TRANSPORTS) {
  describe(`supervision: restarts over ${transport}`, function () {
    const system = useSystem();

    it('a child SIGKILLed under load comes back with fresh state; in-flight asks reject with PeerGoneError, later asks succeed; the old one is reaped', async function () {
      const ref = await system().spawn<Worker>(WORKER, { transport, name: `killed-${transport}`, ...FAST });
      await ref.ask('inc', 5);
      const oldPid = ref.pid!;
      // sent at once (the ref is ready, so nothing waits); the child's mailbox holds them behind the first
      const inFlight = Array.from({ length: 20 }, () => ref.ask('slow', 10_000).then(() => 'answered', (e: unknown) => e));
      process.kill(oldPid, 'SIGKILL');
      for (const outcome of await Promise.all(inFlight)) expect(outcome).to.be.instanceOf(PeerGoneError);
      expect(await ref.ask('count'), 'fresh state').to.equal(0);
      expect(ref.pid).to.not.equal(oldPid);
      expect(procState(oldPid), 'the killed child was reaped').to.equal(undefined);
    });

    it('a child that exits with code 1 is restarted; tells sent while it is down are held and delivered in order', async function () {
      const ref = await system().spawn<Worker>(WORKER, { transport, name: `exit1-${transport}`, ...FAST, backoff: { initialMs: 300 } });
      const seen = record(ref.status$);
      const oldPid = ref.pid!;
      const exited = statusWhere(ref.status$, (s) => s.type === 'exited', 10_000, 'exit');
      ref.tell('exit', 1);
      expect(await exited).to.deep.include({ code: 1, signal: null, cause: 'exited', pid: oldPid });
      for (let i = 1; i <= 3; i++) ref.tell('inc', i);
      expect(await ref.ask('count'), 'the held tells arrived, in order, in the new incarnation').to.equal(6);
      expect(seen.map((s) => s.type)).to.deep.equal(['running', 'exited', 'restarting', 'starting', 'running']);
      expect(seen[2]).to.deep.equal({ type: 'restarting', attempt: 1, delayMs: 300 });
      expect(procState(oldPid)).to.equal(undefined);
    });

    it('held tells are bounded: one more than maxQueued throws ChildQueueFullError', async function () {
      const ref = await system().spawn<Worker>(WORKER, { transport, name: `queue-${transport}`, ...FAST, backoff: { initialMs: 500 }, maxQueued: 2 });
      const restarting = statusWhere(ref.status$, (s) => s.type === 'restarting', 10_000, 'restarting');
      process.kill(ref.pid!, 'SIGKILL');
      await restarting;
      ref.tell('inc', 1);
      ref.tell('inc', 1);
      expect(() => ref.tell('inc', 1)).to.throw(ChildQueueFullError).with.property('code', 'ERR_CHILD_QUEUE_FULL');
      expect(await ref.ask('count')).to.equal(2);
    });

    it('a child whose init throws is restarted, and spawn resolves once it runs', async function () {
      const marker = join(makeTempDir(), 'init-failed');
      const ref = await system().spawn<Worker>(WORKER, { transport, name: `init-${transport}`, ...FAST, args: [{ failInitOnce: marker }] });
      const failedPid = Number(readFileSync(marker, 'utf8'));
      expect(ref.status).to.deep.include({ type: 'running', incarnation: 2 });
      expect(ref.pid).to.not.equal(failedPid);
      expect(procState(failedPid)).to.equal(undefined);
      expect(await ref.ask('count')).to.equal(0);
      const { rmSync } = await import('node:fs');
      rmSync(marker);
    });

    it('more restarts than the intensity allows end in failed, and calls then reject with ChildFailedError', async function () {
      const err = await system()
        .spawn<Worker>(WORKER, { transport, name: `doomed-${transport}`, ...FAST, args: [{ failInitAlways: true }] })
        .then(() => undefined, (e: unknown) => e);
      expect(err).to.be.instanceOf(ChildFailedError);
      expect((err as ChildFailedError).message).to.match(/more than 3 restart\(s\) within 5000 ms/);
    });

    it('transient children are not restarted after exit 0, temporary ones not even after SIGKILL', async function () {
      const transient = await system().spawn<Worker>(WORKER, { transport, name: `transient-${transport}`, ...FAST, restart: 'transient' });
      const temporary = await system().spawn<Worker>(WORKER, { transport, name: `temporary-${transport}`, ...FAST, restart: 'temporary' });
      const ends = [transient, temporary].map((r: SupervisedRef<Worker>) => statusWhere(r.status$, (s: ChildStatus) => s.type === 'stopped', 10_000, `${r.actor} stopped`));
      transient.tell('exit', 0);
      process.kill(temporary.pid!, 'SIGKILL');
      await Promise.all(ends);
      for (const r of [transient, temporary]) {
        expect(await r.ask('count').then(() => 'answered', (e: unknown) => e)).to.be.instanceOf(PeerGoneError);
      }
    });
  });
}

describe('supervision: spawn options', function () {
  const system = useSystem();

  it('forwards child output line by line with a [name pid] prefix', async function () {
    const lines: string[] = [];
    const ref = await system().spawn<Worker>(WORKER_PATH, {
      name: 'talker',
      stdio: (line, stream, pid) => lines.push(`${stream} ${pid} ${line}`),
    });
    await ref.ask('say', 'hello');
    const pid = ref.pid!;
    await ref.stop();
    expect(lines).to.include.members([`stdout ${pid} hello`, `stderr ${pid} err hello`]);
  });

  it('writes [name pid] before each line of the child on our stdout by default', async function () {
    const written: string[] = [];
    const write = process.stdout.write.bind(process.stdout);
    const writeErr = process.stderr.write.bind(process.stderr);
    const ref = await system().spawn<Worker>(WORKER, { name: 'prefixed' });
    const pid = ref.pid!;
    const capture = ((chunk: string | Uint8Array): boolean => (written.push(String(chunk)), true)) as typeof process.stdout.write;
    process.stdout.write = capture;
    process.stderr.write = capture;
    try {
      await ref.ask('say', 'one\ntwo');
      await ref.stop();
    } finally {
      process.stdout.write = write;
      process.stderr.write = writeErr;
    }
    expect(written).to.include.members([`[prefixed ${pid}] one\n`, `[prefixed ${pid}] two\n`, `[prefixed ${pid}] err one\n`]);
  });

  it('passes env and refuses bad options with typed errors', async function () {
    const ref = await system().spawn<Worker>(WORKER, { name: 'env', env: { SUP_TEST_VALUE: 'forty-two' }, stdio: 'ignore' });
    expect(await ref.ask('env', 'SUP_TEST_VALUE')).to.equal('forty-two');
    expect(await ref.ask('env', 'SWITCHYARD_CHILD'), 'the instructions are not left for grandchildren').to.equal(null);
    await ref.stop();
    await expectRejects(system().spawn(WORKER, { transport: 'carrier-pigeon' }), 'ERR_UNKNOWN_SCHEME');
    await expectRejects(system().spawn(WORKER, { name: 'has space' }), 'ERR_BAD_NAME');
    await expectRejects(system().spawn(WORKER, { args: [1n] as unknown[] }), undefined, TypeError);
  });

  it('an ask made while the child is down waits for the restart only up to its timeout (AskTimeoutError)', async function () {
    const ref = await system().spawn<Worker>(WORKER, { name: 'slow-restart', stdio: 'ignore', backoff: { initialMs: 1500 } });
    const restarting = statusWhere(ref.status$, (s) => s.type === 'restarting', 10_000, 'restarting');
    process.kill(ref.pid!, 'SIGKILL');
    await restarting;
    const early = await ref.with({ timeout: 200 }).ask('count').then(() => 'answered', (e: unknown) => e);
    expect(early).to.be.instanceOf(AskTimeoutError);
    expect(await ref.with({ timeout: 20_000 }).ask('count'), 'a patient ask gets the new child').to.equal(0);
  });

  it('a module with no definition fails at once, without restarts', async function () {
    const statuses: string[] = [];
    const err = await system()
      .spawn(new URL('./helpers.js', import.meta.url), { name: 'not-an-actor', stdio: (l) => statuses.push(l) })
      .then(() => undefined, (e: unknown) => e);
    expect(err).to.be.instanceOf(ChildFailedError);
    expect((err as Error).message).to.match(/could not load/);
    expect(statuses.join('\n')).to.match(/no default export made by defineActor/);
  });
});

async function expectRejects(p: Promise<unknown>, code?: string, cls?: new (...a: never[]) => Error): Promise<void> {
  const err = await p.then(() => undefined, (e: unknown) => e);
  expect(err, 'rejected').to.be.instanceOf(cls ?? Error);
  if (code) expect(err).to.have.property('code', code);
}
