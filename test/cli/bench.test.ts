/**
 * bench.test.ts: `switchyard bench` runs end to end as a newcomer would run it (the real bin,
 * a real child per cell) and writes the JSON it documents. Checks shape and sanity, never speed.
 */
import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { makeTempDir } from '../setup/tmp.js';

const BIN = fileURLToPath(new URL('../../../bin/switchyard.js', import.meta.url));

describe('cli: switchyard bench', function () {
  it('measures the chosen transports and sizes and writes the documented JSON', async function () {
    const dir = makeTempDir();
    const out = join(dir, 'out.json');
    try {
      const { stdout, stderr } = await promisify(execFile)(
        process.execPath,
        [BIN, 'bench', '--quick', '--transports', 'socketpair,unix', '--sizes', '64,4096', '--json', out],
        { timeout: 60_000 },
      );
      expect(stderr).to.include('[4/4]');
      expect(stdout).to.include('socketpair').and.include('unix');
      const report = JSON.parse(readFileSync(out, 'utf8')) as {
        machine: { cores: number; node: string };
        results: Array<{ name: string; kind: string; level: string; size: number; rtt: Record<string, number>; throughput: Record<string, number> }>;
      };
      expect(report.machine.node).to.equal(process.version);
      expect(report.results.map((r) => `${r.name}/${r.size}`)).to.deep.equal(['socketpair/64', 'socketpair/4096', 'unix/64', 'unix/4096']);
      for (const r of report.results) {
        expect(r.kind).to.equal('transport');
        expect(r.level).to.equal('link');
        expect(r.rtt.p50Us).to.be.above(0);
        expect(r.rtt.p99Us).to.be.at.least(r.rtt.p50Us);
        expect(r.rtt.p999Us).to.be.at.least(r.rtt.p99Us);
        expect(r.throughput.msgsPerSec).to.be.above(0);
        expect(r.throughput.mbPerSec).to.be.closeTo((r.throughput.msgsPerSec * r.size) / 1e6, 1e-6 * r.throughput.mbPerSec + 1e-9);
      }
    } finally {
      rmSync(out, { force: true });
    }
  });

  it('rejects an unknown transport with exit code 2 and a clear message', async function () {
    let error: (Error & { code?: number; stderr?: string }) | undefined;
    try {
      await promisify(execFile)(process.execPath, [BIN, 'bench', '--transports', 'carrier-pigeon']);
    } catch (err) {
      error = err as Error & { code?: number; stderr?: string };
    }
    expect(error?.code).to.equal(2);
    expect(error?.stderr).to.include('unknown transport(s) carrier-pigeon');
  });
});
