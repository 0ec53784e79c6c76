/**
 * Verification runs and their differences in PostgreSQL: the run's whole state lives here, so any
 * worker can resume it and any API replica can report it.
 *
 * Invariants:
 * - every write of a worker names its claim (`claimed_by`) and happens only while it still holds it, so a
 *   worker that lost its lease (paused too long, presumed dead) cannot write over its successor;
 * - a chunk's suspects, the scan cursor and the run's counters commit in one transaction, as does each
 *   recheck and repair batch with its counters, so counts match the stored rows whatever is killed when;
 * - the counters count `confirmed` rows not repaired, by kind; `pending_recheck` counts suspects. At the
 *   end they are recomputed from the rows, so they are exact even if a bug ever made them drift;
 * - the walk is split into `_id` segments (verification_segments), each with its own lease: the worker that
 *   holds the run plans them and may walk them, and any other worker may take a free one. A segment's chunk
 *   commits with the segment's claim, its cursor and the run's counters in one transaction.
 */
import { DataSource, QueryRunner } from 'typeorm';
import { DomainError } from '../common/errors';
import { Finding, UNREADABLE_PATH } from './domain/compare';
import type { ReportKind, ReportQuery, VerifyOptions } from './verify.schemas';

/** Starts that lost the race for the one active run to a run already over by the time they looked. */
const MAX_CREATE_ATTEMPTS = 10;
export type RunStatus = 'queued' | 'running' | 'completed' | 'failed';
export type RunPhase = 'scan' | 'recheck' | 'repair' | 'done';

export interface VerifyRun {
  id: number;
  mode: 'report' | 'repair';
  status: RunStatus;
  phase: RunPhase;
  chunkSize: number;
  recheckDelayMs: number;
  pauseMs: number;
  /** Where the walk of a run planned before segments existed had got to; its segments start after it. */
  scanCursor: string | null;
  /** Every ObjectId up to this one is walked (the lowest unfinished segment's position); null once all are. */
  lowWater: string | null;
  /** Segments the operator asked for (null: sized from the new store's rows when the walk is planned). */
  segmentsWanted: number | null;
  segments: SegmentCounts;
  chunksDone: number;
  chunksDiffering: number;
  recordsCompared: number;
  recordsEstimate: number;
  missing: number;
  extra: number;
  different: number;
  unreadable: number;
  repaired: number;
  pendingRecheck: number;
  requestedBy: string | null;
  reason: string | null;
  claimedBy: string | null;
  leaseUntil: Date | null;
  attempts: number;
  createdAt: Date;
  startedAt: Date | null;
  scanFinishedAt: Date | null;
  finishedAt: Date | null;
  updatedAt: Date;
  /** Seconds since a worker first took the run up (to now while running), by the database clock. */
  elapsedSeconds: number;
  /** Seconds of the walk (to now while walking): the denominator of its rate. */
  scanSeconds: number;
  error: string | null;
}

export interface SegmentCounts {
  total: number;
  done: number;
  /** Held by a worker under a live lease and not finished. */
  active: number;
  /** Distinct workers that finished a segment of the run or hold one now (a segment names its last holder). */
  workers: number;
}

/** One `_id` segment of a run's walk: ObjectIds after `startAfter` up to and including `endAt` (null: open). */
export interface Segment {
  runId: number;
  segment: number;
  startAfter: string | null;
  endAt: string | null;
  /** The last `_id` whose chunk is committed; the walk resumes after it. */
  cursor: string | null;
}

export class LostSegmentError extends Error {
  constructor(runId: number, segment: number) {
    super(`segment ${segment} of verification run ${runId} is no longer held by this worker`);
    this.name = 'LostSegmentError';
  }
}

export interface StoredDifference {
  conversationId: string;
  kind: ReportKind;
  paths: string[];
  reason: string | null;
  legacyVersion: number | null;
  newVersion: number | null;
  repaired: boolean;
}

/** A finding as it is (re)classified: `unreadable` once its legacy document is known to be dead-lettered. */
export interface Classified {
  finding: Finding;
  kind: ReportKind;
}

export class LostClaimError extends Error {
  constructor(runId: number) {
    super(`verification run ${runId} is no longer held by this worker`);
    this.name = 'LostClaimError';
  }
}

export class VerificationRunningError extends DomainError {
  constructor(readonly runId: number) {
    super(
      'VERIFICATION_RUNNING',
      409,
      `Verification run ${runId} is already queued or running; wait for it or follow it at /migration/verify/${runId}`,
    );
  }
}

