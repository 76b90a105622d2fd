/**
 * result.ts: what one cell of the matrix produced, as written to --json (documented in the
 * README; the documented fields are stable, the others are extra detail), and the run as a
 * whole.
 */
import type { Machine } from './machine.js';
import type { SubjectKind } from './subject.js';

export type BenchLevel = 'link' | 'bus';

export interface BenchResult {
  name: string;
  kind: SubjectKind;
  level: BenchLevel;
  /** Message size in bytes. */
  size: number;
  /** The peer is a thread of the bench process (worker_threads), not another process. */
  threads?: boolean;
  rtt: {
    p50Us: number;
    p99Us: number;
    p999Us: number;
    /** Round trips measured (after the warm-up). */
    samples: number;
    /** Echoes never answered (only on best-effort channels). */
    lost: number;
  };
  throughput: {
    msgsPerSec: number;
    mbPerSec: number;
    /** Messages sent, and counted by the receiver; they differ only on best-effort channels. */
    sent: number;
    received: number;
    /** From the first send to the receiver's count arriving back. */
    seconds: number;
    /** Small sizes: msg/s of each trial, in order; the fields above are the median trial's. */
    trials?: number[];
  };
}

/** A cell that could not be measured, and why. */
export interface BenchFailure {
  name: string;
  kind: SubjectKind;
  level: BenchLevel;
  size: number | null;
  error: string;
  /** True when the cell was not attempted (the size is above what the channel carries): not an error. */
  skipped?: true;
}

export interface BenchReport {
  machine: Machine;
  results: BenchResult[];
  /** Cells skipped (size above the channel's limit) or failed; empty on a clean run. */
  failures: BenchFailure[];
}
