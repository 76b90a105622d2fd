/**
 * bench-run.test.ts: a real, tiny `switchyard bench --level all` (the bin, a real peer
 * process or thread per subject, small sizes, short phases) that must measure every
 * registered transport at the bus and the link level, and every available baseline once, and
 * write the documented JSON and HTML; then the HTML is rendered
 * in headless Chromium, which must report that every chart drew every point.
 * Checks shape and sanity, never speed.
 */
import { expect } from 'chai';
import { execFile, spawn } from 'node:child_process';
import { accessSync, constants, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { constants as osConstants, tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { availableBaselines } from '../../benchmarks/baselines/registry.js';
import { listTransports } from '../../src/index.js';
import { makeTempDir } from '../setup/tmp.js';
import { BIN, runBin, type Run } from './run-bin.js';

interface ReportShape {
  machine: Record<string, unknown>;
  results: Array<{
    name: string;
    kind: string;
    level: string;
    size: number;
    threads?: boolean;
    rtt: { p50Us: number; p99Us: number; p999Us: number; samples: number; lost: number };
    throughput: { msgsPerSec: number; mbPerSec: number; sent: number; received: number; seconds: number };
  }>;
  failures: unknown[];
}

const SIZES = [64, 4096];

/** The first of `names` found on PATH, or undefined. */
function findExecutable(...names: string[]): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    for (const name of names) {
      try {
        accessSync(join(dir, name), constants.X_OK);
        return join(dir, name);
      } catch {
        // not here
      }
    }
  }
  return undefined;
}

describe('cli: switchyard bench, a real tiny run', function () {
  const dir = makeTempDir();
  const json = join(dir, 'out.json');
  const html = join(dir, 'out.html');
  let run: Run;
  let report: ReportShape;

  before(async function () {
    this.timeout(50_000);
    run = await runBin(
      ['bench', '--level', 'all', '--sizes', SIZES.join(','), '--warmup', '20', '--round-trips', '200', '--duration-ms', '40', '--json', json, '--html', html],
      45_000,
    );
    if (run.code !== 0) throw new Error(`bench exited ${run.code}:\n${run.stderr}`);
    report = JSON.parse(readFileSync(json, 'utf8')) as ReportShape;
  });

  after(function () {
    rmSync(json, { force: true });
    rmSync(html, { force: true });
  });

  it('measures every registered transport at both levels and every available baseline once, at every size', async function () {
    const { baselines } = await availableBaselines();
    const expected = [
      ...listTransports().flatMap((t) => [
        { name: t.scheme, kind: 'transport', level: 'bus' },
        // nats is also measured through the broker (its default row, same host, is upgraded)
        ...(t.scheme === 'nats' ? [{ name: 'nats (upgrade=0)', kind: 'transport', level: 'bus' }] : []),
        { name: t.scheme, kind: 'transport', level: 'link' },
        // shm is also measured in spin mode, as its own row
        ...(t.scheme === 'shm' ? [{ name: 'shm (spin 50us)', kind: 'transport', level: 'link' }] : []),
      ]),
      // Baselines are the same at every level: run once, tagged with the run's first level.
      ...baselines.map((b) => ({ name: b.subject.name, kind: 'baseline', level: 'bus' })),
    ].flatMap((s) => SIZES.map((size) => `${s.kind}:${s.name}:${s.level}/${size}`));
    expect(report.results.map((r) => `${r.kind}:${r.name}:${r.level}/${r.size}`)).to.deep.equal(expected);
    expect(report.failures).to.deep.equal([]);
    for (const name of ['child_process (json)', 'child_process (advanced)', 'raw unix socket', 'worker_threads']) {
      expect(report.results.some((r) => r.name === name), name).to.equal(true);
    }
    expect(report.results.filter((r) => r.threads).map((r) => r.name)).to.deep.equal(['worker_threads', 'worker_threads']);
  });

  it('writes the documented JSON: machine, then sane figures per cell', function () {
    expect(report.machine).to.include({ node: process.version, platform: process.platform, mode: 'custom', pinning: 'none' });
    expect(report.machine.cores).to.be.a('number').above(0);
    expect(report.machine.cpu).to.be.a('string').that.is.not.empty;
    expect(report.machine.kernel).to.be.a('string').that.is.not.empty;
    for (const r of report.results) {
      const where = `${r.name}/${r.level}/${r.size}`;
      expect(r.level, where).to.be.oneOf(['bus', 'link']);
      expect(r.rtt.samples, where).to.equal(200);
      expect(r.rtt.p50Us, where).to.be.above(0);
      expect(r.rtt.p99Us, where).to.be.at.least(r.rtt.p50Us);
      expect(r.rtt.p999Us, where).to.be.at.least(r.rtt.p99Us);
      expect(r.throughput.received, where).to.be.above(0).and.at.most(r.throughput.sent);
      expect(r.throughput.seconds, where).to.be.at.least(0.04);
      expect(r.throughput.msgsPerSec, where).to.be.closeTo(r.throughput.received / r.throughput.seconds, 1e-6 * r.throughput.msgsPerSec);
      expect(r.throughput.mbPerSec, where).to.be.closeTo((r.throughput.msgsPerSec * r.size) / 1e6, 1e-9 * r.throughput.mbPerSec + 1e-9);
    }
  });

  it('prints progress lines off a terminal, the machine, and the table on stdout', function () {
    const cells = report.results.length;
    expect(run.stderr).to.match(/^switchyard bench \(all level, custom\) on .+ cores, Node v/m);
    expect(run.stderr).to.include(`[${cells}/${cells}] `);
    expect(run.stdout).to.match(/│ name +│ kind +│ level │ +size │ +p50 µs │/);
    expect(run.stdout).to.match(/│ unix +│ transport │ bus +│/).and.match(/│ unix +│ transport │ link +│/).and.match(/│ raw unix socket +│ baseline +│ any +│/);
    expect(run.stderr).to.include('unix (bus) 64 B: p50').and.include('unix (link) 64 B: p50');
    for (const r of report.results) expect(run.stdout).to.include(r.name);
    expect(run.stdout).to.include(`Node ${process.version}`);
  });

  it('writes an HTML report whose charts draw in headless Chromium', async function () {
    const chromium = findExecutable('chromium', 'chromium-browser');
    if (!chromium) {
      if (process.env.CI) throw new Error('chromium is not installed, and CI must run this test (apt-get install chromium)');
      console.warn('    (skipped: chromium is not installed; apt-get install chromium to run it)');
      this.skip();
    }
    this.timeout(40_000);
    const profile = mkdtempSync(join(tmpdir(), 'switchyard-chromium-'));
    try {
      const dom = await new Promise<string>((resolve, reject) => {
        execFile(
          chromium!,
          [
            '--headless',
            '--no-sandbox',
            '--disable-gpu',
            '--disable-background-networking',
            '--disable-component-update',
            '--disable-sync',
            '--no-first-run',
            `--user-data-dir=${profile}`,
            '--virtual-time-budget=10000',
            '--dump-dom',
            `file://${html}`,
          ],
          { timeout: 35_000, maxBuffer: 32 * 1024 * 1024 },
          (err, stdout, stderr) => (err ? reject(new Error(`chromium: ${err.message}\n${stderr}`)) : resolve(stdout)),
        );
      });
      const marker = /<pre id="render-check" data-status="([a-z]+)">([^<]*)<\/pre>/.exec(dom);
      expect(marker, 'the page wrote its render check').to.not.equal(null);
      const verdict = JSON.parse(marker![2]!.replace(/&quot;/g, '"')) as { status: string; charts: number; points: number; hits: number };
      expect(verdict, JSON.stringify(verdict)).to.include({ status: 'ok', charts: 4, points: report.results.length * 4, hits: report.results.length * 4 });
    } finally {
      rmSync(profile, { recursive: true, force: true });
    }
  });
});