interface RunRow {
  id: string;
  mode: 'report' | 'repair';
  status: RunStatus;
  phase: RunPhase;
  chunk_size: number;
  recheck_delay_ms: number;
  pause_ms: number;
  scan_cursor: string | null;
  low_water: string | null;
  segments_wanted: number | null;
  segments: SegmentCounts | null;
  chunks_done: number;
  chunks_differing: number;
  records_compared: string;
  legacy_estimate: string;
  missing: number;
  extra: number;
  different: number;
  unreadable: number;
  repaired: number;
  pending_recheck: number;
  requested_by: string | null;
  reason: string | null;
  claimed_by: string | null;
  lease_until: Date | null;
  attempts: number;
  created_at: Date;
  started_at: Date | null;
  scan_finished_at: Date | null;
  finished_at: Date | null;
  updated_at: Date;
  elapsed_seconds: number | null;
  scan_seconds: number | null;
  error: string | null;
}

const RUN_SELECT = `SELECT *,
    (SELECT json_build_object('total', count(*), 'done', count(*) FILTER (WHERE s.done),
              'active', count(*) FILTER (WHERE NOT s.done AND s.lease_until > now()), 'workers', count(DISTINCT s.claimed_by))
       FROM verification_segments s WHERE s.run_id = verification_runs.id) AS segments,
    CASE WHEN phase = 'scan' AND status IN ('queued', 'running') THEN coalesce(
      (SELECT coalesce(s.cursor, s.start_after) FROM verification_segments s WHERE s.run_id = verification_runs.id AND NOT s.done
       ORDER BY s.segment LIMIT 1), scan_cursor) END AS low_water,
    CASE WHEN started_at IS NULL THEN 0 ELSE extract(epoch FROM coalesce(finished_at, now()) - started_at)::float8 END AS elapsed_seconds,
    CASE WHEN started_at IS NULL THEN 0 ELSE extract(epoch FROM coalesce(scan_finished_at, finished_at, now()) - started_at)::float8 END AS scan_seconds
  FROM verification_runs`;

function fromRow(r: RunRow): VerifyRun {
  return {
    id: Number(r.id),
    mode: r.mode,
    status: r.status,
    phase: r.phase,
    chunkSize: r.chunk_size,
    recheckDelayMs: r.recheck_delay_ms,
    pauseMs: r.pause_ms,
    scanCursor: r.scan_cursor,
    lowWater: r.low_water,
    segmentsWanted: r.segments_wanted,
    segments: r.segments ?? { total: 0, done: 0, active: 0, workers: 0 },
    chunksDone: r.chunks_done,
    chunksDiffering: r.chunks_differing,
    recordsCompared: Number(r.records_compared),
    recordsEstimate: Number(r.legacy_estimate),
    missing: r.missing,
    extra: r.extra,
    different: r.different,
    unreadable: r.unreadable,
    repaired: r.repaired,
    pendingRecheck: r.pending_recheck,
    requestedBy: r.requested_by,
    reason: r.reason,
    claimedBy: r.claimed_by,
    leaseUntil: r.lease_until,
    attempts: r.attempts,
    createdAt: r.created_at,
    startedAt: r.started_at,
    scanFinishedAt: r.scan_finished_at,
    finishedAt: r.finished_at,
    updatedAt: r.updated_at,
    elapsedSeconds: Number(r.elapsed_seconds ?? 0),
    scanSeconds: Number(r.scan_seconds ?? 0),
    error: r.error,
  };
}

interface CounterDeltas {
  missing?: number;
  extra?: number;
  different?: number;
  unreadable?: number;
  pendingRecheck?: number;
  repaired?: number;
}

function addKind(deltas: CounterDeltas, kind: ReportKind, by: number): void {
  deltas[kind] = (deltas[kind] ?? 0) + by;
}

type Runner = Pick<QueryRunner, 'query'>;

/** Findings as unnest() columns. */
function columns(items: Classified[]): unknown[][] {
  return [
    items.map((c) => c.finding.id),
    items.map((c) => c.kind),
    items.map((c) => JSON.stringify(c.finding.paths)),
    items.map((c) => c.finding.reason),
    items.map((c) => c.finding.legacyVersion),
    items.map((c) => c.finding.newVersion),
  ];
}

const UNIQUE_VIOLATION = '23505';

export class VerifyRunRepository {
  constructor(private readonly dataSource: DataSource) {}

