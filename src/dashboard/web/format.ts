/** How the dashboard spells numbers, durations and gate values. Pure, so it is unit-tested. */

/** A duration in the largest units that fit, two at most, a zero second part left out (`1 h`, `1 h 5 min`, `30 s`). */
export function duration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '—';
  const s = Math.round(Math.abs(ms) / 1000);
  const sign = ms < 0 ? '-' : '';
  const two = (a: number, unitA: string, b: number, unitB: string) => `${sign}${a} ${unitA}${b === 0 ? '' : ` ${b} ${unitB}`}`;
  if (s < 1) return `${sign}${Math.round(Math.abs(ms))} ms`;
  if (s < 60) return `${sign}${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return two(m, 'min', s % 60, 's');
  const h = Math.floor(m / 60);
  if (h < 48) return two(h, 'h', m % 60, 'min');
  return two(Math.floor(h / 24), 'd', h % 24, 'h');
}

/** A short pause as measured (`340 ms`, `1.5 s`); longer ones as durations. */
export function pause(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '—';
  if (Math.abs(ms) < 1000) return `${Math.round(ms)} ms`;
  if (Math.abs(ms) < 10_000) return `${(ms / 1000).toFixed(1)} s`;
  return duration(ms);
}

/** Every `<n> ms` in a text (the server's gate values and thresholds) as a duration people read. */
export function readableMs(text: string): string {
  return text.replace(/(-?\d+(?:\.\d+)?) ?ms\b/g, (_, n: string) => duration(Number(n)));
}

export function count(n: number | null | undefined): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return '—';
  return Math.round(n).toLocaleString('en-US');
}

/** A ratio (0..1) as a percentage with enough digits to see 0.1 % thresholds. */
export function ratio(r: number | null | undefined): string {
  if (r === null || r === undefined || !Number.isFinite(r)) return '—';
  const pct = r * 100;
  const digits = pct === 0 || pct >= 10 ? 1 : pct >= 1 ? 2 : 3;
  return `${pct.toFixed(digits)} %`;
}

export function bytes(n: number | null | undefined): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return '—';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(1)} ${units[i]}`;
}

export function time(iso: string | null | undefined): string {
  if (!iso) return '—';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return d
    .toISOString()
    .replace('T', ' ')
    .replace(/\.\d{3}Z$/, ' UTC');
}

const RATIO_GATES = new Set(['shadow_mismatch_rate', 'error_rate', 'success_rate']);
const DURATION_GATES = new Set(['dwell', 'catchup_lag_ms', 'legacy_drained_ms']);

/** A gate's live value in words: durations for the *_ms and dwell gates (and inside texts), percentages for rates. */
export function gateValue(name: string, value: number | string | boolean | null): string {
  if (value === null) return 'no data';
  if (typeof value === 'boolean') return value ? 'yes' : 'no';
  if (typeof value === 'string') return readableMs(value);
  if (RATIO_GATES.has(name)) return ratio(value);
  if (DURATION_GATES.has(name)) return duration(value);
  if (name === 'p99_latency_ms') return `${Math.round(value)} ms`;
  return count(value);
}

/** A gate's threshold in words: the same units as its value (`<= 0.001` -> `<= 0.100 %`, `3600000 ms` -> `1 h`). */
export function gateThreshold(name: string, threshold: string): string {
  const m = /^(<=|>=|=)\s*(-?\d+(?:\.\d+)?)(.*)$/.exec(threshold);
  if (!m) return readableMs(threshold);
  const n = Number(m[2]);
  if (RATIO_GATES.has(name)) return `${m[1]} ${ratio(n)}${m[3]}`;
  if (DURATION_GATES.has(name) && n > 0) return `${m[1]} ${duration(n)}${readableMs(m[3].replace(/^ ms\b/, ''))}`;
  if (name === 'p99_latency_ms') return `${m[1]} ${n} ms${m[3]}`;
  return readableMs(threshold);
}

export function percentOf(part: number, whole: number): number {
  return whole > 0 ? Math.min(100, (100 * part) / whole) : 0;
}
