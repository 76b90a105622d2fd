/**
 * demo.test.ts: `switchyard demo` as a user runs it: a hub and three real supervised worker
 * processes over socketpair, unix and tcp. It must show values from every worker, and every
 * worker's neighbour's values relayed through the hub, show worker-2 killed with SIGKILL and
 * back with a new pid, then leave no process and no file behind, whether it ran out its time
 * or was interrupted with SIGINT.
 */
import { expect } from 'chai';
import { readdirSync } from 'node:fs';
import { makeTempDir } from '../setup/tmp.js';
import { killStrays, startBin, type Running } from './spawn-bin.js';

const WORKERS: Array<[string, string]> = [
  ['worker-1', 'socketpair'],
  ['worker-2', 'unix'],
  ['worker-3', 'tcp'],
];

function pidsOf(stdout: string): number[] {
  return [...new Set([...stdout.matchAll(/\(pid (\d+)\)/g)].map((m) => Number(m[1])))];
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw err;
  }
}

function expectNothingLeft(run: Running, tmp: string, restarted: boolean): void {
  const pids = pidsOf(run.stdout());
  expect(pids, 'the hub and three workers said their pids (and the restarted worker its new one)').to.have.length(restarted ? 5 : 4);
  for (const pid of pids) expect(alive(pid), `pid ${pid} is gone`).to.equal(false);
  expect(readdirSync(tmp), 'no temp dir or socket file left').to.deep.equal([]);
}

describe('cli: switchyard demo', function () {
  this.timeout(20_000);
  afterEach(killStrays);

  it('runs for --seconds, shows every worker streaming directly and through the hub, and cleans up', async function () {
    const tmp = makeTempDir();
    const run = startBin(['demo', '--seconds', '3', '--rate', '500'], { ...process.env, TMPDIR: tmp });
    expect(await run.exited, run.stderr()).to.equal(0);
    expect(run.stderr()).to.equal('');
    const out = run.stdout();
    for (const [name, transport] of WORKERS) {
      expect(out).to.match(new RegExp(`${name} \\(pid \\d+\\) linked over ${transport}\\n`));
      const rows = out.split('\n').filter((l) => l.trim().startsWith(`${name} `));
      expect(rows, `${name} rows`).to.not.be.empty;
      const totals = rows.map((l) => Number(/\( *([\d,]+) in all\)/.exec(l)![1]!.replace(/,/g, '')));
      expect(Math.max(...totals), `${name} streamed values to the hub`).to.be.above(0);
      const relays = rows.map((l) => /via hub from (worker-\d) +([\d,]+)\/s/.exec(l));
      expect(relays.some((m) => m && m[1] !== name && Number(m[2]!.replace(/,/g, '')) > 0), `${name} got its neighbour's values via the hub:\n${rows.join('\n')}`).to.equal(true);
      expect(rows.some((l) => /ask +[\d.,]+ µs/.test(l)), `${name} answered pings`).to.equal(true);
    }
    expect(out).to.match(/switchyard demo: killing worker-2 \(pid (\d+)\) with SIGKILL\n/);
    const killed = /killing worker-2 \(pid (\d+)\)/.exec(out)![1];
    const back = /switchyard demo: worker-2 is back \(pid (\d+)\)/.exec(out);
    expect(back, 'worker-2 came back').to.not.equal(null);
    expect(back![1]).to.not.equal(killed);
    expect(out, 'flow control holds').to.not.match(/StreamOverflowError/);
    // the only errors shown are calls caught in flight by the kill
    const errors = out.split('\n').filter((l) => l.startsWith('switchyard demo: !'));
    for (const e of errors) expect(e).to.match(/worker-2.*ERR_PEER_GONE|PeerGoneError/);
    expect(out).to.match(/switchyard demo: done; 3 worker\(s\) stopped/);
    expectNothingLeft(run, tmp, true);
  });

  it('on SIGINT stops every worker, removes its files and exits 130', async function () {
    const tmp = makeTempDir();
    const run = startBin(['demo', '--rate', '500'], { ...process.env, TMPDIR: tmp });
    await run.line(/^  worker-3 /);
    run.child.kill('SIGINT');
    expect(await run.exited, run.stderr()).to.equal(130);
    expect(run.stdout()).to.match(/switchyard demo: interrupted by SIGINT; 3 worker\(s\) stopped/);
    expectNothingLeft(run, tmp, /worker-2 is back/.test(run.stdout()));
  });
});