  /**
   * A new queued run. A queued or running run whose worker has not renewed its lease for `staleAfterMs`
   * (or that no worker took up in that time) is marked failed first, so a lost job cannot block
   * verification forever; a live one makes this a 409.
   */
  /**
   * A new queued run, unless one is queued or running (the unique index on active runs decides between two
   * concurrent starts). The run that won may already be over when the loser looks for it (an empty store is
   * verified in milliseconds): then the loser simply tries again.
   */
  async create(options: VerifyOptions, requestedBy: string | null, recordsEstimate: number, staleAfterMs: number): Promise<VerifyRun> {
    for (let attempt = 1; ; attempt++) {
      const run = await this.tryCreate(options, requestedBy, recordsEstimate, staleAfterMs, attempt >= MAX_CREATE_ATTEMPTS);
      if (run) return run;
      await new Promise((r) => setTimeout(r, Math.random() * 5 * attempt));
    }
  }

  private async tryCreate(
    options: VerifyOptions,
    requestedBy: string | null,
    recordsEstimate: number,
    staleAfterMs: number,
    last: boolean,
  ): Promise<VerifyRun | null> {
    try {
      return await this.transaction(async (q) => {
        await q.query(
          `UPDATE verification_runs SET status = 'failed', finished_at = now(), claimed_by = NULL, lease_until = NULL, updated_at = now(),
                  error = 'abandoned: no worker made progress on it for ' || ($1::int / 1000) || ' s'
           WHERE status IN ('queued', 'running') AND coalesce(lease_until, updated_at) < now() - make_interval(secs => $1::int / 1000.0)`,
          [staleAfterMs],
        );
        const [row] = await q.query(
          `INSERT INTO verification_runs
             (mode, status, chunk_size, recheck_delay_ms, pause_ms, legacy_estimate, requested_by, reason, segments_wanted, started_at)
           VALUES ($1, 'queued', $2, $3, $4, $5, $6, $7, $8, NULL) RETURNING id`,
          [
            options.repair ? 'repair' : 'report',
            options.chunkSize,
            options.recheckDelayMs,
            options.pauseMs,
            recordsEstimate,
            requestedBy,
            options.reason,
            options.segments,
          ],
        );
        return (await this.getWith(q, Number(row.id)))!;
      });
    } catch (err) {
      if (
        (err as { code?: string }).code === UNIQUE_VIOLATION ||
        (err as { driverError?: { code?: string } }).driverError?.code === UNIQUE_VIOLATION
      ) {
        const active = await this.active();
        if (active) throw new VerificationRunningError(active.id);
        if (!last) return null;
      }
      throw err;
    }
  }

  async get(id: number): Promise<VerifyRun | null> {
    return this.getWith(this.dataSource, id);
  }

  async active(): Promise<VerifyRun | null> {
    const rows: RunRow[] = await this.dataSource.query(`${RUN_SELECT} WHERE status IN ('queued', 'running') ORDER BY id DESC LIMIT 1`);
    return rows.length > 0 ? fromRow(rows[0]) : null;
  }

  async list(limit: number): Promise<VerifyRun[]> {
    const rows: RunRow[] = await this.dataSource.query(`${RUN_SELECT} ORDER BY created_at DESC, id DESC LIMIT $1`, [limit]);
    return rows.map(fromRow);
  }

  /** The newest completed run (what gates and the metrics look at). */
  async latestCompleted(): Promise<VerifyRun | null> {
    const rows: RunRow[] = await this.dataSource.query(
      `${RUN_SELECT} WHERE status = 'completed' ORDER BY finished_at DESC, id DESC LIMIT 1`,
    );
    return rows.length > 0 ? fromRow(rows[0]) : null;
  }

  /** Takes the run for `worker` if it is unfinished and nobody else holds a live lease on it. */
  async claim(id: number, worker: string, leaseMs: number): Promise<VerifyRun | null> {
    // UPDATE and DELETE answer [rows, affected count] through TypeORM, RETURNING or not.
    const [rows]: [Array<{ id: string }>, number] = await this.dataSource.query(
      `UPDATE verification_runs
       SET claimed_by = $2, lease_until = now() + make_interval(secs => $3::int / 1000.0), status = 'running',
           started_at = coalesce(started_at, now()), attempts = attempts + 1, updated_at = now()
       WHERE id = $1 AND status IN ('queued', 'running') AND (claimed_by IS NULL OR claimed_by = $2 OR lease_until < now())
       RETURNING id`,
      [id, worker, leaseMs],
    );
    return rows.length > 0 ? this.get(id) : null;
  }