describe('cli: switchyard bench --cpu', function () {
  it('pins with taskset where it is installed, and says so in the JSON', async function () {
    const dir = makeTempDir();
    const json = join(dir, 'cpu.json');
    try {
      const r = await runBin(['bench', '--transports', 'socketpair', '--baselines', 'none', '--sizes', '64', '--warmup', '5', '--round-trips', '50', '--duration-ms', '20', '--cpu', '0,0', '--json', json]);
      expect(r.code, r.stderr).to.equal(0);
      const { machine } = JSON.parse(readFileSync(json, 'utf8')) as { machine: { pinning: string } };
      if (findExecutable('taskset')) expect(machine.pinning).to.equal('bench on CPU 0, peers on CPU 0 (taskset)');
      else {
        expect(machine.pinning).to.match(/^none \(/);
        expect(r.stderr).to.include('--cpu skipped');
      }
    } finally {
      rmSync(json, { force: true });
    }
  });
});

describe('cli: switchyard bench, interrupted', function () {
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    it(`${signal} mid-run exits 128+n and leaves no temp dir or socket behind`, async function () {
      this.timeout(20_000);
      const dir = makeTempDir();
      // A private TMPDIR: whatever the bench leaves is in there, and only there.
      const child = spawn(
        process.execPath,
        [BIN, 'bench', '--transports', 'unix', '--baselines', 'raw-unix', '--sizes', '64', '--round-trips', '10000000', '--rtt-ms', '60000'],
        { env: { ...process.env, TMPDIR: dir }, stdio: ['ignore', 'ignore', 'pipe'] },
      );
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
      // The round trips of the first cell run for a minute: wait until its socket exists.
      const deadline = Date.now() + 10_000;
      while (!readdirSync(dir).some((d) => readdirSync(join(dir, d)).includes('bench.sock'))) {
        if (Date.now() > deadline) throw new Error(`the bench never listened:\n${stderr}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      child.kill(signal);
      expect(await exited).to.equal(128 + osConstants.signals[signal]);
      expect(stderr).to.include(`interrupted by ${signal}`);
      expect(readdirSync(dir)).to.deep.equal([]);
    });
  }
});
