/**
 * Backfill runs (`sync_runs`) and their ranges as a whole: creating a run, committing its split (every
 * range at once, with the lane layout), completing the run, and the progress figures the status shows.
 * At most one run is `running` (a partial unique index), so a second start resumes the first instead of
 * racing it. The lane count of the running run is a small named value in `sync_state`
 * (`backfill_lanes`); a run without one has one lane per range.
 */
import { DomainError } from '../../common/errors';
import { DataSource, EntityManager } from 'typeorm';
import type { PlannedRange } from './id-histogram';
import { allLanes, laneOf } from './lanes';

export interface RunRow {
  id: number;
  status: 'running' | 'completed' | 'failed' | 'cancelled';
  batchSize: number;
  splitComplete: boolean;
  maxId: string | null;
  totalEstimate: number;
  startedAt: Date;
  finishedAt: Date | null;
}

export interface RunProgress {
  ranges: { total: number; done: number; running: number; pending: number };
  expected: number;
  read: number;
  written: number;
  skipped: number;
  dead: number;
  /** Documents still to read: for each range not done, what the split counted minus what it has read. */
  remaining: number;
  claims: number;
}

/** One range of a lane, as the lane's copier walks it. */
export interface LaneRange {
  rangeNo: number;
  status: 'pending' | 'running' | 'done';
  endAt: string;
}

export interface Lane {
  ranges: LaneRange[];
  /** Inclusive upper bound of the lane: its cursor reads no further. */
  endAt: string;
}

export interface SplitCommit {
  ranges: PlannedRange[];
  /** Number of the first range in `ranges` (after ranges an earlier split already wrote). */
  firstRangeNo: number;
  maxId: string | null;
  /** No document has a non-ObjectId `_id`: range 0 is written as done, by `by`. */
  noOtherIds: boolean;
  lanes: number;
  by: string;
  /** More statements for the same transaction (the catch-up boundary). */
  alsoInTransaction?: (q: EntityManager) => Promise<void>;
}

const LANES_KEY = 'backfill_lanes';

/** A `sync_runs` row as the driver returns it (bigints are strings). */
interface SyncRunRecord {
  id: string;
  status: RunRow['status'];
  batch_size: number;
  split_complete: boolean;
  max_id: string | null;
  total_estimate: string;
  started_at: Date;
  finished_at: Date | null;
}

function toRun(r: SyncRunRecord): RunRow {
  return {
    id: Number(r.id),
    status: r.status,
    batchSize: r.batch_size,
    splitComplete: r.split_complete,
    maxId: r.max_id,
    totalEstimate: Number(r.total_estimate),
    startedAt: r.started_at,
    finishedAt: r.finished_at,
  };
}

export class RunRepository {
  constructor(private readonly dataSource: DataSource) {}

  /** The running run, or a new one; `created` tells which. */
  /**
   * The running run, or a new one. The run that kept this call from inserting may be over by the time it is
   * looked for (a backfill of an empty store ends at once): then the insert is tried again, never a 500.
   */
  async startOrGetRunning(batchSize: number): Promise<{ run: RunRow; created: boolean }> {
    for (let attempt = 0; attempt < 10; attempt++) {
      const inserted: SyncRunRecord[] = await this.dataSource.query(
        `INSERT INTO sync_runs (status, batch_size) VALUES ('running', $1)
         ON CONFLICT ((true)) WHERE status = 'running' DO NOTHING RETURNING *`,
        [batchSize],
      );
      if (inserted.length === 1) return { run: toRun(inserted[0]), created: true };
      const running = await this.running();
      if (running) return { run: running, created: false };
    }
    throw new DomainError('BACKFILL_CHANGING', 409, 'Backfill runs are starting and finishing too fast to tell which one runs; try again');
  }

  async running(): Promise<RunRow | null> {
    const rows: SyncRunRecord[] = await this.dataSource.query(`SELECT * FROM sync_runs WHERE status = 'running'`);
    return rows.length > 0 ? toRun(rows[0]) : null;
  }

  async latest(): Promise<RunRow | null> {
    const rows: SyncRunRecord[] = await this.dataSource.query(`SELECT * FROM sync_runs ORDER BY id DESC LIMIT 1`);
    return rows.length > 0 ? toRun(rows[0]) : null;
  }

  async get(runId: number): Promise<RunRow | null> {
    const rows: SyncRunRecord[] = await this.dataSource.query(`SELECT * FROM sync_runs WHERE id = $1`, [runId]);
    return rows.length > 0 ? toRun(rows[0]) : null;
  }

  /** The collection's size as the split starts (before its exact count), for the status. */
  async setEstimate(runId: number, estimate: number): Promise<void> {
    await this.dataSource.query(`UPDATE sync_runs SET total_estimate = $2 WHERE id = $1 AND NOT split_complete`, [runId, estimate]);
  }