  async renewLease(id: number, worker: string, leaseMs: number): Promise<boolean> {
    const [, count] = await this.dataSource.query(
      `UPDATE verification_runs SET lease_until = now() + make_interval(secs => $3::int / 1000.0)
       WHERE id = $1 AND claimed_by = $2 AND status = 'running'`,
      [id, worker, leaseMs],
    );
    return count === 1;
  }

  /** Gives the run back (shutdown, or a transient error another attempt may get past). */
  async release(id: number, worker: string, error: string | null): Promise<void> {
    await this.dataSource.query(
      `UPDATE verification_runs SET claimed_by = NULL, lease_until = NULL, updated_at = now(), error = coalesce($3, error)
       WHERE id = $1 AND claimed_by = $2`,
      [id, worker, error],
    );
  }

  async fail(id: number, worker: string, error: string): Promise<void> {
    await this.dataSource.query(
      `UPDATE verification_runs SET status = 'failed', finished_at = now(), claimed_by = NULL, lease_until = NULL, updated_at = now(), error = $3
       WHERE id = $1 AND claimed_by = $2`,
      [id, worker, error],
    );
  }

  /**
   * How many records a run will walk, for its progress and ETA, without asking the legacy store:
   * `estimatedDocumentCount` is metadata on MongoDB but a full scan on FerretDB, which would hold the
   * request for minutes. The new store's row estimate (exact count when never analysed), or the last
   * completed run's count when that is larger.
   */
  async estimateRecords(): Promise<number> {
    const [row] = await this.dataSource.query(
      `SELECT greatest(
         (SELECT CASE WHEN reltuples > 0 THEN reltuples::bigint ELSE (SELECT count(*) FROM conversations) END
          FROM pg_class WHERE oid = 'conversations'::regclass),
         (SELECT records_compared FROM verification_runs WHERE status = 'completed' ORDER BY finished_at DESC LIMIT 1),
         0)::bigint AS n`,
    );
    return Number(row.n);
  }

  /** A run that never reached a worker (its job could not be queued). */
  async failQueued(id: number, error: string): Promise<void> {
    await this.dataSource.query(
      `UPDATE verification_runs SET status = 'failed', finished_at = now(), updated_at = now(), error = $2 WHERE id = $1 AND status = 'queued'`,
      [id, error],
    );
  }

  async setPhase(id: number, worker: string, phase: RunPhase): Promise<void> {
    await this.transaction(async (q) => {
      await this.touch(
        q,
        id,
        worker,
        {},
        `phase = '${phase}'${phase === 'recheck' ? ', scan_finished_at = coalesce(scan_finished_at, now())' : ''}`,
      );
    });
  }

  /**
   * Splits what is left of the walk into segments ending at `bounds` (ascending ObjectIds; the last segment is
   * open-ended), the first starting after `startAfter`, and counts the `othersCompared` records compared before
   * (outside the segments) in the same transaction, so a plan cut short and made again counts them once. Only the
   * run's holder plans, once: a plan already committed stays as it is.
   */
  async planSegments(
    run: VerifyRun,
    worker: string,
    plan: { startAfter: string | null; bounds: readonly string[]; othersCompared: number },
  ): Promise<void> {
    await this.transaction(async (q) => {
      const starts = [plan.startAfter, ...plan.bounds];
      const ends = [...plan.bounds, null];
      const rows: unknown[] = await q.query(
        `INSERT INTO verification_segments (run_id, segment, start_after, end_at)
         SELECT $1, u.n - 1, u.s, u.e FROM unnest($2::text[], $3::text[]) WITH ORDINALITY AS u(s, e, n)
         WHERE NOT EXISTS (SELECT 1 FROM verification_segments WHERE run_id = $1)
         RETURNING segment`,
        [run.id, starts, ends],
      );
      const counted = rows.length > 0 ? `records_compared = records_compared + ${Math.trunc(plan.othersCompared)}` : '';
      await this.touch(q, run.id, worker, {}, counted);
    });
  }

  async segmentsPlanned(runId: number): Promise<boolean> {
    const [row] = await this.dataSource.query(`SELECT EXISTS (SELECT 1 FROM verification_segments WHERE run_id = $1) AS planned`, [runId]);
    return row.planned === true;
  }

  /** Unfinished segments of the run. */
  async segmentsLeft(runId: number): Promise<number> {
    const [row] = await this.dataSource.query(`SELECT count(*)::int AS n FROM verification_segments WHERE run_id = $1 AND NOT done`, [
      runId,
    ]);
    return row.n;
  }

