/**
 * spawn-table.ts: the table of a spawn-level run on stdout, in the style of the matrix's
 * table (cli-table3, units in the header), but its own: its rows are transports and their
 * columns are start and restart times in ms, not sizes and round trips.
 */
import Table from 'cli-table3';
import type { SpawnRow, SpawnTiming } from './spawn-result.js';

function ms(t: SpawnTiming | null, key: 'p50Ms' | 'p90Ms'): string {
  if (!t) return '-';
  const v = t[key];
  return Number.isFinite(v) ? v.toFixed(1) : '-';
}

export function renderSpawnTable(rows: readonly SpawnRow[]): string {
  const table = new Table({
    head: ['name', 'kind', 'runs', 'first answer p50 ms', 'p90 ms', 'restart p50 ms', 'p90 ms'],
    colAligns: ['left', 'left', 'right', 'right', 'right', 'right', 'right'],
    style: { head: [], border: [] },
    chars: { mid: '', 'left-mid': '', 'mid-mid': '', 'right-mid': '' },
  });
  for (const r of rows) {
    table.push([r.name, r.kind, String(r.firstAnswer.samples), ms(r.firstAnswer, 'p50Ms'), ms(r.firstAnswer, 'p90Ms'), ms(r.restart, 'p50Ms'), ms(r.restart, 'p90Ms')]);
  }
  return table.toString();
}
