/**
 * bench.ts: the `switchyard bench` command: parses its options, checks the packages the run
 * needs (requirements.ts), sets up pinning, runs the matrix of the chosen level with progress
 * on stderr, then prints the table on stdout and writes --json and --html. Exit codes: 0 every
 * cell measured (or skipped: a size the channel cannot carry), 1 some cell failed (listed with
 * its reason) or a package it needs is missing, 2 usage error.
 *
 * src/cli/bench.ts imports this module only when the command runs, so the library never loads
 * the harness. The table and the progress bar are imported here only after the check, so
 * --help and the missing-package message work without them. `--level spawn` is handed to
 * bench-spawn.ts after the same checks: it times child processes, not the matrix.
 */
import { accessSync, constants } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { constants as osConstants, cpus } from 'node:os';
import { availableBaselines, BASELINE_IDS } from '../baselines/registry.js';
import { primaryLevel, subjectsFor } from '../levels.js';
import { describeMachine, machineLine } from '../machine.js';
import { NO_PINNING, pinCpus, type Pinning } from '../pinning.js';
import { writeHtmlReport } from '../report/html.js';
import { writeJsonReport } from '../report/json.js';
import type { BenchReport } from '../result.js';
import { runMatrix, type ProgressSink } from '../run.js';
import { benchPackages, missingBenchPackages, missingPackagesMessage, type Resolver } from '../requirements.js';
import { removeLiveTempDirs } from '../tmp.js';
import { listTransports } from '../../src/index.js';
import { reachableTransports } from '../reachable-transports.js';
import { BENCH_USAGE, parseBenchArgs } from './bench-args.js';
import { CliError } from '../../src/cli/cli-error.js';
import { UsageError } from '../../src/cli/usage-error.js';

/**
 * On SIGINT/SIGTERM: restore the terminal, exit with 128 + the signal number. Exiting runs
 * the transports' 'exit' cleanup (socket files, FIFOs); our temp dirs go after it, once empty.
 * The peers see their links close and exit. Returns the function that removes the handlers.
 */
function interruptible(progress: ProgressSink): () => void {
  const onSignal = (signal: NodeJS.Signals): void => {
    progress.abort();
    process.stderr.write(`switchyard bench: interrupted by ${signal}\n`);
    process.on('exit', removeLiveTempDirs);
    process.exit(128 + (osConstants.signals[signal] ?? 0));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  return () => {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  };
}

/** Test seams: how packages are found (a resolver that finds nothing proves the message). */
export interface BenchSeams {
  readonly resolve?: Resolver;
}

/** Runs `switchyard bench` with `argv` (without the word `bench`); returns the exit code. */
export async function benchCommand(argv: readonly string[], seams: BenchSeams = {}): Promise<number> {
  const schemes = listTransports().map((t) => t.scheme);
  const options = parseBenchArgs(argv, { transports: schemes, baselines: BASELINE_IDS, cores: cpus().length });
  if (options.help) {
    process.stdout.write(BENCH_USAGE);
    return 0;
  }

  // Refuse an unwritable report path now, not after minutes of measuring.
  for (const [flag, file] of [['--json', options.json], ['--html', options.html]] as const) {
    if (!file) continue;
    const dir = dirname(resolve(file));
    try {
      accessSync(dir, constants.W_OK);
    } catch {
      throw new UsageError(`${flag} ${file}: cannot write in ${dir} (missing or not writable)`);
    }
  }

  // Before anything is measured: minutes of work must not end on a missing table package.
  const absentPackages = missingBenchPackages(benchPackages(options), seams.resolve);
  if (absentPackages.length) throw new CliError(missingPackagesMessage(absentPackages));
  if (options.level === 'spawn') return (await import('./bench-spawn.js')).spawnBench(options, schemes);
  const [{ renderTable }, { progressFor }] = await Promise.all([import('../table.js'), import('../progress.js')]);

  const { baselines, missing } = await availableBaselines();
  if (options.baselines) {
    const absent = options.baselines.filter((id) => !baselines.some((b) => b.id === id));
    if (absent.length) throw new UsageError(`baseline(s) ${absent.join(', ')} need their package installed (npm install ${absent.join(' ')})`);
  }
  const chosen = options.baselines ? baselines.filter((b) => options.baselines!.includes(b.id)) : baselines;
  let transports = options.transports;
  if (!transports) {
    const reachable = await reachableTransports(schemes);
    for (const note of reachable.notes) process.stderr.write(`switchyard bench: ${note}\n`);
    transports = reachable.schemes;
  }
  const subjects = subjectsFor(options.level, { transports, baselines: chosen });

  let pinning: Pinning = NO_PINNING;
  if (options.cpu) {
    const pinned = await pinCpus(options.cpu.bench, options.cpu.peers);
    if ('skipped' in pinned) {
      process.stderr.write(`switchyard bench: --cpu skipped: ${pinned.skipped}; running unpinned\n`);
      pinning = { ...NO_PINNING, description: `none (${pinned.skipped})` };
    } else pinning = pinned;
  }

  const machine = describeMachine({ pinning: pinning.description, mode: options.mode });
  process.stderr.write(`switchyard bench (${options.level} level, ${options.mode}) on ${machineLine(machine)}\n`);
  if (!options.baselines && missing.length) {
    process.stderr.write(`optional baselines not installed (they join when present): ${missing.join(', ')}\n`);
  }
  const progress = progressFor(process.stderr);
  const stopOnSignal = interruptible(progress);
  const { results, failures } = await runMatrix(
    { level: primaryLevel(options.level), subjects, sizes: options.sizes, tuning: options.tuning, pinning },
    progress,
  ).finally(stopOnSignal);
  const report: BenchReport = { machine, results, failures };
  const notes = new Map(subjects.filter((s) => s.note).map((s) => [s.name, s.note!]));
  process.stdout.write(`${renderTable(results, notes)}\n`);
  process.stdout.write(`${machineLine(machine)}\n`);
  if (results.some((r) => r.threads)) process.stdout.write('baseline* = threads of one process, not two processes\n');
  if (options.json) writeJsonReport(options.json, report);
  if (options.html) writeHtmlReport(options.html, report);
  const skipped = failures.filter((f) => f.skipped);
  const failed = failures.filter((f) => !f.skipped);
  for (const f of skipped) process.stderr.write(`switchyard bench: ${f.name} ${f.size ?? ''}: ${f.error}\n`);
  if (failed.length) {
    process.stderr.write(`switchyard bench: ${failed.length} cell(s) could not be measured:\n`);
    for (const f of failed) process.stderr.write(`  ${f.name} ${f.size ?? ''}: ${f.error}\n`);
    return 1;
  }
  return 0;
}
