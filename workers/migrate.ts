/**
 * The migration entrypoint: `node dist/workers/migrate.js run|revert` in the image (the Argo CD PreSync
 * Job runs `run`), `npm run migration:run` / `migration:revert` from a checkout. `run` applies every
 * pending migration, `revert` reverts the last applied one (run it again to go further back); both
 * under the advisory lock of migration-runner.ts, so concurrent starters never race, and with a
 * lock_timeout retried, so a migration never holds the service's writes behind a table lock. Reads
 * DATABASE_URL from the environment or `.env.local`; without it, exits with MIGRATE_EXIT_NOT_CONFIGURED (2).
 */
import 'reflect-metadata';
import { redactUrl } from '../src/common/logger';
import { environmentWithEnvFile } from '../src/config/env-file';
import { createDataSource } from '../src/stores/postgres/data-source';
import { MIGRATE_EXIT_NOT_CONFIGURED, revertLastMigrationLocked, runMigrationsLocked } from '../src/stores/postgres/migration-runner';

/** A missing setting, not a failure worth retrying: the Job's podFailurePolicy fails the Job at once on this exit status. */
class NotConfigured extends Error {}

async function main(command: string | undefined): Promise<void> {
  if (command !== 'run' && command !== 'revert') throw new Error('usage: migrate run|revert');
  const url = environmentWithEnvFile().DATABASE_URL;
  if (!url) throw new NotConfigured('DATABASE_URL is not set (in the cluster: the Secret lms-secrets is missing or lacks it; locally: run `npm run services:up`)');
  const ds = createDataSource({ url, poolSize: 1, applicationName: 'legacy-migration-service:migrate' });
  await ds.initialize();
  const events = {
    waiting: () => console.log(`${redactUrl(url)}: another process is applying migrations; waiting for it`),
    retrying: (attempt: number, err: Error) => console.log(`${redactUrl(url)}: a table is busy (${err.message}); trying again, attempt ${attempt}`),
  };
  try {
    if (command === 'run') {
      const applied = await runMigrationsLocked(ds, events);
      console.log(applied.length === 0 ? `${redactUrl(url)}: no pending migrations` : applied.map((m) => `applied ${m.name}`).join('\n'));
    } else {
      const reverted = await revertLastMigrationLocked(ds, events);
      console.log(reverted === null ? `${redactUrl(url)}: nothing to revert` : `reverted ${reverted}`);
    }
  } finally {
    await ds.destroy();
  }
}

main(process.argv[2]).catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(err instanceof NotConfigured ? MIGRATE_EXIT_NOT_CONFIGURED : 1);
});
