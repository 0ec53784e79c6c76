/**
 * The production GateFiguresSource: reads each capability's own status (sync, verification, shadow),
 * this process's request window, and the stray legacy writes catch-up recorded. Nothing here decides anything.
 */
import { Inject, Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { MIGRATION_CONFIG, MigrationConfig } from './migration.config';
import { CleanupService } from '../cleanup/cleanup.service';
import { MetricsService } from '../common/metrics/metrics.service';
import { RepairOutbox } from '../repair/repair-outbox';
import { REPAIR_OUTBOXES } from '../repair/repair.module';
import { POSTGRES_OUTBOX } from '../repair/repair.service';
import type { PostgresRepairOutbox } from '../repair/repair-outbox';
import { RepairQueue } from '../repair/repair-queue';
import { ShadowStatusService } from '../shadow/shadow-status.service';
import type { StoreName } from '../model/store-name';
import { DATA_SOURCE } from '../stores/stores.module';
import { CatchupAppliedLog, StrayWrites } from '../sync/catchup/catchup-applied.log';
import { SyncStatusService } from '../sync/sync-status.service';
import { TrafficService } from '../traffic/traffic.service';
import type { GateFigures } from './domain/gates';
import type { GateFiguresSource } from './gate-figures.port';
import type { StatusSummaries } from './migration.schemas';
import type { PhaseState } from './phase-state.repository';

export interface LastVerification {
  runId: number;
  finishedAt: Date;
  missing: number;
  extra: number;
  different: number;
}

/**
 * Lag as the gates mean it: 0 when a recent pass found nothing left to copy (caught up), otherwise
 * the age of the newest change applied. The watermark's age alone would grow while nobody writes.
 * "Recent" is a few schedule intervals (at least 15 s): a pass over a busy collection takes a while,
 * and the next one is only due an interval after it.
 */
export function catchupLagMs(
  watermarkLagSeconds: number | null,
  lastPass: { at?: string; exhausted?: boolean } | null,
  intervalMs: number,
  now = Date.now(),
): number | null {
  if (lastPass?.exhausted && lastPass.at && now - new Date(lastPass.at).getTime() <= Math.max(3 * intervalMs, 15_000)) return 0;
  return watermarkLagSeconds === null ? null : Math.round(watermarkLagSeconds * 1000);
}

@Injectable()
export class LiveGateFigures implements GateFiguresSource {
  constructor(
    private readonly sync: SyncStatusService,
    private readonly shadow: ShadowStatusService,
    private readonly metrics: MetricsService,
    @Inject(DATA_SOURCE) private readonly dataSource: DataSource,
    @Inject(MIGRATION_CONFIG) private readonly config: MigrationConfig,
    private readonly cleanup: CleanupService,
    private readonly applied: CatchupAppliedLog,
    private readonly repairQueue: RepairQueue,
    private readonly traffic: TrafficService,
    @Inject(REPAIR_OUTBOXES) private readonly outboxes: Record<StoreName, RepairOutbox>,
    @Inject(POSTGRES_OUTBOX) private readonly followUps: PostgresRepairOutbox,
  ) {}

  /** The oldest follow-up not yet applied, in ms (0 when none); null when PostgreSQL cannot say. */
  async followUpLagMs(): Promise<number | null> {
    try {
      return Math.round((await this.followUps.lag()).oldestAgeSeconds * 1000);
    } catch {
      return null;
    }
  }

  /** Repairs queued, running or in either store's outbox; null when Redis or a store cannot say. */
  async pendingRepairs(): Promise<number | null> {
    try {
      const counts = await Promise.all([this.repairQueue.pending(), this.outboxes.new.count(), this.outboxes.legacy.count()]);
      return counts.reduce((a, b) => a + b, 0);
    } catch {
      return null;
    }
  }

  async lastVerification(): Promise<LastVerification | null> {
    const rows = await this.dataSource.query(
      `SELECT id, finished_at, missing, extra, different FROM verification_runs WHERE status = 'completed' ORDER BY finished_at DESC LIMIT 1`,
    );
    if (rows.length === 0) return null;
    const r = rows[0];
    return { runId: Number(r.id), finishedAt: r.finished_at, missing: r.missing, extra: r.extra, different: r.different };
  }

  /** When a backfill last completed (any run); null when none ever did. */
  async backfillCompletedAt(): Promise<Date | null> {
    const rows = await this.dataSource.query(`SELECT max(finished_at) AS at FROM sync_runs WHERE status = 'completed'`);
    return rows[0]?.at ?? null;
  }

  /**
   * Legacy writes since the flip that the new store (the source of truth) did not make: what catch-up
   * still had to copy into it, or could not read. Complete up to catch-up's last pass, which the same
   * gate requires to be recent.
   */
  async strayWrites(state: PhaseState): Promise<StrayWrites> {
    if (!state.flippedAt) return { copied: 0, unreadable: 0, count: 0, ids: [] };
    return this.applied.changedSince(state.flippedAt);
  }

  async collect(state: PhaseState): Promise<Omit<GateFigures, 'now' | 'enteredAt' | 'legacyDrainedSince' | 'flippedAt'>> {
    const window = this.config.analysisWindowMs;
    const [sync, shadow, verification, stray, archiveVerified, pendingRepairs, followUpLagMs, backfillCompletedAt] = await Promise.all([
      this.sync.status(),
      this.shadow.mismatchRate(window),
      this.lastVerification(),
      this.strayWrites(state),
      state.phase === 'cleanup' ? this.cleanup.verifiedSince(state.enteredAt) : Promise.resolve(false),
      this.pendingRepairs(),
      this.followUpLagMs(),
      this.backfillCompletedAt(),
    ]);
    const lastPass = sync.catchup.lastPass;
    return {
      backfillComplete: sync.backfill?.status === 'completed',
      backfillCompletedAt,
      catchupLagMs: catchupLagMs(sync.catchup.lagSeconds, lastPass, sync.catchup.intervalMs),
      lastVerification: verification,
      shadow: { compared: shadow.compared, mismatchRate: shadow.rate },
      http: this.metrics.applicationRequests.stats(window),
      recordTtlMs: this.traffic.recordTtlMs,
      strayWrites: stray.count,
      pendingRepairs,
      followUpLagMs,
      lastCatchupAt: lastPass?.at ? new Date(lastPass.at) : null,
      archiveVerified,
    };
  }

  async summaries(state: PhaseState): Promise<StatusSummaries> {
    const [sync, shadow, verification, stray, archive] = await Promise.all([
      this.sync.status(),
      this.shadow.mismatchRate(this.config.analysisWindowMs),
      this.lastVerification(),
      this.strayWrites(state),
      this.cleanup.summary(),
    ]);
    return {
      sync,
      shadow,
      lastVerification: verification && { ...verification, finishedAt: verification.finishedAt.toISOString() },
      strayLegacyWrites: stray,
      archive,
      requests: this.metrics.applicationRequests.stats(this.config.analysisWindowMs),
    };
  }
}
