/**
 * spawn-result.ts: what `switchyard bench --level spawn` measured, as printed and as written
 * to --json (documented in the README): one row per transport system.spawn() can link a child
 * over, and one row for the child_process.fork baseline.
 *
 * Invariant: every figure is a time that was measured (nearest rank, no interpolation), in
 * milliseconds; a measurement that does not apply (a fork child has no supervisor to restart
 * it) is null, never 0.
 */
import type { Machine } from './machine.js';

/** p50 and p90 of `samples` timed runs, ms. */
export interface SpawnTiming {
  p50Ms: number;
  p90Ms: number;
  minMs: number;
  maxMs: number;
  samples: number;
}

export interface SpawnRow {
  /** The transport's scheme, or `child_process.fork` for the baseline. */
  name: string;
  kind: 'transport' | 'baseline';
  /** Start of the process to its first answer: system.spawn() then one ask, or fork() then one IPC message back. */
  firstAnswer: SpawnTiming;
  /** SIGKILL of the running child to the next ask its restarted incarnation answers (backoff 0); null for the baseline. */
  restart: SpawnTiming | null;
}

/** A row that could not be measured, and why. */
export interface SpawnFailure {
  name: string;
  error: string;
}

/** The --json of a spawn-level run. */
export interface SpawnReport {
  machine: Machine;
  level: 'spawn';
  spawn: SpawnRow[];
  failures: SpawnFailure[];
}
