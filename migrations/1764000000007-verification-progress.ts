import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * What a verification run needs on top of the sync schema:
 * - verification_runs: a `queued` status (created by the API, not yet claimed by a worker; `started_at`
 *   stays null until a worker takes it up, `created_at` is when it was asked for); the run's
 *   settings; `scan_cursor` (the last `_id` whose chunk is committed, so a run resumes on another
 *   worker) and `phase` (scan, recheck, repair, done); a lease (`claimed_by`, `lease_until`) so two
 *   workers never drive one run; `legacy_estimate`, the records the walk is expected to cover (for
 *   progress and ETA); counters of suspects awaiting their recheck and of unreadable
 *   documents that are already dead-lettered; at most one queued or running run at a time.
 * - verification_differences: `state` (a `suspect` is waiting for its recheck and is not reported;
 *   `confirmed` still differed when checked again), when it is due, how often it was rechecked, a
 *   human-readable `reason`, and the kind `unreadable` (a legacy document that cannot be read and
 *   is already in dead_letters, so tracked there rather than counted as a difference).
 */
export class VerificationProgress1764000000007 implements MigrationInterface {
  name = 'VerificationProgress1764000000007';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      ALTER TABLE verification_runs
        DROP CONSTRAINT verification_runs_status_check,
        ADD CONSTRAINT verification_runs_status_check CHECK (status IN ('queued', 'running', 'completed', 'failed')),
        ALTER COLUMN started_at DROP NOT NULL,
        ALTER COLUMN started_at DROP DEFAULT,
        ADD COLUMN phase text NOT NULL DEFAULT 'scan' CHECK (phase IN ('scan', 'recheck', 'repair', 'done')),
        ADD COLUMN scan_cursor char(24) NULL,
        ADD COLUMN recheck_delay_ms integer NOT NULL DEFAULT 5000,
        ADD COLUMN pause_ms integer NOT NULL DEFAULT 0,
        ADD COLUMN legacy_estimate bigint NOT NULL DEFAULT 0,
        ADD COLUMN pending_recheck integer NOT NULL DEFAULT 0,
        ADD COLUMN unreadable integer NOT NULL DEFAULT 0,
        ADD COLUMN requested_by text NULL,
        ADD COLUMN reason text NULL,
        ADD COLUMN claimed_by text NULL,
        ADD COLUMN lease_until timestamptz NULL,
        ADD COLUMN attempts integer NOT NULL DEFAULT 0,
        ADD COLUMN created_at timestamptz NOT NULL DEFAULT now(),
        ADD COLUMN scan_finished_at timestamptz NULL,
        ADD COLUMN updated_at timestamptz NOT NULL DEFAULT now()`);
    await q.query(`UPDATE verification_runs SET created_at = started_at, updated_at = coalesce(finished_at, started_at)`);
    // Runs left `running` by the older schema have no worker that could finish them (and would break the index).
    await q.query(
      `UPDATE verification_runs SET status = 'failed', finished_at = now(), error = 'unfinished when the schema changed' WHERE status = 'running'`,
    );
    await q.query(
      `CREATE UNIQUE INDEX verification_runs_one_active_idx ON verification_runs ((true)) WHERE status IN ('queued', 'running')`,
    );
    await q.query(`CREATE INDEX verification_runs_created_idx ON verification_runs (created_at DESC, id DESC)`);
    await q.query(`
      ALTER TABLE verification_differences
        DROP CONSTRAINT verification_differences_kind_check,
        ADD CONSTRAINT verification_differences_kind_check CHECK (kind IN ('missing', 'extra', 'different', 'unreadable')),
        ADD COLUMN state text NOT NULL DEFAULT 'confirmed' CHECK (state IN ('suspect', 'confirmed')),
        ADD COLUMN reason text NULL,
        ADD COLUMN rechecks smallint NOT NULL DEFAULT 0,
        ADD COLUMN check_after timestamptz NULL,
        ADD COLUMN found_at timestamptz NOT NULL DEFAULT now()`);
    await q.query(
      `CREATE INDEX verification_differences_due_idx ON verification_differences (run_id, check_after) WHERE state = 'suspect'`,
    );
    await q.query(
      `CREATE INDEX verification_differences_kind_idx ON verification_differences (run_id, kind, conversation_id) WHERE state = 'confirmed'`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP INDEX verification_differences_kind_idx');
    await q.query('DROP INDEX verification_differences_due_idx');
    // The older schema knows neither suspects nor the `unreadable` kind: those rows cannot be kept.
    await q.query(`DELETE FROM verification_differences WHERE state = 'suspect' OR kind = 'unreadable'`);
    await q.query(`
      ALTER TABLE verification_differences
        DROP COLUMN found_at, DROP COLUMN check_after, DROP COLUMN rechecks, DROP COLUMN reason, DROP COLUMN state,
        DROP CONSTRAINT verification_differences_kind_check,
        ADD CONSTRAINT verification_differences_kind_check CHECK (kind IN ('missing', 'extra', 'different'))`);
    await q.query('DROP INDEX verification_runs_created_idx');
    await q.query('DROP INDEX verification_runs_one_active_idx');
    await q.query(
      `UPDATE verification_runs SET status = 'failed', error = coalesce(error, 'queued when the schema was reverted') WHERE status = 'queued'`,
    );
    await q.query(`UPDATE verification_runs SET started_at = created_at WHERE started_at IS NULL`);
    await q.query(`
      ALTER TABLE verification_runs
        DROP COLUMN updated_at, DROP COLUMN scan_finished_at, DROP COLUMN created_at, DROP COLUMN attempts,
        DROP COLUMN lease_until, DROP COLUMN claimed_by, DROP COLUMN reason, DROP COLUMN requested_by,
        DROP COLUMN unreadable, DROP COLUMN pending_recheck, DROP COLUMN legacy_estimate, DROP COLUMN pause_ms,
        DROP COLUMN recheck_delay_ms, DROP COLUMN scan_cursor, DROP COLUMN phase,
        ALTER COLUMN started_at SET DEFAULT now(),
        ALTER COLUMN started_at SET NOT NULL,
        DROP CONSTRAINT verification_runs_status_check,
        ADD CONSTRAINT verification_runs_status_check CHECK (status IN ('running', 'completed', 'failed'))`);
  }
}
