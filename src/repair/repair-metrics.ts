/**
 * The follow-ups as metrics, read from PostgreSQL at scrape time (every replica reports the same figure):
 * how many are waiting and how old the oldest is. In deprecation that is how far legacy lags the source
 * of truth; the alert and the rollback's gate watch it.
 */
import type { MetricsService } from '../common/metrics/metrics.service';
import { registerScrapeGauges } from '../common/metrics/scrape-gauges';
import type { PostgresRepairOutbox } from './repair-outbox';

export function registerFollowUpGauges(metrics: MetricsService, outbox: Pick<PostgresRepairOutbox, 'lag'>): void {
  registerScrapeGauges(metrics, 'the follow-up outbox', () => outbox.lag(), [
    {
      name: 'repair_outbox_pending',
      help: 'Follow-ups (repair_outbox rows) not yet settled: the other store still needs these conversations',
      value: (l) => l.pending,
    },
    {
      name: 'repair_outbox_oldest_age_seconds',
      help: 'Age of the oldest unsettled follow-up (0 when none): how far the other store lags at worst',
      value: (l) => l.oldestAgeSeconds,
    },
  ]);
}