  /**
   * Takes the lowest unfinished segment of a walking run that nobody holds a live lease on, for `worker`; null
   * when there is none (all are done or held, or the run is not walking any more).
   */
  async claimSegment(runId: number, worker: string, leaseMs: number): Promise<Segment | null> {
    const [rows]: [Array<{ segment: number; start_after: string | null; end_at: string | null; cursor: string | null }>, number] =
      await this.dataSource.query(
        // The CTE is evaluated once (a subquery in FROM may be rescanned per row, taking every free segment).
        `WITH free AS MATERIALIZED (
           SELECT segment FROM verification_segments
           WHERE run_id = $1 AND NOT done AND (claimed_by IS NULL OR lease_until IS NULL OR lease_until < now())
             AND EXISTS (SELECT 1 FROM verification_runs WHERE id = $1 AND status = 'running' AND phase = 'scan')
           ORDER BY segment LIMIT 1 FOR UPDATE SKIP LOCKED)
         UPDATE verification_segments s
         SET claimed_by = $2, lease_until = now() + make_interval(secs => $3::int / 1000.0), walks = s.walks + 1
         FROM free WHERE s.run_id = $1 AND s.segment = free.segment
         RETURNING s.segment, s.start_after, s.end_at, s.cursor`,
        [runId, worker, leaseMs],
      );
    if (rows.length === 0) return null;
    const r = rows[0];
    return { runId, segment: r.segment, startAfter: r.start_after, endAt: r.end_at, cursor: r.cursor };
  }

  async renewSegment(seg: Segment, worker: string, leaseMs: number): Promise<boolean> {
    const [, count] = await this.dataSource.query(
      `UPDATE verification_segments SET lease_until = now() + make_interval(secs => $4::int / 1000.0)
       WHERE run_id = $1 AND segment = $2 AND claimed_by = $3 AND NOT done`,
      [seg.runId, seg.segment, worker, leaseMs],
    );
    return count === 1;
  }

  /** Gives an unfinished segment back (shutdown, an error): any worker may take it at once. */
  async releaseSegment(seg: Segment, worker: string): Promise<void> {
    await this.dataSource.query(
      `UPDATE verification_segments SET claimed_by = NULL, lease_until = NULL WHERE run_id = $1 AND segment = $2 AND claimed_by = $3 AND NOT done`,
      [seg.runId, seg.segment, worker],
    );
  }

  /**
   * One walked chunk of a segment, in one transaction: the segment's claim checked and its cursor moved to
   * `cursor` (null: that was its last chunk, the segment is done), the findings stored as suspects (due after the
   * run's recheck delay), the run's progress counters advanced. Any worker holding the segment may commit, while
   * the run is walking.
   */
  async commitChunk(
    run: VerifyRun,
    seg: Segment,
    worker: string,
    chunk: { cursor: string | null; compared: number; digestsDiffer: boolean; suspects: Finding[] },
  ): Promise<void> {
    await this.transaction(async (q) => {
      const compared = Math.trunc(chunk.compared);
      const [, held] = await q.query(
        `UPDATE verification_segments
         SET chunks_done = chunks_done + 1, records_compared = records_compared + $4, cursor = coalesce($5::char(24), cursor), done = $5::char(24) IS NULL,
             lease_until = CASE WHEN $5::char(24) IS NULL THEN NULL ELSE lease_until END
         WHERE run_id = $1 AND segment = $2 AND claimed_by = $3 AND NOT done`,
        [run.id, seg.segment, worker, compared, chunk.cursor],
      );
      if (held !== 1) throw new LostSegmentError(run.id, seg.segment);
      const inserted = await this.insertSuspects(q, run, chunk.suspects);
      const [, walking] = await q.query(
        `UPDATE verification_runs
         SET chunks_done = chunks_done + 1, chunks_differing = chunks_differing + $2, records_compared = records_compared + $3,
             pending_recheck = pending_recheck + $4, updated_at = now()
         WHERE id = $1 AND status = 'running' AND phase = 'scan'`,
        [run.id, chunk.digestsDiffer ? 1 : 0, compared, inserted],
      );
      if (walking !== 1) throw new LostClaimError(run.id);
    });
  }

