/**
 * What operators and the phase gates read about shadow comparison. Every figure comes from the stored
 * per-sample outcomes, so every replica (and every gate evaluation) computes the same rate for a window.
 */
import { Inject, Injectable } from '@nestjs/common';
import { SHADOW_CONFIG, SHADOW_GATE_VIEW, ShadowConfig, ShadowGateView } from './shadow.config';
import { MigrationModeService } from '../mode/migration-mode.service';
import { LAG_KINDS, LagKind } from './domain/lag';
import { ShadowQueue } from './shadow-queue';
import {
  ComparisonKind,
  MismatchFilter,
  OutcomeCount,
  PathCount,
  SampleOutcome,
  ShadowRepository,
  StoredMismatch,
} from './shadow.repository';

export interface ShadowCounts {
  /** Decided comparisons (every outcome but error). */
  compared: number;
  matched: number;
  mismatched: number;
  /** One side was behind and the copying under way explains it (lagByKind says how). */
  lag: number;
  lagByKind: Record<LagKind, number>;
  ignored: number;
  noisy: number;
  errors: number;
}

export interface MismatchRate {
  windowMs: number;
  compared: number;
  mismatched: number;
  lag: number;
  /** mismatched / compared; null when nothing was compared in the window. */
  rate: number | null;
  /** lag / compared, beside the rate: how much of what was compared was still being copied. */
  lagShare: number | null;
}

export function countsOf(rows: OutcomeCount[]): ShadowCounts {
  const sum = (rs: OutcomeCount[]) => rs.reduce((n, r) => n + r.count, 0);
  const by = (o: SampleOutcome) => sum(rows.filter((r) => r.outcome === o));
  const counts = {
    matched: by('matched'),
    mismatched: by('mismatched'),
    lag: by('lag'),
    ignored: by('ignored'),
    noisy: by('noisy'),
    errors: by('error'),
  };
  const lagByKind = Object.fromEntries(
    LAG_KINDS.map((k) => [k, sum(rows.filter((r) => r.outcome === 'lag' && (r.lagKind ?? 'converged') === k))]),
  ) as Record<LagKind, number>;
  return { compared: counts.matched + counts.mismatched + counts.lag + counts.ignored + counts.noisy, ...counts, lagByKind };
}

const rateOf = (c: ShadowCounts) => (c.compared === 0 ? null : c.mismatched / c.compared);
const lagShareOf = (c: ShadowCounts) => (c.compared === 0 ? null : c.lag / c.compared);
const sum = (o: Record<string, number>) => Object.values(o).reduce((a, b) => a + b, 0);

@Injectable()
export class ShadowStatusService {
  constructor(
    private readonly repo: ShadowRepository,
    private readonly queue: ShadowQueue,
    private readonly mode: MigrationModeService,
    @Inject(SHADOW_CONFIG) private readonly config: ShadowConfig,
    @Inject(SHADOW_GATE_VIEW) private readonly gate: ShadowGateView,
  ) {}

  get defaultWindowMs(): number {
    return this.config.windowMs;
  }

  /**
   * The gates' figure: mismatches over decided comparisons (stores and HTTP mirror) in the last `windowMs`,
   * and beside it the share that was lag (counted as compared, as converged lag always was).
   */
  async mismatchRate(windowMs: number): Promise<MismatchRate> {
    const c = countsOf(await this.repo.outcomeCounts(windowMs));
    return { windowMs, compared: c.compared, mismatched: c.mismatched, lag: c.lag, rate: rateOf(c), lagShare: lagShareOf(c) };
  }

  async status(windowMs = this.config.windowMs) {
    const [mode, windowRows, windowDrops, retainedSince, noisyFields, depth] = await Promise.all([
      this.mode.current(),
      this.repo.outcomeCounts(windowMs),
      this.repo.dropCounts(windowMs),
      this.repo.oldestSample(),
      this.repo.noisyFields(),
      this.queue.depth().catch(() => null),
    ]);
    const window = countsOf(windowRows);
    const kind = (k: ComparisonKind) => countsOf(windowRows.filter((r) => r.kind === k));
    const { sampleRates, calibrationRate, mirror, ignorePaths, queueMax } = this.config;
    return {
      phase: mode.phase,
      active: mode.shadow,
      sampling: {
        rates: sampleRates,
        calibrationRate,
        mirror: { enabled: mirror.baseUrl !== undefined, endpoints: Object.keys(mirror.endpoints) },
      },
      window: {
        ms: windowMs,
        ...window,
        dropped: sum(windowDrops),
        droppedByReason: windowDrops,
        mismatchRate: rateOf(window),
        lagShare: lagShareOf(window),
      },
      byKind: {
        stores: { ...kind('stores'), mismatchRate: rateOf(kind('stores')), lagShare: lagShareOf(kind('stores')) },
        http: { ...kind('http'), mismatchRate: rateOf(kind('http')), lagShare: lagShareOf(kind('http')) },
      },
      // Samples older than this are gone (SHADOW_RETENTION_HOURS): a window reaching further back counts less.
      retainedSince,
      queue: { depth, max: queueMax },
      ignorePaths,
      noisyFields,
    };
  }

  /** The mismatch rate over time: `buckets` slices of the last `windowMs`, each with its own rate (null when empty). */
  async timeline(windowMs: number, buckets: number) {
    const rows = await this.repo.rateBuckets(windowMs, buckets);
    return {
      windowMs,
      bucketMs: windowMs / buckets,
      maxMismatchRate: this.gate.maxMismatchRate,
      buckets: rows.map((b) => ({
        ...b,
        rate: b.compared === 0 ? null : b.mismatched / b.compared,
        lagShare: b.compared === 0 ? null : b.lag / b.compared,
      })),
    };
  }

  async topPaths(windowMs: number, limit: number): Promise<{ windowMs: number; items: PathCount[] }> {
    return { windowMs, items: await this.repo.topPaths(windowMs, limit) };
  }

  mismatches(filter: MismatchFilter): Promise<StoredMismatch[]> {
    return this.repo.mismatches(filter);
  }
}
