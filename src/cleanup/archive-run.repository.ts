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

  /** Starts (or, after a crash, restarts) a run: every earlier result of it is dropped. */
  async begin(id: number): Promise<void> {
    await this.dataSource.query(
      `UPDATE cleanup_archives SET state = 'archiving', started_at = now(), heartbeat_at = now(), attempts = attempts + 1, manifest = NULL, problems = NULL, progress = NULL, error = NULL WHERE id = $1`,
      [id],
    );
  }

  async archived(id: number, manifest: Manifest): Promise<void> {
    await this.dataSource.query(`UPDATE cleanup_archives SET state = 'verifying', manifest = $2, heartbeat_at = now() WHERE id = $1`, [
      id,
      JSON.stringify(manifest),
    ]);
  }

  async progress(id: number, progress: ArchiveProgress): Promise<void> {
    await this.dataSource.query(`UPDATE cleanup_archives SET progress = $2, heartbeat_at = now() WHERE id = $1`, [
      id,
      JSON.stringify(progress),
    ]);
  }

  async finish(id: number, state: 'verified' | 'failed', problems: unknown[] | null, error: string | null): Promise<ArchiveRun> {
    const [[row]] = await this.dataSource.query(
      `UPDATE cleanup_archives SET state = $2, problems = $3, error = $4, finished_at = now(), heartbeat_at = now() WHERE id = $1 RETURNING *`,
      [id, state, problems ? JSON.stringify(problems) : null, error?.slice(0, 1000) ?? null],
    );
    return toRun(row);
  }
}