  /** Records outside the segments (non-ObjectId `_id`s), compared one by one: their findings are suspects like any other. */
  async addSuspects(run: VerifyRun, worker: string, suspects: Finding[]): Promise<void> {
    if (suspects.length === 0) return;
    await this.transaction(async (q) => {
      const inserted = await this.insertSuspects(q, run, suspects);
      await this.touch(q, run.id, worker, { pendingRecheck: inserted });
    });
  }

  /** Stores findings as suspects due after the run's recheck delay; returns how many were new. */
  private async insertSuspects(q: Runner, run: VerifyRun, suspects: Finding[]): Promise<number> {
    if (suspects.length === 0) return 0;
    const rows: unknown[] = await q.query(
      `INSERT INTO verification_differences
         (run_id, conversation_id, kind, paths, reason, legacy_version, new_version, state, check_after)
       SELECT $1, u.id, u.kind, u.paths, u.reason, u.lv, u.nv, 'suspect', now() + make_interval(secs => $8::int / 1000.0)
       FROM unnest($2::text[], $3::text[], $4::jsonb[], $5::text[], $6::bigint[], $7::bigint[]) AS u(id, kind, paths, reason, lv, nv)
       ON CONFLICT (run_id, conversation_id) DO NOTHING
       RETURNING conversation_id`,
      [run.id, ...columns(suspects.map((finding) => ({ finding, kind: finding.kind }))), run.recheckDelayMs],
    );
    return rows.length;
  }

  /** Suspects whose recheck is due, oldest first, as they were found (or last rechecked). */
  async dueSuspects(runId: number, limit: number): Promise<Array<Finding & { rechecks: number }>> {
    const rows: Array<{
      conversation_id: string;
      kind: Finding['kind'];
      paths: string[];
      reason: string | null;
      legacy_version: string | null;
      new_version: string | null;
      rechecks: number;
    }> = await this.dataSource.query(
      `SELECT conversation_id, kind, paths, reason, legacy_version, new_version, rechecks FROM verification_differences
       WHERE run_id = $1 AND state = 'suspect' AND check_after <= now() ORDER BY check_after, conversation_id LIMIT $2`,
      [runId, limit],
    );
    return rows.map((r) => ({
      id: r.conversation_id,
      kind: r.kind,
      paths: r.paths,
      reason: r.reason,
      legacyVersion: r.legacy_version === null ? null : Number(r.legacy_version),
      newVersion: r.new_version === null ? null : Number(r.new_version),
      legacyUnreadable: r.paths.includes(UNREADABLE_PATH),
      rechecks: r.rechecks,
    }));
  }

  /** Milliseconds until the next suspect is due (0 if one is due now), or null when none is left. */
  async msUntilNextDue(runId: number): Promise<number | null> {
    const [row] = await this.dataSource.query(
      `SELECT greatest(0, extract(epoch FROM min(check_after) - now()) * 1000)::float8 AS ms, count(*)::int AS n
       FROM verification_differences WHERE run_id = $1 AND state = 'suspect'`,
      [runId],
    );
    return row.n === 0 ? null : Math.ceil(Number(row.ms));
  }

  /**
   * The outcome of a batch of rechecks: `resolved` suspects no longer differ and are dropped; `again`
   * are still moving and are looked at once more after the delay; `confirmed` are reported.
   */
  async commitRecheck(
    run: VerifyRun,
    worker: string,
    outcome: { resolved: string[]; again: Classified[]; confirmed: Classified[] },
  ): Promise<void> {
    await this.transaction(async (q) => {
      const deltas: CounterDeltas = { pendingRecheck: 0 };
      if (outcome.resolved.length > 0) {
        const [gone]: [unknown[], number] = await q.query(
          `DELETE FROM verification_differences WHERE run_id = $1 AND conversation_id = ANY($2::text[]) AND state = 'suspect' RETURNING conversation_id`,
          [run.id, outcome.resolved],
        );
        deltas.pendingRecheck! -= gone.length;
      }
      const updates = [
        ...outcome.again.map((c) => ({ ...c, state: 'suspect' })),
        ...outcome.confirmed.map((c) => ({ ...c, state: 'confirmed' })),
      ];
      if (updates.length > 0) {
        const [rows]: [Array<{ state: string; kind: ReportKind }>, number] = await q.query(
          `UPDATE verification_differences d
           SET kind = u.kind, paths = u.paths, reason = u.reason, legacy_version = u.lv, new_version = u.nv, state = u.state,
               rechecks = d.rechecks + 1,
               check_after = CASE WHEN u.state = 'suspect' THEN now() + make_interval(secs => $9::int / 1000.0) ELSE NULL END
           FROM unnest($2::text[], $3::text[], $4::jsonb[], $5::text[], $6::bigint[], $7::bigint[], $8::text[]) AS u(id, kind, paths, reason, lv, nv, state)
           WHERE d.run_id = $1 AND d.conversation_id = u.id AND d.state = 'suspect'
           RETURNING u.state, u.kind`,
          [run.id, ...columns(updates), updates.map((u) => u.state), run.recheckDelayMs],
        );
        for (const r of rows) {
          if (r.state !== 'confirmed') continue;
          deltas.pendingRecheck! -= 1;
          addKind(deltas, r.kind, 1);
        }
      }
      await this.touch(q, run.id, worker, deltas);
    });
  }

