/**
 * The shadow tables in PostgreSQL (migration 1764000000004). Outcomes are stored per sample so that a
 * windowed rate is exact and every replica, and the gates, read the same numbers.
 */
import { Inject, Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { DATA_SOURCE } from '../stores/stores.module';
import type { Outcome } from './domain/comparison';
import type { LagKind } from './domain/lag';
import type { RecordedDifference } from './domain/redact';
import type { DropReason } from './shadow-queue';

export type ComparisonKind = 'stores' | 'http';
export type SampleOutcome = Outcome | 'error';
export const SAMPLE_OUTCOMES: readonly SampleOutcome[] = ['matched', 'mismatched', 'lag', 'ignored', 'noisy', 'error'];

export interface SampleRow {
  kind: ComparisonKind;
  endpoint: string;
  outcome: SampleOutcome;
  /** Why a `lag` outcome was lag (null for every other outcome). */
  lagKind: LagKind | null;
  calibration: boolean;
  rechecks: number;
  sampledAt: Date;
}

export interface MismatchRow {
  kind: ComparisonKind;
  endpoint: string;
  conversationId: string | null;
  userId: string | null;
  request: Record<string, unknown>;
  phase: string;
  primarySide: string;
  secondarySide: string;
  primaryVersion: number | null;
  secondaryVersion: number | null;
  paths: string[];
  pathPatterns: string[];
  differences: RecordedDifference[];
  differenceCount: number;
  rechecks: number;
  sampledAt: Date;
}

export interface StoredMismatch extends MismatchRow {
  id: string;
  detectedAt: string;
}

/** A `shadow_mismatches` row as the driver returns it (bigints are strings, jsonb arrives parsed). */
interface MismatchRecord {
  id: string;
  kind: ComparisonKind;
  endpoint: string;
  conversation_id: string | null;
  user_id: string | null;
  request: Record<string, unknown>;
  phase: string;
  primary_side: string;
  secondary_side: string;
  primary_version: string | null;
  secondary_version: string | null;
  paths: string[];
  path_patterns: string[];
  differences: RecordedDifference[];
  difference_count: number;
  rechecks: number;
  sampled_at: Date;
  detected_at: Date;
}

/** A `shadow_noisy_fields` row as the driver returns it. */
interface NoisyFieldRecord {
  kind: ComparisonKind;
  source: string;
  path: string;
  occurrences: string | number;
  example: unknown;
  first_seen: Date;
  last_seen: Date;
}

export interface NoisyField {
  kind: ComparisonKind;
  source: string;
  path: string;
  occurrences: number;
  example: unknown;
  firstSeen: string;
  lastSeen: string;
}

export interface MismatchFilter {
  endpoint?: string;
  kind?: ComparisonKind;
  path?: string;
  since?: Date;
  /** Keyset pagination: only records with a smaller id. */
  before?: string;
  limit: number;
}

export interface RateBucket {
  /** Start of the bucket (ISO-8601); buckets are `bucketMs` long and the last one ends now. */
  start: string;
  compared: number;
  mismatched: number;
  lag: number;
}

export interface PathCount {
  path: string;
  mismatches: number;
  lastSeen: string;
}

export interface OutcomeCount {
  kind: ComparisonKind;
  endpoint: string;
  outcome: SampleOutcome;
  lagKind: LagKind | null;
  count: number;
}

@Injectable()
export class ShadowRepository {
  constructor(@Inject(DATA_SOURCE) private readonly ds: DataSource) {}

  /**
   * Decided samples, several at once: those without a mismatch in one statement, each mismatch with its
   * sample in a transaction of its own.
   */
  async recordOutcomes(rows: ReadonlyArray<{ sample: SampleRow; mismatch?: MismatchRow }>): Promise<void> {
    const plain = rows.filter((r) => !r.mismatch).map((r) => r.sample);
    if (plain.length > 0)
      await this.ds.query(
        `INSERT INTO shadow_samples (kind, endpoint, outcome, lag_kind, calibration, rechecks, sampled_at)
         SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::boolean[], $6::int[], $7::timestamptz[])`,
        [
          plain.map((r) => r.kind),
          plain.map((r) => r.endpoint),
          plain.map((r) => r.outcome),
          plain.map((r) => r.lagKind),
          plain.map((r) => r.calibration),
          plain.map((r) => r.rechecks),
          plain.map((r) => r.sampledAt),
        ],
      );
    for (const r of rows) if (r.mismatch) await this.recordOutcome(r.sample, r.mismatch);
  }

  /** One decided sample and, for a mismatch, its record, together. */
  async recordOutcome(sample: SampleRow, mismatch?: MismatchRow): Promise<void> {
    const insertSample = `INSERT INTO shadow_samples (kind, endpoint, outcome, lag_kind, calibration, rechecks, sampled_at) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id`;
    const sampleParams = [
      sample.kind,
      sample.endpoint,
      sample.outcome,
      sample.lagKind,
      sample.calibration,
      sample.rechecks,
      sample.sampledAt,
    ];
    if (!mismatch) {
      await this.ds.query(insertSample, sampleParams);
      return;
    }
    await this.ds.transaction(async (em) => {
      const [{ id }] = await em.query(insertSample, sampleParams);
      await em.query(
        `INSERT INTO shadow_mismatches (sample_id, kind, endpoint, conversation_id, user_id, request, phase, primary_side, secondary_side,
           primary_version, secondary_version, paths, path_patterns, differences, difference_count, rechecks, sampled_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)`,
        [
          id,
          mismatch.kind,
          mismatch.endpoint,
          mismatch.conversationId,
          mismatch.userId,
          JSON.stringify(mismatch.request),
          mismatch.phase,
          mismatch.primarySide,
          mismatch.secondarySide,
          mismatch.primaryVersion,
          mismatch.secondaryVersion,
          mismatch.paths,
          mismatch.pathPatterns,
          JSON.stringify(mismatch.differences),
          mismatch.differenceCount,
          mismatch.rechecks,
          mismatch.sampledAt,
        ],
      );
    });
  }

  async recordNoise(kind: ComparisonKind, source: string, fields: Array<{ path: string; example: unknown }>): Promise<void> {
    if (fields.length === 0) return;
    await this.ds.query(
      `INSERT INTO shadow_noisy_fields (kind, source, path, example)
       SELECT $1, $2, f.path, f.example FROM jsonb_to_recordset($3::jsonb) AS f(path text, example jsonb)
       ON CONFLICT (kind, source, path) DO UPDATE
         SET occurrences = shadow_noisy_fields.occurrences + 1, example = EXCLUDED.example, last_seen = clock_timestamp()`,
      [kind, source, JSON.stringify(fields)],
    );
  }

  async noisyFields(): Promise<NoisyField[]> {
    const rows: NoisyFieldRecord[] = await this.ds.query(
      `SELECT kind, source, path, occurrences, example, first_seen, last_seen FROM shadow_noisy_fields ORDER BY kind, path, source`,
    );
    return rows.map((r) => ({
      kind: r.kind,
      source: r.source,
      path: r.path,
      occurrences: Number(r.occurrences),
      example: r.example,
      firstSeen: new Date(r.first_seen).toISOString(),
      lastSeen: new Date(r.last_seen).toISOString(),
    }));
  }

  async recordDrops(counts: Map<DropReason, number>): Promise<void> {
    const entries = [...counts].filter(([, n]) => n > 0);
    if (entries.length === 0) return;
    await this.ds.query(`INSERT INTO shadow_drops (reason, count) SELECT * FROM unnest($1::text[], $2::int[])`, [
      entries.map(([r]) => r),
      entries.map(([, n]) => n),
    ]);
  }

  /** Decided samples by kind, endpoint, outcome and lag kind within the last `windowMs`. */
  async outcomeCounts(windowMs: number): Promise<OutcomeCount[]> {
    const rows: Array<{ kind: ComparisonKind; endpoint: string; outcome: SampleOutcome; lag_kind: LagKind | null; n: number }> =
      await this.ds.query(
        `SELECT kind, endpoint, outcome, lag_kind, count(*)::int AS n FROM shadow_samples
       WHERE decided_at > clock_timestamp() - make_interval(secs => $1::float8 / 1000)
       GROUP BY 1, 2, 3, 4`,
        [windowMs],
      );
    return rows.map((r) => ({ kind: r.kind, endpoint: r.endpoint, outcome: r.outcome, lagKind: r.lag_kind, count: r.n }));
  }

  /**
   * Decided samples and mismatches in `buckets` equal slices of the last `windowMs`, oldest first, every
   * bucket present (empty ones with zeros). "Compared" counts what the gates count: every outcome but error.
   */
  async rateBuckets(windowMs: number, buckets: number): Promise<RateBucket[]> {
    const rows: Array<{ b: number; start: Date; compared: number; mismatched: number; lag: number }> = await this.ds.query(
      `WITH w AS (SELECT clock_timestamp() - make_interval(secs => $1::float8 / 1000) AS t0, $1::float8 / $2::int AS bucket_ms),
            s AS (
              SELECT least($2::int - 1, floor(extract(epoch FROM (decided_at - w.t0)) * 1000 / w.bucket_ms))::int AS b,
                     count(*) FILTER (WHERE outcome <> 'error')::int AS compared,
                     count(*) FILTER (WHERE outcome = 'mismatched')::int AS mismatched,
                     count(*) FILTER (WHERE outcome = 'lag')::int AS lag
              FROM shadow_samples, w WHERE decided_at > w.t0 GROUP BY 1
            )
       SELECT g.b, w.t0 + make_interval(secs => g.b * w.bucket_ms / 1000) AS start, coalesce(s.compared, 0) AS compared,
              coalesce(s.mismatched, 0) AS mismatched, coalesce(s.lag, 0) AS lag
       FROM w, generate_series(0, $2::int - 1) AS g(b) LEFT JOIN s ON s.b = g.b
       ORDER BY g.b`,
      [windowMs, buckets],
    );
    return rows.map((r) => ({ start: new Date(r.start).toISOString(), compared: r.compared, mismatched: r.mismatched, lag: r.lag }));
  }

  /** The paths (generalised, `messages[*].content`) that differed most often in the last `windowMs`. */
  async topPaths(windowMs: number, limit: number): Promise<PathCount[]> {
    const rows: Array<{ path: string; n: number; last_seen: Date }> = await this.ds.query(
      `SELECT p.path, count(*)::int AS n, max(m.detected_at) AS last_seen
       FROM shadow_mismatches m, unnest(m.path_patterns) AS p(path)
       WHERE m.detected_at > clock_timestamp() - make_interval(secs => $1::float8 / 1000)
       GROUP BY p.path ORDER BY n DESC, p.path LIMIT $2`,
      [windowMs, limit],
    );
    return rows.map((r) => ({ path: r.path, mismatches: r.n, lastSeen: new Date(r.last_seen).toISOString() }));
  }

  async dropCounts(windowMs: number): Promise<Record<string, number>> {
    const rows: Array<{ reason: string; n: number }> = await this.ds.query(
      `SELECT reason, sum(count)::int AS n FROM shadow_drops
       WHERE recorded_at > clock_timestamp() - make_interval(secs => $1::float8 / 1000)
       GROUP BY 1`,
      [windowMs],
    );
    return Object.fromEntries(rows.map((r) => [r.reason, r.n]));
  }

  async oldestSample(): Promise<string | null> {
    const [row] = await this.ds.query(`SELECT min(decided_at) AS t FROM shadow_samples`);
    return row?.t ? new Date(row.t).toISOString() : null;
  }

  async mismatches(f: MismatchFilter): Promise<StoredMismatch[]> {
    const where: string[] = [];
    const params: unknown[] = [];
    const add = (sql: (p: string) => string, value: unknown) => {
      params.push(value);
      where.push(sql(`$${params.length}`));
    };
    if (f.endpoint !== undefined) add((p) => `endpoint = ${p}`, f.endpoint);
    if (f.kind !== undefined) add((p) => `kind = ${p}`, f.kind);
    if (f.since !== undefined) add((p) => `detected_at >= ${p}`, f.since);
    if (f.before !== undefined) add((p) => `id < ${p}::bigint`, f.before);
    if (f.path !== undefined) {
      // The path itself or anything beneath it, spelled exactly or with indices as [*].
      add(
        (p) => `EXISTS (SELECT 1 FROM unnest(paths || path_patterns) AS x(path)
                WHERE x.path = ${p} OR starts_with(x.path, ${p} || '.') OR starts_with(x.path, ${p} || '['))`,
        f.path,
      );
    }
    params.push(f.limit);
    const rows: MismatchRecord[] = await this.ds.query(
      `SELECT * FROM shadow_mismatches ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT $${params.length}`,
      params,
    );
    return rows.map((r) => ({
      id: String(r.id),
      kind: r.kind,
      endpoint: r.endpoint,
      conversationId: r.conversation_id,
      userId: r.user_id,
      request: r.request,
      phase: r.phase,
      primarySide: r.primary_side,
      secondarySide: r.secondary_side,
      primaryVersion: r.primary_version === null ? null : Number(r.primary_version),
      secondaryVersion: r.secondary_version === null ? null : Number(r.secondary_version),
      paths: r.paths,
      pathPatterns: r.path_patterns,
      differences: r.differences,
      differenceCount: r.difference_count,
      rechecks: r.rechecks,
      sampledAt: new Date(r.sampled_at),
      detectedAt: new Date(r.detected_at).toISOString(),
    }));
  }

  /** Retention: samples, drops and mismatch records older than `ageMs`, and mismatch records beyond `maxMismatches`. */
  async prune(ageMs: number, maxMismatches: number): Promise<void> {
    const age = [ageMs];
    await this.ds.query(`DELETE FROM shadow_samples WHERE decided_at < clock_timestamp() - make_interval(secs => $1::float8 / 1000)`, age);
    await this.ds.query(`DELETE FROM shadow_drops WHERE recorded_at < clock_timestamp() - make_interval(secs => $1::float8 / 1000)`, age);
    await this.ds.query(
      `DELETE FROM shadow_mismatches WHERE detected_at < clock_timestamp() - make_interval(secs => $1::float8 / 1000)`,
      age,
    );
    await this.ds.query(`DELETE FROM shadow_mismatches WHERE id <= (SELECT id FROM shadow_mismatches ORDER BY id DESC OFFSET $1 LIMIT 1)`, [
      maxMismatches,
    ]);
  }
}
