/**
 * bench-spawn.test.ts: a real `switchyard bench --level spawn --quick` over socketpair and
 * unix (the bin, real supervised children, real SIGKILLs, a real fork): it must print a row
 * per transport and the fork row, write the documented JSON, exit 0, and leave no process and
 * no temp file behind. Checks structure, never speed. Also: the matrix's options are refused
 * at the spawn level rather than silently ignored.
 */
import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { parseBenchArgs } from '../../benchmarks/cli/bench-args.js';
import type { SpawnReport } from '../../benchmarks/spawn-result.js';
import { UsageError } from '../../src/cli/usage-error.js';
import { makeTempDir } from '../setup/tmp.js';
import { BIN, type Run } from './run-bin.js';

const MARKER = 'SWITCHYARD_SPAWN_BENCH_TEST';

/** Pids of live (not zombie) processes whose environment carries MARKER=`tag`. */
function processesTagged(tag: string): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (!readFileSync(`/proc/${entry}/environ`, 'latin1').split('\0').includes(`${MARKER}=${tag}`)) continue;
      if (/^\d+ \(.*\) Z/s.test(readFileSync(`/proc/${entry}/stat`, 'utf8'))) continue;
      found.push(Number(entry));
    } catch {
      // gone meanwhile, or not ours to read
    }
  }
  return found;
}

describe('cli: switchyard bench --level spawn, a real quick run', function () {
  const dir = makeTempDir();
  const json = join(dir, 'spawn.json');
  const tmp = makeTempDir();
  const tag = randomBytes(8).toString('hex');
  let run: Run;
  let left: number[];

  before(async function () {
    this.timeout(110_000);
    run = await new Promise<Run>((resolve, reject) => {
      execFile(
        process.execPath,
        [BIN, 'bench', '--level', 'spawn', '--transports', 'socketpair,unix', '--quick', '--json', json],
        // a private TMPDIR holds whatever the run leaves; the marker finds every process it started
        { timeout: 100_000, env: { ...process.env, TMPDIR: tmp, [MARKER]: tag } },
        (err, stdout, stderr) => {
          if (err && typeof err.code !== 'number') return reject(new Error(`bench --level spawn: ${err.message}\n${stderr}`));
          resolve({ code: err ? (err.code as number) : 0, stdout, stderr });
        },
      );
    });
    left = processesTagged(tag); // at once: the bench must have stopped its children before exiting
  });

  after(function () {
    rmSync(json, { force: true });
  });

  it('exits 0 and prints a row per transport, then the fork row', function () {
    expect(run.code, run.stderr).to.equal(0);
    expect(run.stderr).to.match(/^switchyard bench \(spawn level, quick\) on .+ cores, Node v/m);
    expect(run.stdout).to.match(/│ name +│ kind +│ runs │ first answer p50 ms │ p90 ms │ restart p50 ms │ p90 ms │/);
    const rows = run.stdout.split('\n').filter((l) => /^│ (?!name)/.test(l)).map((l) => l.split('│').map((c) => c.trim()).slice(1, -1));
    expect(rows.map((r) => [r[0], r[1], r[2]])).to.deep.equal([
      ['socketpair', 'transport', '10'],
      ['unix', 'transport', '10'],
      ['child_process.fork', 'baseline', '10'],
    ]);
    for (const r of rows.slice(0, 2)) for (const cell of r.slice(3)) expect(cell, r[0]).to.match(/^\d+\.\d$/);
    expect(rows[2]!.slice(3)).to.satisfy((c: string[]) => /^\d+\.\d$/.test(c[0]!) && /^\d+\.\d$/.test(c[1]!) && c[2] === '-' && c[3] === '-');
  });

  it('writes the documented JSON: the machine, then each row with its samples', function () {
    const report = JSON.parse(readFileSync(json, 'utf8')) as SpawnReport;
    expect(report.level).to.equal('spawn');
    expect(report.machine).to.include({ node: process.version, mode: 'quick' });
    expect(report.failures).to.deep.equal([]);
    expect(report.spawn.map((r) => [r.name, r.kind])).to.deep.equal([
      ['socketpair', 'transport'],
      ['unix', 'transport'],
      ['child_process.fork', 'baseline'],
    ]);
    for (const r of report.spawn) {
      for (const t of r.kind === 'transport' ? [r.firstAnswer, r.restart!] : [r.firstAnswer]) {
        expect(t.samples, r.name).to.equal(10);
        expect(t.minMs, r.name).to.be.above(0);
        expect(t.p50Ms, r.name).to.be.at.least(t.minMs);
        expect(t.p90Ms, r.name).to.be.at.least(t.p50Ms).and.at.most(t.maxMs);
      }
    }
    expect(report.spawn[2]!.restart).to.equal(null);
  });

  it('leaves no process and no temp file behind', function () {
    expect(left, 'processes of the run still alive after it exited').to.deep.equal([]);
    expect(readdirSync(tmp)).to.deep.equal([]);
  });

  it('refuses the matrix options rather than ignoring them', function () {
    const choices = { transports: ['socketpair', 'unix'], baselines: ['raw-unix'], cores: 2 };
    expect(parseBenchArgs(['--level', 'spawn', '--quick', '--transports', 'unix'], choices)).to.include({ level: 'spawn', mode: 'quick' });
    for (const extra of [['--sizes', '64'], ['--baselines', 'none'], ['--round-trips', '5'], ['--html', 'x.html']]) {
      expect(() => parseBenchArgs(['--level', 'spawn', ...extra], choices), extra[0]).to.throw(UsageError, `not ${extra[0]}`);
    }
  });
});