  /**
   * Confirmed differences not repaired yet that a copy could fix, in id order after `after`: not the
   * dead-lettered, nor documents whose `_id` is no ObjectId (no conversation id addresses them).
   */
  async unrepaired(runId: number, after: string, limit: number): Promise<Array<{ id: string; kind: ReportKind }>> {
    const rows: Array<{ conversation_id: string; kind: ReportKind }> = await this.dataSource.query(
      `SELECT conversation_id, kind FROM verification_differences
       WHERE run_id = $1 AND state = 'confirmed' AND NOT repaired AND kind <> 'unreadable' AND conversation_id > $2
         AND conversation_id ~ '^[0-9a-f]{24}$'
       ORDER BY conversation_id LIMIT $3`,
      [runId, after, limit],
    );
    return rows.map((r) => ({ id: r.conversation_id, kind: r.kind }));
  }

  /**
   * The outcome of a repair batch, as verified again after the copies: `repaired` are equal now; `still`
   * differ (their kind, paths and reason are updated to what was seen). `before` holds each id's kind
   * as it was counted, so the counters move with the change.
   */
  async commitRepair(
    run: VerifyRun,
    worker: string,
    before: Map<string, ReportKind>,
    outcome: { repaired: string[]; still: Classified[] },
  ): Promise<void> {
    await this.transaction(async (q) => {
      const deltas: CounterDeltas = { repaired: 0 };
      if (outcome.repaired.length > 0) {
        const [rows]: [Array<{ conversation_id: string }>, number] = await q.query(
          `UPDATE verification_differences SET repaired = true
           WHERE run_id = $1 AND conversation_id = ANY($2::text[]) AND state = 'confirmed' AND NOT repaired RETURNING conversation_id`,
          [run.id, outcome.repaired],
        );
        for (const r of rows) {
          addKind(deltas, before.get(r.conversation_id)!, -1);
          deltas.repaired! += 1;
        }
      }
      if (outcome.still.length > 0) {
        const [rows]: [Array<{ conversation_id: string; kind: ReportKind }>, number] = await q.query(
          `UPDATE verification_differences d SET kind = u.kind, paths = u.paths, reason = u.reason, legacy_version = u.lv, new_version = u.nv
           FROM unnest($2::text[], $3::text[], $4::jsonb[], $5::text[], $6::bigint[], $7::bigint[]) AS u(id, kind, paths, reason, lv, nv)
           WHERE d.run_id = $1 AND d.conversation_id = u.id AND d.state = 'confirmed' AND NOT d.repaired
           RETURNING d.conversation_id, d.kind`,
          [run.id, ...columns(outcome.still)],
        );
        for (const r of rows) {
          addKind(deltas, before.get(r.conversation_id)!, -1);
          addKind(deltas, r.kind, 1);
        }
      }
      await this.touch(q, run.id, worker, deltas);
    });
  }

  /** Completes the run with counters recomputed from its rows. */
  async finish(id: number, worker: string, note: string | null): Promise<void> {
    const [, count] = await this.dataSource.query(
      `UPDATE verification_runs r
       SET missing = c.missing, extra = c.extra, different = c.different, unreadable = c.unreadable, repaired = c.repaired,
           pending_recheck = c.pending, status = 'completed', phase = 'done', finished_at = now(),
           scan_finished_at = coalesce(r.scan_finished_at, now()), claimed_by = NULL, lease_until = NULL, updated_at = now(), error = $3
       FROM (SELECT count(*) FILTER (WHERE state = 'confirmed' AND NOT repaired AND kind = 'missing')::int AS missing,
                    count(*) FILTER (WHERE state = 'confirmed' AND NOT repaired AND kind = 'extra')::int AS extra,
                    count(*) FILTER (WHERE state = 'confirmed' AND NOT repaired AND kind = 'different')::int AS different,
                    count(*) FILTER (WHERE state = 'confirmed' AND NOT repaired AND kind = 'unreadable')::int AS unreadable,
                    count(*) FILTER (WHERE repaired)::int AS repaired,
                    count(*) FILTER (WHERE state = 'suspect')::int AS pending
             FROM verification_differences WHERE run_id = $1) c
       WHERE r.id = $1 AND r.claimed_by = $2 AND r.status = 'running'`,
      [id, worker, note],
    );
    if (count !== 1) throw new LostClaimError(id);
  }

