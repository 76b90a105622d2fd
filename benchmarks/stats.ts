/**
 * stats.ts: percentiles of round-trip samples. Nearest-rank on the sorted samples, so every
 * figure reported is a time that was actually measured (no interpolation).
 */
export interface Percentiles {
  p50Us: number;
  p99Us: number;
  p999Us: number;
}

/** Nearest-rank percentile (p in 0..1) of ascending `sorted`; NaN when empty. */
export function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil(p * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

/** p50, p99 and p99.9 of `samplesUs` (sorted in place). */
export function summarize(samplesUs: Float64Array): Percentiles {
  samplesUs.sort();
  return { p50Us: percentile(samplesUs, 0.5), p99Us: percentile(samplesUs, 0.99), p999Us: percentile(samplesUs, 0.999) };
}
