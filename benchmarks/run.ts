/**
 * run.ts: runs the matrix: every subject at every size, one peer per subject (opened once,
 * reused across sizes and passes; reopened after a failed cell so one failure cannot taint the next).
 * Each cell: warm-up round trips, measured round trips, then throughput (up to 1 KiB, the
 * median of three trials, the later two in passes over every subject at the end, with the
 * peers kept open until then). A failed or skipped cell is recorded with its reason and the
 * run goes on; nothing is retried silently.
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
 * Sizes up to this get THROUGHPUT_TRIALS throughput trials of the full duration each, and the
 * median trial (by msg/s) is the cell's throughput. The trials are interleaved across the
 * subjects: the first in the cell's turn, the others in later passes over every subject, so
 * each subject's figure comes from windows spread over the whole run. At 64 B the raw Unix
 * baseline moved 4.6x between runs, and in one run with one trial per cell a minute of other
 * work on this 2-core machine halved every switchyard row while the baseline, measured last,
 * ran quiet. Every subject, baselines and switchyard alike, is measured the same way.
 */
const TRIAL_SIZES_UP_TO = 1024;
const THROUGHPUT_TRIALS = 3;

function throughputOptions(t: Tuning): { durationMs: number; retryMs: number; stallMs: number } {
  return { durationMs: t.throughputMs, retryMs: t.lossTimeoutMs, stallMs: t.stallMs };
}

async function measureCell(channel: Channel, subject: Subject, level: BenchLevel, size: number, t: Tuning): Promise<BenchResult> {
  const rttOptions = { lossTimeoutMs: t.lossTimeoutMs, stallMs: t.stallMs };
  await roundTrips(channel, size, { ...rttOptions, ...t.warmup });
  const rtt = await roundTrips(channel, size, { ...rttOptions, ...t.rtt });
  const tp = await throughput(channel, size, throughputOptions(t));
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

/** A cell whose first pass is done and whose later trials are still to run. */
interface OpenCell {
  label: CellLabel;
  subject: number;
  result: BenchResult;
  trials: ThroughputResult[];
}

/** The median trial (by msg/s), with every trial's rate. */
function withMedian(cell: OpenCell): BenchResult {
  const byRate = [...cell.trials].sort((a, b) => a.msgsPerSec - b.msgsPerSec);
  return { ...cell.result, throughput: { ...byRate[(byRate.length - 1) >> 1]!, trials: cell.trials.map((r) => r.msgsPerSec) } };
}

export async function runMatrix(plan: Plan, progress: ProgressSink): Promise<{ results: BenchResult[]; failures: BenchFailure[] }> {
  const done: (BenchResult | undefined)[] = [];
  const failures: BenchFailure[] = [];
  const total = plan.subjects.length * plan.sizes.length;
  const ctx = { onPeerProcess: (pid: number) => plan.pinning.pinPeer(pid) };
  // one channel per subject, open until the last pass (reopened after a failed cell)
  const channels: (Channel | undefined)[] = plan.subjects.map(() => undefined);
  const pending: OpenCell[] = [];
  const closeChannel = async (i: number): Promise<void> => {
    await channels[i]?.close().catch(() => {});
    channels[i] = undefined;
  };
  let index = 0;
  progress.start(total);
  try {
    for (const [i, subject] of plan.subjects.entries()) {
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
        let channel: Channel;
        try {
          channel = channels[i] ??= await subject.open(ctx);
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
          if (size <= TRIAL_SIZES_UP_TO) pending.push({ label, subject: i, result: r, trials: [r.throughput] });
          else {
            done[label.index] = r;
            progress.end(label, r);
          }
        } catch (err) {
          fail(message(err));
          await closeChannel(i);
        }
      }
      // a subject with no small cell left to finish needs its peer no more
      if (!pending.some((c) => c.subject === i)) await closeChannel(i);
    }
    // the later trials, a pass over every subject each
    for (let trial = 1; trial < THROUGHPUT_TRIALS; trial++) {
      for (const cell of [...pending]) {
        const subject = plan.subjects[cell.subject]!;
        try {
          const channel = (channels[cell.subject] ??= await subject.open(ctx));
          cell.trials.push(await throughput(channel, cell.label.size, throughputOptions(plan.tuning)));
        } catch (err) {
          pending.splice(pending.indexOf(cell), 1);
          const f: BenchFailure = { name: subject.name, kind: subject.kind, level: cell.result.level, size: cell.label.size, error: `throughput trial ${trial + 1}: ${message(err)}` };
          failures.push(f);
          progress.end(cell.label, f);
          await closeChannel(cell.subject);
        }
      }
    }
    for (const cell of pending) {
      const r = withMedian(cell);
      done[cell.label.index] = r;
      progress.end(cell.label, r);
    }
  } finally {
    for (let i = 0; i < channels.length; i++) await closeChannel(i);
  }
  progress.finish();
  return { results: done.filter((r): r is BenchResult => r !== undefined), failures };
}
