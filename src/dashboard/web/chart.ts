/**
 * Geometry of the mismatch-rate chart: a hand-drawn SVG, no chart library (nothing to fetch, nothing
 * inline for the CSP to refuse). Pure, so it is unit-tested.
 */

export interface ChartPoint {
  t: number;
  /** null: nothing compared in that bucket (a gap in the line, not a zero). */
  value: number | null;
}

export interface ChartGeometry {
  /** One SVG path per run of two or more buckets with data (a lone bucket is only its dot). */
  paths: string[];
  dots: Array<{ x: number; y: number; value: number }>;
  yMax: number;
  /** y of the threshold line, when it fits on the chart. */
  thresholdY: number | null;
  yTicks: Array<{ y: number; value: number }>;
}

/** A "nice" upper bound: 1, 2 or 5 times a power of ten, at least `min`. */
export function niceMax(v: number, min = 1e-4): number {
  const target = Math.max(v, min);
  const p = 10 ** Math.floor(Math.log10(target));
  // toPrecision drops the binary noise of powers of ten (10 ** -4 is not exactly 0.0001).
  for (const m of [1, 2, 5, 10]) {
    const candidate = Number((m * p).toPrecision(12));
    if (candidate >= target) return candidate;
  }
  return Number((10 * p).toPrecision(12));
}

export function chartGeometry(points: ChartPoint[], width: number, height: number, threshold: number | null, pad = 4): ChartGeometry {
  const values = points.map((p) => p.value).filter((v): v is number => v !== null);
  const yMax = niceMax(Math.max(0, ...values, (threshold ?? 0) * 1.25));
  const n = points.length;
  const x = (i: number) => pad + (n <= 1 ? (width - 2 * pad) / 2 : (i * (width - 2 * pad)) / (n - 1));
  const y = (v: number) => height - pad - (v / yMax) * (height - 2 * pad);
  const round = (v: number) => Math.round(v * 10) / 10;
  const paths: string[] = [];
  const dots: ChartGeometry['dots'] = [];
  let current: string[] = [];
  const endRun = () => {
    if (current.length > 1) paths.push(current.join(' '));
    current = [];
  };
  points.forEach((p, i) => {
    if (p.value === null) return endRun();
    const [px, py] = [round(x(i)), round(y(p.value))];
    current.push(`${current.length === 0 ? 'M' : 'L'}${px} ${py}`);
    dots.push({ x: px, y: py, value: p.value });
  });
  endRun();
  return {
    paths,
    dots,
    yMax,
    thresholdY: threshold !== null && threshold <= yMax ? round(y(threshold)) : null,
    yTicks: [0, 0.5, 1].map((f) => ({ y: round(y(f * yMax)), value: f * yMax })),
  };
}
