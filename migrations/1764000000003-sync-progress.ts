import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * What the backfill, catch-up and dead-letter re-drive need on top of the sync schema:
 * - sync_runs: at most one running run (a double click resumes it rather than starting a second one);
 *   `split_complete` and the ranges written so far make the split itself resumable; `max_id` is the
 *   highest `_id` the run covers (catch-up copies everything inserted after it).
 * - sync_ranges: `kind` ('ids' for an ObjectId interval, 'other_ids' for the few documents whose `_id` is
 *   not an ObjectId and so sorts outside every interval); `docs_expected` (exact count at split time) for ETA.
 * - sync_progress: one row per committed batch, written in the batch's transaction, so the rate over a
 *   recent window is exact whichever process asks.
 * - dead_letters: how a record was resolved, and how often it was re-driven.
 */
export class SyncProgress1764000000003 implements MigrationInterface {
  name = 'SyncProgress1764000000003';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE sync_runs ADD COLUMN split_complete boolean NOT NULL DEFAULT false, ADD COLUMN max_id char(24) NULL`);
    await q.query(`CREATE UNIQUE INDEX sync_runs_one_running_idx ON sync_runs ((true)) WHERE status = 'running'`);
    await q.query(`
      ALTER TABLE sync_ranges
        ADD COLUMN kind text NOT NULL DEFAULT 'ids' CHECK (kind IN ('ids', 'other_ids')),
        ADD COLUMN docs_expected bigint NOT NULL DEFAULT 0,
        ADD COLUMN finished_at timestamptz NULL`);
    await q.query(`
      CREATE TABLE sync_progress (
        run_id  bigint      NOT NULL REFERENCES sync_runs (id) ON DELETE CASCADE,
        at      timestamptz NOT NULL DEFAULT clock_timestamp(),
        docs    integer     NOT NULL
      )`);
    await q.query(`CREATE INDEX sync_progress_run_at_idx ON sync_progress (run_id, at)`);
    await q.query(`
      ALTER TABLE dead_letters
        ADD COLUMN resolution text NULL CHECK (resolution IN ('written', 'already_current', 'gone')),
        ADD COLUMN redrives integer NOT NULL DEFAULT 0,
        ADD COLUMN last_redrive_at timestamptz NULL`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE dead_letters DROP COLUMN last_redrive_at, DROP COLUMN redrives, DROP COLUMN resolution`);
    await q.query('DROP TABLE sync_progress');
    await q.query(`ALTER TABLE sync_ranges DROP COLUMN finished_at, DROP COLUMN docs_expected, DROP COLUMN kind`);
    await q.query('DROP INDEX sync_runs_one_running_idx');
    await q.query(`ALTER TABLE sync_runs DROP COLUMN max_id, DROP COLUMN split_complete`);
  }
}
