/**
 * Applies (or reverts) migrations under a PostgreSQL advisory lock, so that any number of starters
 * (the Argo CD PreSync Job, API replicas with MIGRATIONS_RUN_ON_START, an operator's
 * `npm run migration:run`) never run the same migration twice or interleave two: the first takes the
 * lock and applies what is pending; the others wait for it, then find nothing pending.
 *
 * The lock is session-level and is taken on one dedicated connection, on which the migrations then run
 * too (a pool of one is enough). That connection waits without a statement timeout: waiting behind a
 * long migration, or a long index build, is the point; the Job's own deadline bounds it. Whatever
 * happens, the lock is released and the connection returned with its settings restored.
 */
import { DataSource, Migration, MigrationExecutor, QueryRunner } from 'typeorm';

/** One fixed key for this service's schema (the bytes of "lms-mig" as a bigint). */
export const MIGRATION_LOCK_KEY = '30519638935562599';

export interface MigrationLockEvents {
  /** Another session holds the lock; this one is about to wait for it. */
  waiting?(): void;
}

async function withMigrationLock<T>(ds: DataSource, events: MigrationLockEvents, fn: (runner: QueryRunner) => Promise<T>): Promise<T> {
  const runner = ds.createQueryRunner();
  await runner.connect();
  try {
    await runner.query(`SET statement_timeout = 0`);
    const [{ locked }] = await runner.query(`SELECT pg_try_advisory_lock($1::bigint) AS locked`, [MIGRATION_LOCK_KEY]);
    if (!locked) {
      events.waiting?.();
      await runner.query(`SELECT pg_advisory_lock($1::bigint)`, [MIGRATION_LOCK_KEY]);
    }
    try {
      return await fn(runner);
    } finally {
      await runner.query(`SELECT pg_advisory_unlock($1::bigint)`, [MIGRATION_LOCK_KEY]);
    }
  } finally {
    // A broken connection is dropped by the pool; a healthy one goes back with the pool's timeout.
    await runner.query(`RESET statement_timeout`).catch(() => undefined);
    await runner.release();
  }
}

function executor(ds: DataSource, runner: QueryRunner): MigrationExecutor {
  const executor = new MigrationExecutor(ds, runner);
  executor.transaction = 'each';
  return executor;
}

/** Applies every pending migration (each in its own transaction); returns the ones this call applied. */
export function runMigrationsLocked(ds: DataSource, events: MigrationLockEvents = {}): Promise<Migration[]> {
  return withMigrationLock(ds, events, (runner) => executor(ds, runner).executePendingMigrations());
}

/** Reverts the last applied migration; returns its name, or null when none is applied. */
export function revertLastMigrationLocked(ds: DataSource, events: MigrationLockEvents = {}): Promise<string | null> {
  return withMigrationLock(ds, events, async (runner) => {
    const last = await runner.query(`SELECT name FROM schema_migrations ORDER BY id DESC LIMIT 1`).catch(() => []);
    if (last.length === 0) return null;
    await executor(ds, runner).undoLastMigration();
    return last[0].name as string;
  });
}
