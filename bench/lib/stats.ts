import { round } from './log';

/** Nearest-rank percentile of an already sorted array (p in 0..100). */
export function percentileSorted(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))];
}

export function percentile(values: ArrayLike<number>, p: number): number {
  return percentileSorted(Float64Array.from(values).sort(), p);
}

export interface LatencySummary {
  count: number;
  p50_ms: number;
  p90_ms: number;
  p99_ms: number;
  max_ms: number;
  mean_ms: number;
}

export function summarize(latenciesMs: ArrayLike<number>): LatencySummary {
  const sorted = Float64Array.from(latenciesMs).sort();
  let sum = 0;
  for (const v of sorted) sum += v;
  return {
    count: sorted.length,
    p50_ms: round(percentileSorted(sorted, 50)),
    p90_ms: round(percentileSorted(sorted, 90)),
    p99_ms: round(percentileSorted(sorted, 99)),
    max_ms: round(sorted.length ? sorted[sorted.length - 1] : NaN),
    mean_ms: round(sorted.length ? sum / sorted.length : NaN),
  };
}

/** measured / baseline, rounded; NaN-safe. */
export function ratio(measured: number, baseline: number, digits = 3): number {
  return baseline > 0 ? round(measured / baseline, digits) : NaN;
}
