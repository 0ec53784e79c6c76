/**
 * The traffic intent log as metrics: how many changes are open and how long the oldest has been, so an
 * alert catches a Route 53 change that neither completes nor fails (a worker that cannot reach AWS, a
 * change PENDING past every timeout, no worker serving the `traffic` queue).
 */
import type { MetricsService } from '../common/metrics/metrics.service';
import { registerScrapeGauges } from '../common/metrics/scrape-gauges';

export interface OpenTrafficChanges {
  openSummary(): Promise<{ open: number; oldestAgeSeconds: number }>;
}

export function registerTrafficGauges(metrics: MetricsService, source: OpenTrafficChanges): void {
  registerScrapeGauges(metrics, 'open traffic changes', () => source.openSummary(), [
    {
      name: 'traffic_changes_open',
      help: 'Traffic changes not yet done, failed or undone (state intent or submitted)',
      value: (s) => s.open,
    },
    {
      name: 'traffic_change_oldest_open_age_seconds',
      help: 'Seconds since the oldest open traffic change was requested (0 when none is open)',
      value: (s) => s.oldestAgeSeconds,
    },
  ]);
}
