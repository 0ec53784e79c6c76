/**
 * Gauges whose values are read when Prometheus scrapes (from PostgreSQL, so every replica reports the
 * same figure whichever process did the work). Gauges registered together share one read per scrape;
 * a failed read sets them to NaN for that scrape (and is logged) rather than failing /metrics or
 * showing a stale or zero value: "unknown" never satisfies an alert's threshold, nor looks healthy.
 */
import { Logger } from '@nestjs/common';
import { Gauge } from 'prom-client';
import type { MetricsService } from './metrics.service';

export interface ScrapeGauge<T> {
  name: string;
  help: string;
  /** The value from this scrape's read; NaN when the figure is undefined (e.g. a rate over nothing). */
  value(read: T): number;
}

/** Registers the gauges once per registry (idempotent, keyed by the first name). */
export function registerScrapeGauges<T>(
  metrics: MetricsService,
  what: string,
  read: () => Promise<T>,
  gauges: ScrapeGauge<T>[],
  shareMs = 500,
): void {
  if (gauges.length === 0 || metrics.registry.getSingleMetric(gauges[0].name)) return;
  const logger = new Logger('Metrics');
  // The gauges of one scrape are collected together: they share the read in flight, and its result for
  // shareMs after it settles.
  let shared: Promise<T | null> | undefined;
  const load = () => {
    shared ??= read()
      .catch((err) => {
        logger.warn({ msg: `cannot read ${what} for /metrics`, error: (err as Error).message });
        return null;
      })
      .finally(() => setTimeout(() => (shared = undefined), shareMs).unref());
    return shared;
  };
  for (const g of gauges) {
    new Gauge({
      name: g.name,
      help: g.help,
      registers: [metrics.registry],
      async collect() {
        const value = await load();
        this.set(value === null ? NaN : g.value(value));
      },
    });
  }
}
