/**
 * Just enough of the Prometheus text format to diff histograms between two scrapes of GET /metrics:
 * the difference is what happened in between, so a measured window can be told apart from warm-up.
 */
import { round } from './log';

export type Labels = Record<string, string>;
export interface Sample {
  name: string;
  labels: Labels;
  value: number;
}

export function parseMetrics(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    const labels: Labels = {};
    if (m[2]) for (const l of m[2].matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]] = l[2];
    out.push({ name: m[1], labels, value: Number(m[3]) });
  }
  return out;
}

export interface HistogramSeries {
  labels: Labels;
  /** Cumulative bucket counts by upper bound (seconds), ascending; the last one is +Inf. */
  buckets: Array<{ le: number; count: number }>;
  sum: number;
  count: number;
}

const keyOf = (labels: Labels) => JSON.stringify(Object.entries(labels).sort(([a], [b]) => a.localeCompare(b)));

/** The series of histogram `name`, grouped by the labels in `groupBy` (other labels are summed). */
export function histogram(samples: Sample[], name: string, groupBy: string[]): Map<string, HistogramSeries> {
  const series = new Map<string, HistogramSeries>();
  const get = (labels: Labels) => {
    const picked: Labels = {};
    for (const k of groupBy) picked[k] = labels[k] ?? '';
    const key = keyOf(picked);
    let s = series.get(key);
    if (!s) series.set(key, (s = { labels: picked, buckets: [], sum: 0, count: 0 }));
    return s;
  };
  for (const s of samples) {
    if (s.name === `${name}_bucket`) {
      const h = get(s.labels);
      const le = s.labels.le === '+Inf' ? Number.POSITIVE_INFINITY : Number(s.labels.le);
      const b = h.buckets.find((x) => x.le === le);
      if (b) b.count += s.value;
      else h.buckets.push({ le, count: s.value });
    } else if (s.name === `${name}_sum`) get(s.labels).sum += s.value;
    else if (s.name === `${name}_count`) get(s.labels).count += s.value;
  }
  for (const h of series.values()) h.buckets.sort((a, b) => a.le - b.le);
  return series;
}

/** after - before, series by series. */
export function diffHistograms(before: Map<string, HistogramSeries>, after: Map<string, HistogramSeries>): Map<string, HistogramSeries> {
  const out = new Map<string, HistogramSeries>();
  for (const [key, a] of after) {
    const b = before.get(key);
    const buckets = a.buckets.map((x) => ({ le: x.le, count: x.count - (b?.buckets.find((y) => y.le === x.le)?.count ?? 0) }));
    const count = a.count - (b?.count ?? 0);
    if (count > 0) out.set(key, { labels: a.labels, buckets, sum: a.sum - (b?.sum ?? 0), count });
  }
  return out;
}

/** Quantile estimated by linear interpolation inside the bucket (as PromQL's histogram_quantile). */
export function histogramQuantile(h: HistogramSeries, q: number): number {
  if (h.count === 0) return NaN;
  const rank = q * h.count;
  let prevLe = 0;
  let prevCount = 0;
  for (const b of h.buckets) {
    if (b.count >= rank) {
      if (!Number.isFinite(b.le)) return prevLe; // above the highest finite bound: report that bound
      const inBucket = b.count - prevCount;
      return inBucket > 0 ? prevLe + ((b.le - prevLe) * (rank - prevCount)) / inBucket : b.le;
    }
    prevLe = b.le;
    prevCount = b.count;
  }
  return prevLe;
}

/** count, mean and estimated p50 / p99 in milliseconds (the estimates are only as fine as the buckets). */
export function describeSeconds(h: HistogramSeries): { count: number; mean_ms: number; p50_ms_est: number; p99_ms_est: number } {
  return {
    count: h.count,
    mean_ms: round((h.sum / h.count) * 1000),
    p50_ms_est: round(histogramQuantile(h, 0.5) * 1000),
    p99_ms_est: round(histogramQuantile(h, 0.99) * 1000),
  };
}
