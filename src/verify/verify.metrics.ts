/**
 * Verification metrics. Counters move in the worker that does the work; the `latest run` gauges are read
 * from PostgreSQL when scraped, so the API's /metrics shows the state of verification whichever worker
 * ran it (workers have no HTTP endpoint).
 */
import { Injectable, Logger } from '@nestjs/common';
import { Gauge } from 'prom-client';
import { MetricsService } from '../common/metrics/metrics.service';
import type { ReportKind } from './verify.schemas';
import { VerifyRunRepository } from './verify-run.repository';

@Injectable()
export class VerifyMetrics {
  readonly recordsCompared;
  readonly chunks;
  readonly differences;
  readonly rechecks;
  readonly repaired;
  readonly chunkSeconds;

  constructor(metrics: MetricsService) {
    this.recordsCompared = metrics.counter(
      'verification_records_compared_total',
      'Records compared by verification runs (an id on both sides counts once)',
    );
    this.chunks = metrics.counter('verification_chunks_total', 'Chunks compared, by whether their digests matched', ['result']);
    this.differences = metrics.counter('verification_differences_total', 'Differences confirmed after their recheck, by kind', ['kind']);
    this.rechecks = metrics.counter(
      'verification_rechecks_total',
      'Rechecks of suspected differences, by outcome (resolved, again, confirmed)',
      ['outcome'],
    );
    this.repaired = metrics.counter(
      'verification_repaired_total',
      'Differences a repair run copied from the source of truth and found equal afterwards',
    );
    this.chunkSeconds = metrics.histogram(
      'verification_chunk_duration_seconds',
      'Time to compare and commit one chunk (reads overlap the previous chunk)',
      [],
      [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    );
  }

  confirmed(kind: ReportKind, n = 1): void {
    this.differences.inc({ kind }, n);
  }
}

/** Registers the gauges of the newest completed run on this process's registry (idempotent). */
export function registerLatestRunGauges(metrics: MetricsService, runs: VerifyRunRepository): void {
  const logger = new Logger('VerifyMetrics');
  const name = 'verification_latest_run_differences';
  if (metrics.registry.getSingleMetric(name)) return;
  let latest: Promise<Awaited<ReturnType<VerifyRunRepository['latestCompleted']>>> | undefined;
  // One query per scrape, shared by the three gauges.
  const load = () => {
    latest ??= runs.latestCompleted().finally(() => setTimeout(() => (latest = undefined), 1000).unref());
    return latest;
  };
  const guarded = async (fn: (run: NonNullable<Awaited<ReturnType<typeof load>>>) => void) => {
    try {
      const run = await load();
      if (run) fn(run);
    } catch (err) {
      logger.warn({ msg: 'cannot read the latest verification run for /metrics', error: (err as Error).message });
    }
  };
  new Gauge({
    name,
    help: 'Differences still present at the end of the newest completed verification run, by kind',
    labelNames: ['kind'],
    registers: [metrics.registry],
    async collect() {
      await guarded((run) => {
        for (const kind of ['missing', 'extra', 'different', 'unreadable'] as const) this.set({ kind }, run[kind]);
      });
    },
  });
  new Gauge({
    name: 'verification_latest_run_records_compared',
    help: 'Records compared by the newest completed verification run',
    registers: [metrics.registry],
    async collect() {
      await guarded((run) => this.set(run.recordsCompared));
    },
  });
  new Gauge({
    name: 'verification_latest_run_finished_timestamp_seconds',
    help: 'When the newest completed verification run finished (Unix time)',
    registers: [metrics.registry],
    async collect() {
      await guarded((run) => this.set(run.finishedAt ? run.finishedAt.getTime() / 1000 : 0));
    },
  });
}
