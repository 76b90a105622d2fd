/**
 * format.ts: how figures read in the terminal (the demo, the bench's table and progress) and
 * in the bench's HTML report: sizes in binary units, latencies with one decimal, rates with
 * thousands separators.
 */
export function formatSize(bytes: number): string {
  for (const [unit, n] of [['MiB', 2 ** 20], ['KiB', 2 ** 10]] as const) {
    if (bytes >= n && bytes % n === 0) return `${bytes / n} ${unit}`;
  }
  return `${bytes} B`;
}

export function formatUs(us: number): string {
  if (!Number.isFinite(us)) return '-';
  return us >= 1000 ? Math.round(us).toLocaleString('en-US') : us.toFixed(1);
}

export function formatRate(n: number): string {
  return Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '-';
}

export function formatMb(n: number): string {
  return Number.isFinite(n) ? (n >= 100 ? Math.round(n).toLocaleString('en-US') : n.toFixed(1)) : '-';
}
