/**
 * table.ts: the results table on stdout. cli-table3 (maintained, widely used) rather than
 * console.table: right-aligned numbers, units in the header, no index column or quoted strings.
 */
import Table from 'cli-table3';
import { formatMb, formatRate, formatSize, formatUs } from '../src/cli/format.js';
import type { BenchResult } from './result.js';

function remark(r: BenchResult, notes: ReadonlyMap<string, string>): string {
  const parts: string[] = [];
  const note = notes.get(r.name);
  if (note) parts.push(note);
  const t = r.throughput;
  if (t.received < t.sent) parts.push(`${((100 * (t.sent - t.received)) / t.sent).toFixed(1)}% lost one-way`);
  if (r.rtt.lost > 0) parts.push(`${r.rtt.lost} echoes lost`);
  return parts.join('; ');
}

/** Where the level column says a baseline's level: they are the same at every level. */
const ANY_LEVEL = 'any';

/** The table as text; `notes` maps a subject's name to its remark. */
export function renderTable(results: readonly BenchResult[], notes: ReadonlyMap<string, string>): string {
  const table = new Table({
    head: ['name', 'kind', 'level', 'size', 'p50 µs', 'p99 µs', 'p99.9 µs', 'round trips', 'msg/s', 'MB/s', 'note'],
    colAligns: ['left', 'left', 'left', 'right', 'right', 'right', 'right', 'right', 'right', 'right', 'left'],
    style: { head: [], border: [] },
    // No rule between rows: 50-odd rows read better dense.
    chars: { mid: '', 'left-mid': '', 'mid-mid': '', 'right-mid': '' },
  });
  for (const r of results) {
    table.push([
      r.name,
      r.threads ? 'baseline*' : r.kind,
      r.kind === 'baseline' ? ANY_LEVEL : r.level,
      formatSize(r.size),
      formatUs(r.rtt.p50Us),
      formatUs(r.rtt.p99Us),
      // below 1000 samples a p99.9 is just the maximum: the table says so (the JSON keeps it)
      r.rtt.samples >= 1000 ? formatUs(r.rtt.p999Us) : `${formatUs(r.rtt.p999Us)} (max)`,
      formatRate(r.rtt.samples),
      formatRate(r.throughput.msgsPerSec),
      formatMb(r.throughput.mbPerSec),
      remark(r, notes),
    ]);
  }
  return table.toString();
}