  /**
   * Writes the whole split in one transaction: range 0, every ObjectId range, the lane count, the run's
   * `max_id`. False (and nothing written) when the run is no longer running or another split won.
   */
  async commitSplit(runId: number, c: SplitCommit): Promise<boolean> {
    return this.dataSource.transaction(async (q) => {
      const [run] = await q.query(`SELECT status, split_complete FROM sync_runs WHERE id = $1 FOR UPDATE`, [runId]);
      if (!run || run.status !== 'running' || run.split_complete) return false;
      await q.query(
        `INSERT INTO sync_ranges (run_id, range_no, kind, docs_expected, status, claimed_by, claims, finished_at)
         VALUES ($1, 0, 'other_ids', 0, CASE WHEN $2 THEN 'done' ELSE 'pending' END, CASE WHEN $2 THEN $3 END,
                 CASE WHEN $2 THEN 1 ELSE 0 END, CASE WHEN $2 THEN now() END)
         ON CONFLICT (run_id, range_no) DO NOTHING`,
        [runId, c.noOtherIds, c.by],
      );
      if (c.ranges.length > 0) {
        await q.query(
          `INSERT INTO sync_ranges (run_id, range_no, kind, start_after, end_at, docs_expected)
           SELECT $1, $2 + ord - 1, 'ids', start_after, end_at, docs
             FROM unnest($3::char(24)[], $4::char(24)[], $5::bigint[]) WITH ORDINALITY AS t(start_after, end_at, docs, ord)`,
          [runId, c.firstRangeNo, c.ranges.map((r) => r.startAfter), c.ranges.map((r) => r.endAt), c.ranges.map((r) => r.docs)],
        );
      }
      await q.query(
        `UPDATE sync_runs SET split_complete = true, max_id = $2,
                total_estimate = (SELECT coalesce(sum(docs_expected), 0) FROM sync_ranges WHERE run_id = $1)
          WHERE id = $1`,
        [runId, c.maxId],
      );
      await q.query(
        `INSERT INTO sync_state (key, value, updated_at) VALUES ($1, jsonb_build_object('runId', $2::bigint, 'lanes', $3::int), now())
         ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, updated_at = now()`,
        [LANES_KEY, runId, c.lanes],
      );
      await c.alsoInTransaction?.(q);
      return true;
    });
  }

  /** Ranges 1..total of the run and its lane count (one lane per range when none was stored). */
  async layout(runId: number): Promise<{ total: number; lanes: number }> {
    const [r] = await this.dataSource.query(
      `SELECT (SELECT count(*)::int FROM sync_ranges WHERE run_id = $1 AND kind = 'ids') AS total,
              (SELECT (value->>'lanes')::int FROM sync_state WHERE key = $2 AND (value->>'runId')::bigint = $1) AS lanes`,
      [runId, LANES_KEY],
    );
    return { total: r.total, lanes: r.lanes ?? r.total };
  }

  /** The lane holding `rangeNo`, with its ranges in order; null when there is none. */
  async lane(runId: number, rangeNo: number): Promise<Lane | null> {
    const { total, lanes } = await this.layout(runId);
    const bounds = laneOf(total, lanes, rangeNo);
    if (!bounds) return null;
    const rows: Array<{ range_no: number; status: LaneRange['status']; end_at: string }> = await this.dataSource.query(
      `SELECT range_no, status, end_at FROM sync_ranges
        WHERE run_id = $1 AND kind = 'ids' AND range_no BETWEEN $2 AND $3 ORDER BY range_no`,
      [runId, bounds.first, bounds.last],
    );
    if (rows.length === 0) return null;
    return {
      ranges: rows.map((r) => ({ rangeNo: r.range_no, status: r.status, endAt: r.end_at })),
      endAt: rows[rows.length - 1].end_at,
    };
  }

  /**
   * What needs a job: the first range of every lane with a range not done (a lane job walks its lane
   * from there), and range 0 when it is not done.
   */
  async undoneJobs(runId: number): Promise<number[]> {
    const [{ total, lanes }, undone] = await Promise.all([this.layout(runId), this.undoneRanges(runId)]);
    const open = new Set(undone);
    const jobs = open.has(0) ? [0] : [];
    for (const l of allLanes(total, lanes)) {
      for (let r = l.first; r <= l.last; r++) {
        if (open.has(r)) {
          jobs.push(l.first);
          break;
        }
      }
    }
    return jobs;
  }

  /** The last ObjectId range of the run: where a split an older version left half-done continues. */
  async lastIdsRange(runId: number): Promise<{ rangeNo: number; endAt: string } | null> {
    const rows: Array<{ range_no: number; end_at: string }> = await this.dataSource.query(
      `SELECT range_no, end_at FROM sync_ranges WHERE run_id = $1 AND kind = 'ids' ORDER BY range_no DESC LIMIT 1`,
      [runId],
    );
    return rows.length > 0 ? { rangeNo: rows[0].range_no, endAt: rows[0].end_at } : null;
  }

