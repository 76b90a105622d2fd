/**
 * signals.test.ts: a parent script (test/fixtures/supervising-parent.ts) that opted in to
 * system.handleSignals(), with children on several transports, as an operator meets it:
 * SIGTERM ends all of its processes within 3 s, exit 0, leaving nothing in ipcs, /dev/shm
 * or its temp dir; SIGHUP gives every child a new pid; SIGKILL of the parent leaves no
 * orphan after 1 s. In-process: a pool restarted (what SIGHUP does) loses no request, and
 * system.stop() drains calls in flight before it stops the children.
 */
import { expect } from 'chai';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ActorSystem } from '../../src/index.js';
import type worker from '../fixtures/supervised-worker.js';
import { makeTempDir } from '../setup/tmp.js';
import { alive, gone, sleep, WORKER } from './helpers.js';

const PARENT = fileURLToPath(new URL('../fixtures/supervising-parent.js', import.meta.url));

interface Parent {
  proc: ChildProcess;
  tmp: string;
  out(): string;
  /** Resolves when a line matching `re` has been printed. */
  line(re: RegExp, ms?: number): Promise<RegExpMatchArray>;
  exited: Promise<number | null>;
  /** The latest pid printed for each child. */
  children(): Map<string, number>;
}

const started: ChildProcess[] = [];

function startParent(transports: string[]): Parent {
  const tmp = makeTempDir();
  const proc = spawn(process.execPath, [PARENT, transports.join(',')], { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, TMPDIR: tmp } });
  started.push(proc);
  let out = '';
  const waiters = new Set<() => void>();
  proc.stdout!.setEncoding('utf8').on('data', (s: string) => {
    out += s;
    for (const w of [...waiters]) w();
  });
  const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
  return {
    proc,
    tmp,
    out: () => out,
    exited,
    line: (re, ms = 20_000) =>
      new Promise((resolve, reject) => {
        const check = (): void => {
          const m = re.exec(out);
          if (m) {
            waiters.delete(check);
            clearTimeout(timer);
            resolve(m);
          }
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`parent did not print ${re} within ${ms} ms; it printed:\n${out}`));
        }, ms);
        waiters.add(check);
        check();
      }),
    children: () => {
      const m = new Map<string, number>();
      for (const [, name, pid] of out.matchAll(/^running (\S+) (\d+)$/gm)) m.set(name!, Number(pid));
      return m;
    },
  };
}

/** Message queues whose last sender or receiver was one of `pids` (`ipcs -q -p`: msqid owner lspid lrpid). */
function queuesOf(pids: number[]): string[] {
  const out = execFileSync('ipcs', ['-q', '-p'], { encoding: 'utf8' });
  return out.split('\n').filter((l) => {
    const cols = l.trim().split(/\s+/);
    return /^\d+$/.test(cols[0] ?? '') && (pids.includes(Number(cols[2])) || pids.includes(Number(cols[3])));
  });
}

describe('supervision: signals', function () {
  afterEach(async () => {
    for (const p of started.splice(0)) {
      if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
    }
  });

  it('SIGTERM to a parent with four children on four transports ends all five processes within 3 s, exit 0, nothing left behind', async function () {
    const parent = startParent(['pipe', 'shm', 'unix', 'msgq']);
    await parent.line(/^ready \d+$/m);
    const pids = [parent.proc.pid!, ...parent.children().values()];
    expect(pids).to.have.length(5);
    const t0 = Date.now();
    parent.proc.kill('SIGTERM');
    await Promise.all(pids.map((pid) => gone(pid, 3000 - (Date.now() - t0), `process ${pid} after SIGTERM`)));
    expect(await parent.exited).to.equal(0);
    expect(queuesOf(pids), 'no message queue of theirs').to.deep.equal([]);
    expect(readdirSync('/dev/shm').filter((n) => pids.some((p) => n.includes(String(p)))), '/dev/shm').to.deep.equal([]);
    expect(readdirSync(parent.tmp), 'temp dir').to.deep.equal([]);
  });

  it('SIGHUP restarts every child, one by one, with a new pid', async function () {
    const parent = startParent(['socketpair', 'shm', 'tcp']);
    await parent.line(/^ready \d+$/m);
    const before = parent.children();
    parent.proc.kill('SIGHUP');
    for (const [name, pid] of before) {
      await parent.line(new RegExp(`^running ${name} (?!${pid}$)\\d+$`, 'm'));
    }
    const after = parent.children();
    for (const [name, pid] of before) {
      expect(after.get(name), name).to.not.equal(pid);
      await gone(pid, 5000, `${name}'s old process`);
    }
    parent.proc.kill('SIGTERM');
    expect(await parent.exited).to.equal(0);
  });

  for (const set of [['pipe', 'socketpair', 'shm', 'unix', 'tcp'], ['fifo', 'msgq', 'udp']]) {
    it(`SIGKILL of the parent leaves no orphan after 1 s, and nothing behind (${set.join(', ')})`, async function () {
      const parent = startParent(set);
      await parent.line(/^ready \d+$/m);
      const children = [...parent.children().values()];
      expect(children).to.have.length(set.length);
      parent.proc.kill('SIGKILL');
      await parent.exited;
      const t0 = Date.now();
      // exited: an orphan is init's to reap, on init's schedule, so a zombie here counts as gone
      await Promise.all(children.map((pid) => gone(pid, 1000 - (Date.now() - t0), `orphan ${pid}`, true)));
      // a msgq child removes the queue its dead parent made (msgq.ts); nothing else is named
      expect(queuesOf([parent.proc.pid!, ...children]), 'no message queue of theirs').to.deep.equal([]);
      expect(readdirSync(parent.tmp), 'nothing left in the temp dir').to.deep.equal([]);
    });
  }

  describe('in process', function () {
    let system: ActorSystem;
    beforeEach(async () => {
      system = await ActorSystem.start({ onError: () => {} });
    });
    afterEach(async () => {
      await system.stop();
    });

    it('a pool restarted as SIGHUP does it gets new pids and loses no request', async function () {
      const pool = await system.spawnPool<typeof worker>(WORKER, { size: 2, transport: 'socketpair', stdio: 'ignore' });
      const before = pool.workers.map((w) => w.pid!);
      let running = true;
      let answered = 0;
      const failures: unknown[] = [];
      const caller = async (): Promise<void> => {
        while (running) {
          try {
            await pool.ask('slow', 20);
            answered++;
          } catch (err) {
            failures.push(err);
          }
        }
      };
      const callers = [caller(), caller(), caller()];
      await pool.restart();
      running = false;
      await Promise.all(callers);
      expect(failures, 'no request lost').to.deep.equal([]);
      expect(answered).to.be.above(0);
      const after = pool.workers.map((w) => w.pid!);
      for (let i = 0; i < 2; i++) expect(after[i]).to.not.equal(before[i]);
      for (const pid of before) expect(alive(pid)).to.equal(false);
    });

    it('system.stop() lets calls in flight finish, then stops the children', async function () {
      const ref = await system.spawn<typeof worker>(WORKER, { stdio: 'ignore', name: 'drained' });
      const pid = ref.pid!;
      const inFlight = ref.ask('slow', 300);
      await sleep(50);
      await system.stop();
      expect(await inFlight).to.equal(pid);
      expect(alive(pid)).to.equal(false);
      expect(ref.status.type).to.equal('stopped');
    });
  });
});
