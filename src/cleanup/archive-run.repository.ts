/** The `cleanup_archives` rows: one per archive run, from queued to verified or failed. */
import { DataSource } from 'typeorm';
import type { Manifest } from './archive-manifest';
import type { ArchiveProgress } from './archive-progress';

export type ArchiveRunState = 'queued' | 'archiving' | 'verifying' | 'verified' | 'failed';

export interface ArchiveRun {
  id: number;
  state: ArchiveRunState;
  verified: boolean;
  requestedAt: string;
  requestedBy: string;
  startedAt: string | null;
  finishedAt: string | null;
  target: string | null;
  manifest: Manifest | null;
  problems: Array<{ code: string; message?: string }> | null;
  progress: ArchiveProgress | null;
  error: string | null;
  attempts: number;
  /** The last sign of life of the worker running it (started, progress, archived, finished). */
  heartbeatAt: string;
}

const iso = (d: Date | null) => d?.toISOString() ?? null;

/** The states a run can still leave (SQL). */
const UNFINISHED = `('queued', 'archiving', 'verifying')`;

/** A `cleanup_archives` row as the driver returns it (`id` is a bigint: a string; jsonb arrives parsed). */
interface ArchiveRunRow {
  id: string;
  state: ArchiveRunState;
  requested_at: Date;
  requested_by: string;
  started_at: Date | null;
  finished_at: Date | null;
  target: string | null;
  manifest: Manifest | null;
  problems: ArchiveRun['problems'];
  progress: ArchiveProgress | null;
  error: string | null;
  attempts: number;
  heartbeat_at: Date;
}

const toRun = (r: ArchiveRunRow): ArchiveRun => ({
  id: Number(r.id),
  state: r.state,
  verified: r.state === 'verified',
  requestedAt: r.requested_at.toISOString(),
  requestedBy: r.requested_by,
  startedAt: iso(r.started_at),
  finishedAt: iso(r.finished_at),
  target: r.target,
  manifest: r.manifest,
  problems: r.problems,
  progress: r.progress,
  error: r.error,
  attempts: r.attempts,
  heartbeatAt: r.heartbeat_at.toISOString(),
});

export class ArchiveRunRepository {
  constructor(private readonly dataSource: DataSource) {}

  /** Queues a run; null when one is already queued or running (a unique index admits one at a time). */
  async create(requestedBy: string, target: string | null): Promise<ArchiveRun | null> {
    const rows = await this.dataSource.query(
      `INSERT INTO cleanup_archives (requested_by, target) VALUES ($1, $2) ON CONFLICT DO NOTHING RETURNING *`,
      [requestedBy, target],
    );
    return rows.length > 0 ? toRun(rows[0]) : null;
  }

  async get(id: number): Promise<ArchiveRun | null> {
    const rows = await this.dataSource.query('SELECT * FROM cleanup_archives WHERE id = $1', [id]);
    return rows.length > 0 ? toRun(rows[0]) : null;
  }

  async latest(): Promise<ArchiveRun | null> {
    const rows = await this.dataSource.query('SELECT * FROM cleanup_archives ORDER BY id DESC LIMIT 1');
    return rows.length > 0 ? toRun(rows[0]) : null;
  }

  /** A run still queued or running (one at a time). */
  async active(): Promise<ArchiveRun | null> {
    const rows = await this.dataSource.query(
      `SELECT * FROM cleanup_archives WHERE state IN ('queued', 'archiving', 'verifying') ORDER BY id DESC LIMIT 1`,
    );
    return rows.length > 0 ? toRun(rows[0]) : null;
  }

  /**
   * Starts (or, after a crash, restarts) a run: every earlier result of it is dropped. Returns this start's claim
   * (the run's `attempts`), which every later write of it presents: a worker whose job was handed to another one
   * (its lock lapsed while it stalled) finds its claim outdated and writes nothing more. Null when the run is
   * finished already.
   */
  async begin(id: number): Promise<number | null> {
    const [rows]: [Array<{ attempts: number }>, number] = await this.dataSource.query(
      `UPDATE cleanup_archives SET state = 'archiving', started_at = now(), heartbeat_at = now(), attempts = attempts + 1, manifest = NULL, problems = NULL, progress = NULL, error = NULL
       WHERE id = $1 AND state IN ${UNFINISHED} RETURNING attempts`,
      [id],
    );
    return rows.length > 0 ? rows[0].attempts : null;
  }

  /** False when `claim` is no longer the run's latest, or the run is finished: the caller must stop. */
  async archived(id: number, claim: number, manifest: Manifest): Promise<boolean> {
    const [, count]: [unknown, number] = await this.dataSource.query(
      `UPDATE cleanup_archives SET state = 'verifying', manifest = $3, heartbeat_at = now() WHERE id = $1 AND attempts = $2 AND state = 'archiving'`,
      [id, claim, JSON.stringify(manifest)],
    );
    return count > 0;
  }

  async progress(id: number, claim: number, progress: ArchiveProgress): Promise<void> {
    await this.dataSource.query(
      `UPDATE cleanup_archives SET progress = $3, heartbeat_at = now() WHERE id = $1 AND attempts = $2 AND state IN ${UNFINISHED}`,
      [id, claim, JSON.stringify(progress)],
    );
  }

  /** The run as `claim` finished it; or, if another start has claimed it since or it is finished, as it is (null). */
  async finish(
    id: number,
    claim: number,
    state: 'verified' | 'failed',
    problems: unknown[] | null,
    error: string | null,
  ): Promise<ArchiveRun | null> {
    const [rows]: [ArchiveRunRow[], number] = await this.dataSource.query(
      `UPDATE cleanup_archives SET state = $3, problems = $4, error = $5, finished_at = now(), heartbeat_at = now()
       WHERE id = $1 AND attempts = $2 AND state IN ${UNFINISHED} RETURNING *`,
      [id, claim, state, problems ? JSON.stringify(problems) : null, error?.slice(0, 1000) ?? null],
    );
    return rows.length > 0 ? toRun(rows[0]) : null;
  }
}
