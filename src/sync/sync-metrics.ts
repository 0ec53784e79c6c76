/**
 * The sync engine's Prometheus metrics. Counters and the batch histogram are counted where the work runs
 * (worker processes); the gauges (catch-up lag, backfill progress, open dead letters) are read from
 * PostgreSQL when scraped, so any process's `/metrics` shows them whichever worker did the work.
 */
import { Gauge, Histogram, Counter } from 'prom-client';
import type { MetricsService } from '../common/metrics/metrics.service';

export type SyncJob = 'backfill' | 'catchup' | 'redrive';

export interface BatchCounts {
  read: number;
  written: number;
  skipped: number;
  dead: number;
}

export interface SyncGaugeSource {
  gauges(): Promise<{ catchupLagSeconds: number | null; backfill: BatchCounts & { expected: number }; deadLettersOpen: number }>;
}

export class SyncMetrics {
  private readonly read: Counter<'job'>;
  private readonly written: Counter<'job'>;
  private readonly skipped: Counter<'job'>;
  private readonly dead: Counter<'job'>;
  private readonly batch: Histogram<'job' | 'stage'>;

  constructor(private readonly metrics: MetricsService) {
    this.read = metrics.counter('sync_documents_read_total', 'Legacy documents read by the sync engine', ['job']);
    this.written = metrics.counter('sync_documents_written_total', 'Documents written to PostgreSQL by the sync engine', ['job']);
    this.skipped = metrics.counter(
      'sync_documents_skipped_total',
      'Documents not written because PostgreSQL already had that version or a newer one',
      ['job'],
    );
    this.dead = metrics.counter('sync_documents_dead_lettered_total', 'Unreadable documents sent to the dead-letter table', ['job']);
    this.batch = metrics.histogram(
      'sync_batch_duration_seconds',
      'Sync batch latency by stage (read from legacy, write to PostgreSQL)',
      ['job', 'stage'],
      [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    );
  }

  batchDone(job: SyncJob, counts: BatchCounts, readMs: number | undefined, writeMs: number): void {
    this.read.inc({ job }, counts.read);
    this.written.inc({ job }, counts.written);
    this.skipped.inc({ job }, counts.skipped);
    this.dead.inc({ job }, counts.dead);
    if (readMs !== undefined) this.batch.observe({ job, stage: 'read' }, readMs / 1000);
    this.batch.observe({ job, stage: 'write' }, writeMs / 1000);
  }

  /** Registers the scrape-time gauges (once per process). */
  registerGauges(source: SyncGaugeSource): void {
    if (this.metrics.registry.getSingleMetric('sync_catchup_lag_seconds')) return;
    let cached: { at: number; value: ReturnType<SyncGaugeSource['gauges']> } | undefined;
    const read = () => {
      // One query set per scrape, shared by the three gauges.
      if (!cached || Date.now() - cached.at > 500) cached = { at: Date.now(), value: source.gauges() };
      return cached.value;
    };
    const registers = [this.metrics.registry];
    new Gauge({
      name: 'sync_catchup_lag_seconds',
      help: 'Catch-up lag: now minus the applied watermark (-1 before catch-up has a watermark)',
      registers,
      async collect() {
        const g = await read().catch(() => null);
        this.set(g?.catchupLagSeconds ?? -1);
      },
    });
    new Gauge({
      name: 'sync_backfill_documents',
      help: 'Documents of the latest backfill run by state (expected at split time, read, written, skipped, dead)',
      labelNames: ['state'],
      registers,
      async collect() {
        const g = await read().catch(() => null);
        if (!g) return;
        for (const state of ['expected', 'read', 'written', 'skipped', 'dead'] as const) this.set({ state }, g.backfill[state]);
      },
    });
    new Gauge({
      name: 'sync_dead_letters_open',
      help: 'Dead letters not yet resolved',
      registers,
      async collect() {
        const g = await read().catch(() => null);
        if (g) this.set(g.deadLettersOpen);
      },
    });
  }
}
