/**
 * run.ts: runs the matrix: every subject at every size, one peer per subject (opened once,
 * reused across sizes; reopened after a failed cell so one failure cannot taint the next).
 * Each cell: warm-up round trips, measured round trips, then throughput (up to 1 KiB, the
 * median of three trials). A failed or skipped cell is recorded with its reason and the run
 * goes on; nothing is retried silently.
 */
import type { Channel } from './channel.js';
import { roundTrips, throughput, type ThroughputResult } from './measure.js';
import type { Pinning } from './pinning.js';
import type { BenchFailure, BenchLevel, BenchResult } from './result.js';
import type { Subject } from './subject.js';

export interface Tuning {
  warmup: { count: number; maxMs: number };
  rtt: { count: number; maxMs: number };
  throughputMs: number;
  /** An unanswered echo on a best-effort channel counts as lost after this long. */
  lossTimeoutMs: number;
  /** A reliable channel silent for this long is a failed cell. */
  stallMs: number;
}

export interface CellLabel {
  index: number;
  total: number;
  name: string;
  size: number;
}

export interface ProgressSink {
  start(total: number): void;
  /** A cell is about to run. */
  begin(label: CellLabel): void;
  /** A cell finished (measured, skipped or failed). */
  end(label: CellLabel, outcome: BenchResult | BenchFailure): void;
  finish(): void;
  /** The run was interrupted: restore the terminal. */
  abort(): void;
}

export interface Plan {
  /** The level of subjects that have none of their own (the baselines). */
  level: BenchLevel;
  subjects: Subject[];
  sizes: number[];
  tuning: Tuning;
  pinning: Pinning;
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * Sizes up to this are measured in THROUGHPUT_TRIALS trials of the full duration each, and
 * the median trial (by msg/s) is the cell's throughput. At 64 B a second of another process's
 * work on a 2-core machine moved one cell 4x between runs (the raw Unix baseline: 1.1 to 5.2 M
 * msg/s) while its neighbours moved less: one disturbed trial of three no longer decides the
 * figure. Every subject, baselines and switchyard alike, is measured the same way.
 */
const TRIAL_SIZES_UP_TO = 1024;
const THROUGHPUT_TRIALS = 3;

async function measureThroughput(channel: Channel, size: number, t: Tuning): Promise<ThroughputResult & { trials?: number[] }> {
  const options = { durationMs: t.throughputMs, retryMs: t.lossTimeoutMs, stallMs: t.stallMs };
  if (size > TRIAL_SIZES_UP_TO) return throughput(channel, size, options);
  const trials: ThroughputResult[] = [];
  for (let i = 0; i < THROUGHPUT_TRIALS; i++) trials.push(await throughput(channel, size, options));
  const byRate = [...trials].sort((a, b) => a.msgsPerSec - b.msgsPerSec);
  return { ...byRate[(byRate.length - 1) >> 1]!, trials: trials.map((r) => r.msgsPerSec) };
}

async function measureCell(channel: Channel, subject: Subject, level: BenchLevel, size: number, t: Tuning): Promise<BenchResult> {
  const rttOptions = { lossTimeoutMs: t.lossTimeoutMs, stallMs: t.stallMs };
  await roundTrips(channel, size, { ...rttOptions, ...t.warmup });
  const rtt = await roundTrips(channel, size, { ...rttOptions, ...t.rtt });
  const tp = await measureThroughput(channel, size, t);
  return {
    name: subject.name,
    kind: subject.kind,
    level,
    size,
    ...(subject.threads ? { threads: true } : {}),
    rtt: { p50Us: rtt.p50Us, p99Us: rtt.p99Us, p999Us: rtt.p999Us, samples: rtt.samples, lost: rtt.lost },
    throughput: tp,
  };
}

export async function runMatrix(plan: Plan, progress: ProgressSink): Promise<{ results: BenchResult[]; failures: BenchFailure[] }> {
  const results: BenchResult[] = [];
  const failures: BenchFailure[] = [];
  const total = plan.subjects.length * plan.sizes.length;
  const ctx = { onPeerProcess: (pid: number) => plan.pinning.pinPeer(pid) };
  let index = 0;
  progress.start(total);
  for (const subject of plan.subjects) {
    let channel: Channel | undefined;
    const level = subject.level ?? plan.level;
    const name = subject.level ? `${subject.name} (${subject.level})` : subject.name;
    for (const size of plan.sizes) {
      const label: CellLabel = { index: ++index, total, name, size };
      progress.begin(label);
      const fail = (error: string, skipped = false): void => {
        const f: BenchFailure = { name: subject.name, kind: subject.kind, level, size, error, ...(skipped ? { skipped: true } : {}) };
        failures.push(f);
        progress.end(label, f);
      };
      try {
        channel ??= await subject.open(ctx);
      } catch (err) {
        fail(`could not start: ${message(err)}`);
        continue;
      }
      if (size > channel.maxMessage) {
        fail(`skipped: ${size} B is above this channel's largest message (${channel.maxMessage} B)`, true);
        continue;
      }
      try {
        const r = await measureCell(channel, subject, level, size, plan.tuning);
        results.push(r);
        progress.end(label, r);
      } catch (err) {
        fail(message(err));
        await channel.close().catch(() => {});
        channel = undefined;
      }
    }
    await channel?.close();
  }
  progress.finish();
  return { results, failures };
}
