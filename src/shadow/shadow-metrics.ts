/**
 * The phase gates' shadow figure as metrics: decided comparisons, the mismatch ratio and beside it the lag
 * ratio over the gates' analysis window (GATE_ANALYSIS_WINDOW_MS), read from the stored outcomes, so the alert and the gate
 * see the same number. The counters (shadow_comparisons_total) move only in the worker that compared.
 */
import type { MetricsService } from '../common/metrics/metrics.service';
import { registerScrapeGauges } from '../common/metrics/scrape-gauges';
import type { MismatchRate } from './shadow-status.service';

export interface ShadowWindowSource {
  mismatchRate(windowMs: number): Promise<MismatchRate>;
}

export function registerShadowGauges(metrics: MetricsService, source: ShadowWindowSource, windowMs: number): void {
  const seconds = Math.round(windowMs / 1000);
  registerScrapeGauges(metrics, 'the shadow mismatch rate', () => source.mismatchRate(windowMs), [
    {
      name: 'shadow_window_mismatch_ratio',
      help: `Shadow mismatches over decided comparisons in the last ${seconds} s (the phase gates' window); NaN when none was compared`,
      value: (r) => r.rate ?? NaN,
    },
    {
      name: 'shadow_window_comparisons',
      help: `Decided shadow comparisons in the last ${seconds} s (the phase gates' window)`,
      value: (r) => r.compared,
    },
    {
      name: 'shadow_window_lag_ratio',
      help: `Shadow comparisons decided as lag (the other side still being copied) over decided comparisons in the last ${seconds} s; NaN when none was compared`,
      value: (r) => r.lagShare ?? NaN,
    },
  ]);
}
