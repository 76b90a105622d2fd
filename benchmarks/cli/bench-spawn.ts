/**
 * bench-spawn.ts: `switchyard bench --level spawn`: how long a supervised child process takes
 * to start and answer, and to come back after SIGKILL, per transport system.spawn() can link
 * a child over, beside child_process.fork (spawn-measure.ts). Prints its own table
 * (spawn-table.ts) and, with --json, the SpawnReport of spawn-result.ts: the matrix's table
 * and report are per message size and do not fit these rows.
 *
 * Invariants: one ActorSystem for the run, stopped before the command returns (and on
 * SIGINT/SIGTERM before it exits 128 + n), so no child outlives the bench. Exit codes as the
 * matrix's: 0 every row measured, 1 some row failed (listed with its reason).
 */
import { writeFileSync } from 'node:fs';
import { constants as osConstants } from 'node:os';
import { ActorSystem, getTransport } from '../../src/index.js';
import { hasPrivateAddress } from '../../src/transports/core/private-address.js';
import { UsageError } from '../../src/cli/usage-error.js';
import { describeMachine, machineLine } from '../machine.js';
import { reachableTransports } from '../reachable-transports.js';
import { measureFork, measureTransport } from '../spawn-measure.js';
import type { SpawnFailure, SpawnReport, SpawnRow } from '../spawn-result.js';
import { renderSpawnTable } from '../spawn-table.js';
import type { BenchOptions } from './bench-args.js';

/** Children per timing: quick 10, full 30. */
export const SPAWN_RUNS = { quick: 10, full: 30 } as const;
/** How long stopping may take on a signal before we exit anyway (the children exit on their own when we go). */
const STOP_ON_SIGNAL_MS = 5000;

/** Whether system.spawn() can link a child over `scheme`: it needs pairs or private addresses. */
function spawnable(scheme: string): boolean {
  return getTransport(scheme).pair !== undefined || hasPrivateAddress(scheme);
}

/** Runs the spawn level; `schemes` are the registered transports. Returns the exit code. */
export async function spawnBench(options: BenchOptions, schemes: readonly string[]): Promise<number> {
  let transports = options.transports;
  if (transports) {
    const unsupported = transports.filter((t) => !spawnable(t));
    if (unsupported.length) throw new UsageError(`--level spawn: system.spawn cannot link a child over ${unsupported.join(', ')}`);
  } else {
    const reachable = await reachableTransports(schemes.filter(spawnable));
    for (const note of reachable.notes) process.stderr.write(`switchyard bench: ${note}\n`);
    transports = reachable.schemes;
  }
  const mode = options.mode === 'quick' ? 'quick' : 'full';
  const runs = SPAWN_RUNS[mode];
  const machine = describeMachine({ pinning: 'none', mode });
  process.stderr.write(`switchyard bench (spawn level, ${mode}) on ${machineLine(machine)}\n`);

  const system = await ActorSystem.start({ name: 'spawn-bench' });
  const onSignal = (signal: NodeJS.Signals): void => {
    process.stderr.write(`switchyard bench: interrupted by ${signal}\n`);
    const timer = setTimeout(() => process.exit(128 + (osConstants.signals[signal] ?? 0)), STOP_ON_SIGNAL_MS);
    void system.stop().finally(() => {
      clearTimeout(timer);
      process.exit(128 + (osConstants.signals[signal] ?? 0));
    });
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  const rows: SpawnRow[] = [];
  const failures: SpawnFailure[] = [];
  const progress = (line: string): void => void process.stderr.write(`  ${line}\n`);
  try {
    for (const t of transports) {
      try {
        rows.push(await measureTransport(system, t, runs, progress));
      } catch (err) {
        failures.push({ name: t, error: (err as Error).message });
      }
    }
    try {
      rows.push(await measureFork(runs, progress));
    } catch (err) {
      failures.push({ name: 'child_process.fork', error: (err as Error).message });
    }
  } finally {
    await system.stop();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }

  process.stdout.write(`${renderSpawnTable(rows)}\n`);
  process.stdout.write(`${machineLine(machine)}\n`);
  process.stdout.write('first answer: spawn() to its first ask answered; restart: SIGKILL to the next ask answered (backoff 0)\n');
  if (options.json) {
    const report: SpawnReport = { machine, level: 'spawn', spawn: rows, failures };
    writeFileSync(options.json, `${JSON.stringify(report, null, 2)}\n`);
  }
  if (failures.length) {
    process.stderr.write(`switchyard bench: ${failures.length} row(s) could not be measured:\n`);
    for (const f of failures) process.stderr.write(`  ${f.name}: ${f.error}\n`);
    return 1;
  }
  return 0;
}
