/**
 * Backfill runs (`sync_runs`) and their ranges as a whole: creating a run, adding ranges as the split
 * finds them, completing the run, and the progress figures the status shows. At most one run is
 * `running` (a partial unique index), so a second start resumes the first instead of racing it.
 */
import { DataSource } from 'typeorm';
import type { RangeKind } from './range-state.tracker';

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

function toRun(r: any): RunRow {
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
  async startOrGetRunning(batchSize: number): Promise<{ run: RunRow; created: boolean }> {
    const inserted: any[] = await this.dataSource.query(
      `INSERT INTO sync_runs (status, batch_size) VALUES ('running', $1)
       ON CONFLICT ((true)) WHERE status = 'running' DO NOTHING RETURNING *`,
      [batchSize],
    );
    if (inserted.length === 1) return { run: toRun(inserted[0]), created: true };
    const running = await this.running();
    if (!running) throw new Error('a backfill run was running a moment ago and is not now; try again');
    return { run: running, created: false };
  }

  async running(): Promise<RunRow | null> {
    const rows: any[] = await this.dataSource.query(`SELECT * FROM sync_runs WHERE status = 'running'`);
    return rows.length > 0 ? toRun(rows[0]) : null;
  }

  async latest(): Promise<RunRow | null> {
    const rows: any[] = await this.dataSource.query(`SELECT * FROM sync_runs ORDER BY id DESC LIMIT 1`);
    return rows.length > 0 ? toRun(rows[0]) : null;
  }

  /** False when the range number is taken (another process is splitting this run). */
  async addRange(runId: number, rangeNo: number, kind: RangeKind, startAfter: string | null, endAt: string | null, expected: number): Promise<boolean> {
    const rows: unknown[] = await this.dataSource.query(
      `INSERT INTO sync_ranges (run_id, range_no, kind, start_after, end_at, docs_expected) VALUES ($1, $2, $3, $4, $5, $6)
       ON CONFLICT (run_id, range_no) DO NOTHING RETURNING range_no`,
      [runId, rangeNo, kind, startAfter, endAt, expected],
    );
    return rows.length === 1;
  }

  /** The last ObjectId range the split wrote: where a resumed split continues. */
  async lastIdsRange(runId: number): Promise<{ rangeNo: number; endAt: string } | null> {
    const rows: any[] = await this.dataSource.query(
      `SELECT range_no, end_at FROM sync_ranges WHERE run_id = $1 AND kind = 'ids' ORDER BY range_no DESC LIMIT 1`,
      [runId],
    );
    return rows.length > 0 ? { rangeNo: rows[0].range_no, endAt: rows[0].end_at } : null;
  }

  async completeSplit(runId: number, maxId: string | null): Promise<void> {
    await this.dataSource.query(
      `UPDATE sync_runs SET split_complete = true, max_id = $2,
              total_estimate = (SELECT coalesce(sum(docs_expected), 0) FROM sync_ranges WHERE run_id = $1)
        WHERE id = $1`,
      [runId, maxId],
    );
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

  async undoneRanges(runId: number): Promise<number[]> {
    const rows: any[] = await this.dataSource.query(
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
