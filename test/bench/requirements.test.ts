/**
 * requirements.test.ts: `switchyard bench` without its optional packages. The check itself
 * (with resolvers that cannot find a package), the command refusing before it measures
 * anything, and the real bin under a resolve hook that hides the packages
 * (test/fixtures/hide-packages.ts), so the default resolver is exercised without
 * uninstalling anything. Also: in this repository they are installed (devDependencies).
 */
import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { benchCommand } from '../../benchmarks/cli/bench.js';
import {
  benchPackages,
  CHART_PACKAGE,
  missingBenchPackages,
  missingPackagesMessage,
  PROGRESS_PACKAGE,
  TABLE_PACKAGE,
  type Resolver,
} from '../../benchmarks/requirements.js';
import { CliError } from '../../src/cli/cli-error.js';
import { BIN, type Run } from '../cli/run-bin.js';

const HOOK = fileURLToPath(new URL('../fixtures/hide-packages.js', import.meta.url));

/** A resolver that cannot find `absent` and finds everything else. */
function without(...absent: string[]): Resolver {
  return (name) => {
    if (absent.includes(name)) throw Object.assign(new Error(`Cannot find package '${name}'`), { code: 'ERR_MODULE_NOT_FOUND' });
    return `file:///node_modules/${name}/index.js`;
  };
}

/** The real bin with `hidden` made unresolvable. */
function runHidden(hidden: string[], args: string[]): Promise<Run> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      ['--import', HOOK, BIN, ...args],
      { timeout: 30_000, env: { ...process.env, SWITCHYARD_HIDE_PACKAGES: hidden.join(',') } },
      (err, stdout, stderr) => {
        if (err && typeof err.code !== 'number') return reject(err);
        resolve({ code: err ? (err.code as number) : 0, stdout, stderr });
      },
    );
  });
}

describe('bench: optional packages', function () {
  it('asks for chart.js only when --html is given', function () {
    expect(benchPackages({}).map((p) => p.name)).to.deep.equal(['cli-table3', 'cli-progress']);
    expect(benchPackages({ html: 'r.html' }).map((p) => p.name)).to.deep.equal(['cli-table3', 'cli-progress', 'chart.js']);
  });

  it('finds every one of them here, where they are devDependencies', function () {
    expect(missingBenchPackages([TABLE_PACKAGE, PROGRESS_PACKAGE, CHART_PACKAGE])).to.deep.equal([]);
  });

  it('lists exactly the packages the resolver cannot find', function () {
    const all = [TABLE_PACKAGE, PROGRESS_PACKAGE, CHART_PACKAGE];
    expect(missingBenchPackages(all, without('cli-progress'))).to.deep.equal([PROGRESS_PACKAGE]);
    expect(missingBenchPackages(all, without('cli-table3', 'chart.js'))).to.deep.equal([TABLE_PACKAGE, CHART_PACKAGE]);
  });

  it('names what is missing, what it is for, and the command that installs it', function () {
    const text = missingPackagesMessage([TABLE_PACKAGE, CHART_PACKAGE]);
    expect(text).to.include('cli-table3 (the results table)');
    expect(text).to.include('chart.js (the charts of --html)');
    expect(text).to.include('npm install cli-table3 chart.js');
  });

  it('refuses to run before it measures anything when a package is missing', async function () {
    const started = performance.now();
    let err: unknown;
    try {
      await benchCommand(['--quick', '--transports', 'unix', '--baselines', 'none', '--sizes', '64'], { resolve: without('cli-progress') });
    } catch (e) {
      err = e;
    }
    if (!(err instanceof CliError)) throw new Error(`expected a CliError, got ${String(err)}`);
    expect(err.exitCode).to.equal(1);
    expect(err.message).to.include('npm install cli-progress');
    // A measured cell takes a peer process and over a second in --quick; a refusal takes none.
    expect(performance.now() - started).to.be.below(1000);
  });

  it('the bin, with cli-table3 and chart.js hidden: exit 1 and the message, nothing measured', async function () {
    const run = await runHidden(['cli-table3', 'chart.js'], ['bench', '--quick', '--transports', 'unix', '--baselines', 'none', '--sizes', '64', '--html', '/tmp/never-written.html']);
    expect(run.code, run.stderr).to.equal(1);
    expect(run.stderr).to.include('switchyard bench: needs cli-table3 (the results table), chart.js (the charts of --html)');
    expect(run.stderr).to.include('npm install cli-table3 chart.js');
    expect(run.stdout).to.equal('');
  });

  it('the bin, with every bench package hidden: --help still prints the options', async function () {
    const run = await runHidden(['cli-table3', 'cli-progress', 'chart.js'], ['bench', '--help']);
    expect(run.code, run.stderr).to.equal(0);
    expect(run.stdout).to.match(/^usage: switchyard bench/);
  });

  it('the hook really hides a package (else the two tests above prove nothing)', async function () {
    const run = await new Promise<Run>((resolve) => {
      execFile(
        process.execPath,
        ['--import', HOOK, '--input-type=module', '-e', "import('cli-table3').then(() => console.log('found'), (e) => console.log(e.code))"],
        { env: { ...process.env, SWITCHYARD_HIDE_PACKAGES: 'cli-table3' } },
        (err, stdout, stderr) => resolve({ code: err ? 1 : 0, stdout, stderr }),
      );
    });
    expect(run.stdout.trim(), run.stderr).to.equal('ERR_MODULE_NOT_FOUND');
  });
});
