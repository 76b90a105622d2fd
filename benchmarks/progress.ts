/**
 * progress.ts: progress on stderr while the matrix runs. On a terminal, a cli-progress bar
 * (maintained, one small dependency: redrawing a bar well across terminal widths and
 * non-ANSI cases is more than a few lines); otherwise one plain line per cell, so logs and CI
 * output stay readable. Failures are always printed as lines (after the bar on a terminal).
 */
import cliProgress from 'cli-progress';
import { formatMb, formatRate, formatSize, formatUs } from '../src/cli/format.js';
import type { BenchFailure, BenchResult } from './result.js';
import type { CellLabel, ProgressSink } from './run.js';

function describe(outcome: BenchResult | BenchFailure): string {
  if ('error' in outcome) return outcome.skipped ? outcome.error : `FAILED: ${outcome.error}`;
  const { rtt, throughput: t } = outcome;
  const loss = t.received < t.sent ? `, ${((100 * (t.sent - t.received)) / t.sent).toFixed(1)}% lost` : '';
  return `p50 ${formatUs(rtt.p50Us)} us, p99 ${formatUs(rtt.p99Us)} us, ${formatRate(t.msgsPerSec)} msg/s, ${formatMb(t.mbPerSec)} MB/s${loss}`;
}

function lineOf(label: CellLabel, outcome: BenchResult | BenchFailure): string {
  return `[${label.index}/${label.total}] ${label.name} ${formatSize(label.size)}: ${describe(outcome)}\n`;
}

/** Plain lines: for pipes, files and CI logs. */
export function lineProgress(out: NodeJS.WritableStream): ProgressSink {
  return {
    start() {},
    begin() {},
    end(label, outcome) {
      out.write(lineOf(label, outcome));
    },
    finish() {},
    abort() {},
  };
}

/** A bar that names the running cell; failures are printed once the bar is done. */
export function barProgress(out: NodeJS.WriteStream): ProgressSink {
  const bar = new cliProgress.SingleBar(
    { stream: out, format: ' {bar} {value}/{total} cells | {cell}', hideCursor: true, clearOnComplete: false, etaBuffer: 8 },
    cliProgress.Presets.shades_classic,
  );
  const failed: string[] = [];
  return {
    start(total) {
      bar.start(total, 0, { cell: 'starting' });
    },
    begin(label) {
      bar.update(label.index - 1, { cell: `${label.name} ${formatSize(label.size)}` });
    },
    end(label, outcome) {
      if ('error' in outcome) failed.push(lineOf(label, outcome));
      bar.update(label.index, { cell: `${label.name} ${formatSize(label.size)}` });
    },
    finish() {
      bar.update({ cell: 'done' });
      bar.stop();
      for (const f of failed) out.write(f);
    },
    abort() {
      bar.stop(); // shows the cursor again
      out.write('\n');
    },
  };
}

export function progressFor(out: NodeJS.WriteStream): ProgressSink {
  return out.isTTY ? barProgress(out) : lineProgress(out);
}