  /** A page of the reported (confirmed) differences, in id order, with the total matching the filter. */
  async differences(runId: number, query: ReportQuery): Promise<{ total: number; items: StoredDifference[] }> {
    const where = [`run_id = $1`, `state = 'confirmed'`];
    const params: unknown[] = [runId];
    if (query.kind !== undefined) {
      params.push(query.kind);
      where.push(`kind = $${params.length}`);
    }
    if (query.repaired !== undefined) {
      params.push(query.repaired);
      where.push(`repaired = $${params.length}`);
    }
    const filter = where.join(' AND ');
    const [{ total }] = await this.dataSource.query(`SELECT count(*)::int AS total FROM verification_differences WHERE ${filter}`, params);
    const rows: Array<{
      conversation_id: string;
      kind: ReportKind;
      paths: string[];
      reason: string | null;
      legacy_version: string | null;
      new_version: string | null;
      repaired: boolean;
    }> = await this.dataSource.query(
      `SELECT conversation_id, kind, paths, reason, legacy_version, new_version, repaired FROM verification_differences
       WHERE ${filter} ORDER BY conversation_id OFFSET $${params.length + 1} LIMIT $${params.length + 2}`,
      [...params, query.offset, query.limit],
    );
    return {
      total,
      items: rows.map((r) => ({
        conversationId: r.conversation_id,
        kind: r.kind,
        paths: r.paths,
        reason: r.reason,
        legacyVersion: r.legacy_version === null ? null : Number(r.legacy_version),
        newVersion: r.new_version === null ? null : Number(r.new_version),
        repaired: r.repaired,
      })),
    };
  }

  /** Which of `ids` have an open dead letter (an unreadable document the sync already recorded). */
  async openDeadLetters(ids: readonly string[]): Promise<Set<string>> {
    if (ids.length === 0) return new Set();
    const rows: Array<{ conversation_id: string }> = await this.dataSource.query(
      `SELECT conversation_id FROM dead_letters WHERE resolved_at IS NULL AND conversation_id = ANY($1::text[])`,
      [ids],
    );
    return new Set(rows.map((r) => r.conversation_id));
  }

  private async getWith(q: Runner | DataSource, id: number): Promise<VerifyRun | null> {
    const rows: RunRow[] = await q.query(`${RUN_SELECT} WHERE id = $1`, [id]);
    return rows.length > 0 ? fromRow(rows[0]) : null;
  }

  /**
   * The claim check every worker write goes through: applies counter deltas (and `extra` SET clauses,
   * whose parameters start at $3) only while `worker` holds the run, and renews nothing else.
   */
  private async touch(
    q: Runner,
    id: number,
    worker: string,
    deltas: CounterDeltas,
    extra = '',
    extraParams: unknown[] = [],
  ): Promise<void> {
    const sets = ['updated_at = now()'];
    const names: Array<[keyof CounterDeltas, string]> = [
      ['missing', 'missing'],
      ['extra', 'extra'],
      ['different', 'different'],
      ['unreadable', 'unreadable'],
      ['pendingRecheck', 'pending_recheck'],
      ['repaired', 'repaired'],
    ];
    for (const [key, column] of names) {
      const d = deltas[key];
      if (d) sets.push(`${column} = ${column} + ${Math.trunc(d)}`);
    }
    if (extra) sets.push(extra);
    const [, count] = await q.query(
      `UPDATE verification_runs SET ${sets.join(', ')} WHERE id = $1 AND claimed_by = $2 AND status = 'running'`,
      [id, worker, ...extraParams],
    );
    if (count !== 1) throw new LostClaimError(id);
  }

  private async transaction<T>(fn: (q: QueryRunner) => Promise<T>): Promise<T> {
    // TypeORM's transaction: one connection, committed when fn resolves, rolled back when it throws.
    return this.dataSource.transaction((em) => fn(em.queryRunner!));
  }
}