  /**
   * Completes the run when its split is complete and every range is done. Called after each range
   * finishes (after its own commit), so the last range to finish always sees all of them done.
   */
  async completeIfDone(runId: number): Promise<boolean> {
    const [, count] = await this.dataSource.query(
      `UPDATE sync_runs SET status = 'completed', finished_at = now()
        WHERE id = $1 AND status = 'running' AND split_complete
          AND NOT EXISTS (SELECT 1 FROM sync_ranges WHERE run_id = $1 AND status <> 'done')`,
      [runId],
    );
    return count === 1;
  }

  /**
   * Of `ids`, those no backfill has copied yet. An id is copied once a completed run's split covered it (at or
   * below its `max_id`), or once the latest run's range holding it is done or has its checkpoint at or past it.
   * Nothing is copied before the latest run's split is committed, nor (while range 0 is not done) can any id be
   * told from a non-ObjectId `_id` of range 0, which has no order: those count as not copied. Ids above the
   * split's `max_id` are catch-up's (its insert watermark), not the backfill's.
   */
  async notCopied(ids: readonly string[]): Promise<string[]> {
    if (ids.length === 0) return [];
    const rows: Array<{ id: string }> = await this.dataSource.query(
      `WITH latest AS (SELECT id, split_complete FROM sync_runs ORDER BY id DESC LIMIT 1),
            covered AS (SELECT max(max_id) COLLATE "C" AS max_id FROM sync_runs WHERE status = 'completed')
       SELECT t.id FROM unnest($1::text[]) AS t(id)
        WHERE NOT coalesce(t.id COLLATE "C" <= (SELECT max_id FROM covered), false)
          AND (NOT EXISTS (SELECT 1 FROM latest WHERE split_complete)
               OR EXISTS (SELECT 1 FROM sync_ranges r JOIN latest l ON r.run_id = l.id WHERE r.kind = 'other_ids' AND r.status <> 'done')
               OR EXISTS (SELECT 1 FROM sync_ranges r JOIN latest l ON r.run_id = l.id
                           WHERE r.kind = 'ids' AND r.status <> 'done'
                             AND (r.start_after IS NULL OR t.id COLLATE "C" > r.start_after::text) AND t.id COLLATE "C" <= r.end_at::text
                             AND (r.checkpoint IS NULL OR t.id COLLATE "C" > r.checkpoint::text)))`,
      [ids],
    );
    return rows.map((r) => r.id);
  }

  async undoneRanges(runId: number): Promise<number[]> {
    const rows: Array<{ range_no: number }> = await this.dataSource.query(
      `SELECT range_no FROM sync_ranges WHERE run_id = $1 AND status <> 'done' ORDER BY range_no`,
      [runId],
    );
    return rows.map((r) => r.range_no);
  }

  async progress(runId: number): Promise<RunProgress> {
    const [r] = await this.dataSource.query(
      `SELECT count(*)::int AS total,
              count(*) FILTER (WHERE status = 'done')::int AS done,
              count(*) FILTER (WHERE status = 'running')::int AS running,
              count(*) FILTER (WHERE status = 'pending')::int AS pending,
              coalesce(sum(docs_expected), 0)::bigint AS expected,
              coalesce(sum(docs_read), 0)::bigint AS read,
              coalesce(sum(docs_written), 0)::bigint AS written,
              coalesce(sum(docs_skipped), 0)::bigint AS skipped,
              coalesce(sum(docs_dead), 0)::bigint AS dead,
              coalesce(sum(greatest(docs_expected - docs_read, 0)) FILTER (WHERE status <> 'done'), 0)::bigint AS remaining,
              coalesce(sum(claims), 0)::bigint AS claims
         FROM sync_ranges WHERE run_id = $1`,
      [runId],
    );
    return {
      ranges: { total: r.total, done: r.done, running: r.running, pending: r.pending },
      expected: Number(r.expected),
      read: Number(r.read),
      written: Number(r.written),
      skipped: Number(r.skipped),
      dead: Number(r.dead),
      remaining: Number(r.remaining),
      claims: Number(r.claims),
    };
  }

  /** Documents per second over the last `windowMs` (or since the run started, if later). */
  async rate(run: RunRow, windowMs: number): Promise<number> {
    const [r] = await this.dataSource.query(
      `SELECT coalesce(sum(docs), 0)::bigint AS docs,
              extract(epoch FROM (coalesce($3::timestamptz, clock_timestamp())
                                  - greatest($4::timestamptz, coalesce($3::timestamptz, clock_timestamp()) - $2 * interval '1 millisecond'))) AS span
         FROM sync_progress
        WHERE run_id = $1 AND at > coalesce($3::timestamptz, clock_timestamp()) - $2 * interval '1 millisecond'`,
      [run.id, windowMs, run.finishedAt, run.startedAt],
    );
    const span = Number(r.span);
    return span > 0 ? Number(r.docs) / span : 0;
  }
}
