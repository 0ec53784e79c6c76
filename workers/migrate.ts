/**
 * The migration entrypoint: `node dist/workers/migrate.js run|revert` in the image (the Argo CD PreSync
 * Job runs `run`), `npm run migration:run` / `migration:revert` from a checkout. `run` applies every
 * pending migration, `revert` reverts the last applied one (run it again to go further back); both
 * under the advisory lock of migration-runner.ts, so concurrent starters never race, and with a
 * lock_timeout retried, so a migration never holds the service's writes behind a table lock. Reads
 * DATABASE_URL from the environment or `.env.local`; without it, exits with MIGRATE_EXIT_NOT_CONFIGURED (2).
 * Logs JSON lines like the service (LOG_LEVEL, default info), the database named without its password.
 */
import 'reflect-metadata';
import { redactUrl } from '../src/common/logging/redact';
import { createRootLogger } from '../src/common/logging/root-logger';
import { LOG_LEVELS, LogLevel } from '../src/common/server.config';
import { environmentWithEnvFile } from '../src/config/env-file';
import { createDataSource } from '../src/stores/postgres/data-source';
import { MIGRATE_EXIT_NOT_CONFIGURED, revertLastMigrationLocked, runMigrationsLocked } from '../src/stores/postgres/migration-runner';

/** A missing setting, not a failure worth retrying: the Job's podFailurePolicy fails the Job at once on this exit status. */
class NotConfigured extends Error {}

const env = environmentWithEnvFile();
const level = LOG_LEVELS.find((l) => l === env.LOG_LEVEL) ?? ('info' satisfies LogLevel);
const log = createRootLogger({ level }).child({ context: 'migrate' });

async function main(command: string | undefined): Promise<void> {
  if (command !== 'run' && command !== 'revert') throw new Error('usage: migrate run|revert');
  const url = env.DATABASE_URL;
  if (!url)
    throw new NotConfigured(
      'DATABASE_URL is not set (in the cluster: the Secret lms-secrets is missing or lacks it; locally: run `npm run services:up`)',
    );
  const database = redactUrl(url);
  const ds = createDataSource({ url, poolSize: 1, applicationName: 'legacy-migration-service:migrate' });
  await ds.initialize();
  const events = {
    waiting: () => log.info({ database }, 'another process is applying migrations; waiting for it'),
    retrying: (attempt: number, err: Error) => log.warn({ database, attempt, error: err.message }, 'a table is busy; trying again'),
  };
  try {
    if (command === 'run') {
      const applied = await runMigrationsLocked(ds, events);
      if (applied.length === 0) log.info({ database }, 'no pending migrations');
      for (const m of applied) log.info({ database, migration: m.name }, 'applied');
    } else {
      const reverted = await revertLastMigrationLocked(ds, events);
      if (reverted === null) log.info({ database }, 'nothing to revert');
      else log.info({ database, migration: reverted }, 'reverted');
    }
  } finally {
    await ds.destroy();
  }
}

main(process.argv[2]).catch((err) => {
  // Like the API's and the worker's failure to start, on stderr.
  const failure = createRootLogger({ level: 'error', stream: 'stderr' }).child({ context: 'migrate' });
  failure.error(err instanceof NotConfigured ? {} : { err }, err instanceof Error ? err.message : String(err));
  process.exit(err instanceof NotConfigured ? MIGRATE_EXIT_NOT_CONFIGURED : 1);
});
