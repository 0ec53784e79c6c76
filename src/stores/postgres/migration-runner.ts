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
 *
 * Waiting for a table lock is another matter. An expand migration (ALTER TABLE ... ADD COLUMN) needs an
 * ACCESS EXCLUSIVE lock on a live table; while it waits in the lock queue behind a long read, every later
 * read and write of that table queues behind it, and the service stalls. So once the advisory lock is
 * held, the session gets a `lock_timeout`: a migration that cannot get its table lock within it fails
 * (SQLSTATE 55P03), its transaction rolls back, and the pending migrations are tried again after a pause,
 * up to a number of attempts. The advisory-lock wait itself is not subject to it (it is taken before).
 * A migration with `transaction = false` (CREATE INDEX CONCURRENTLY) that times out can leave an INVALID
 * index behind: write such migrations to be re-runnable (DROP INDEX CONCURRENTLY IF EXISTS first).
 */
import { DataSource, Migration, MigrationExecutor, QueryRunner } from 'typeorm';
import { AdvisoryLock, isLockTimeout, tryLock, unlock, waitForLock } from '../../common/advisory-lock';

/** Exit status of workers/migrate.ts when it has no DATABASE_URL: the Job's podFailurePolicy fails at once on it. */
export const MIGRATE_EXIT_NOT_CONFIGURED = 2;

export interface MigrationLockEvents {
  /** Another session holds the lock; this one is about to wait for it. */
  waiting?(): void;
  /** A migration could not get a table lock within lock_timeout; attempt `attempt` starts after the pause. */
  retrying?(attempt: number, error: Error): void;
}

export interface MigrationLockOptions {
  /** How long one statement may wait for a table lock (default 5 s). */
  lockTimeoutMs?: number;
  /** Attempts before giving up (default 20: with the pauses, about 10 minutes of a table that stays busy). */
  attempts?: number;
  /** Pause before the first retry, doubling up to 30 s (default 2 s). */
  retryDelayMs?: number;
}

async function withMigrationLock<T>(
  ds: DataSource,
  events: MigrationLockEvents,
  options: MigrationLockOptions,
  fn: (runner: QueryRunner) => Promise<T>,
): Promise<T> {
  const runner = ds.createQueryRunner();
  await runner.connect();
  try {
    await runner.query(`SET statement_timeout = 0`);
    if (!(await tryLock(runner, AdvisoryLock.Migrations))) {
      events.waiting?.();
      await waitForLock(runner, AdvisoryLock.Migrations);
    }
    try {
      // Only now: the wait for the advisory lock above is meant to be unbounded.
      await runner.query(`SET lock_timeout = ${Math.max(1, Math.floor(options.lockTimeoutMs ?? 5000))}`);
      return await fn(runner);
    } finally {
      await unlock(runner, AdvisoryLock.Migrations);
    }
  } finally {
    // A broken connection is dropped by the pool; a healthy one goes back with the pool's timeouts.
    await runner.query(`RESET lock_timeout`).catch(() => undefined);
    await runner.query(`RESET statement_timeout`).catch(() => undefined);
    await runner.release();
  }
}

/** Runs `fn` again after a pause (doubling, at most 30 s) while it fails on lock_timeout, up to `attempts` times. */
async function retryOnLockTimeout<T>(events: MigrationLockEvents, options: MigrationLockOptions, fn: () => Promise<T>): Promise<T> {
  const attempts = options.attempts ?? 20;
  let delay = options.retryDelayMs ?? 2000;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (!isLockTimeout(err) || attempt >= attempts) throw err;
      events.retrying?.(attempt + 1, err as Error);
      await new Promise((resolve) => setTimeout(resolve, delay));
      delay = Math.min(delay * 2, 30_000);
    }
  }
}

function executor(ds: DataSource, runner: QueryRunner): MigrationExecutor {
  const executor = new MigrationExecutor(ds, runner);
  executor.transaction = 'each';
  return executor;
}

/**
 * Applies every pending migration (each in its own transaction); returns the ones this call applied. A
 * migration that times out waiting for a table lock is rolled back and the pending ones are tried again.
 */
export function runMigrationsLocked(
  ds: DataSource,
  events: MigrationLockEvents = {},
  options: MigrationLockOptions = {},
): Promise<Migration[]> {
  return withMigrationLock(ds, events, options, async (runner) => {
    const migrations = executor(ds, runner);
    // Each attempt applies what is still pending; what an earlier attempt committed stays applied, so the
    // answer is what the table gained, not what the last attempt returned.
    const before = new Set((await migrations.getExecutedMigrations()).map((m) => m.name));
    await retryOnLockTimeout(events, options, () => migrations.executePendingMigrations());
    const after = await migrations.getExecutedMigrations();
    return after.filter((m) => !before.has(m.name)).sort((a, b) => a.timestamp - b.timestamp);
  });
}

/** Reverts the last applied migration; returns its name, or null when none is applied. */
export function revertLastMigrationLocked(
  ds: DataSource,
  events: MigrationLockEvents = {},
  options: MigrationLockOptions = {},
): Promise<string | null> {
  return withMigrationLock(ds, events, options, async (runner) => {
    const last = await runner.query(`SELECT name FROM schema_migrations ORDER BY id DESC LIMIT 1`).catch(() => []);
    if (last.length === 0) return null;
    await retryOnLockTimeout(events, options, () => executor(ds, runner).undoLastMigration());
    return last[0].name as string;
  });
}
