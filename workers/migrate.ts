/**
 * The migration entrypoint: `node dist/workers/migrate.js run|revert` in the image (the Argo CD PreSync
 * Job runs `run`), `npm run migration:run` / `migration:revert` from a checkout. `run` applies every
 * pending migration, `revert` reverts the last applied one (run it again to go further back); both
 * under the advisory lock of migration-runner.ts, so concurrent starters never race. Reads
 * DATABASE_URL from the environment or `.env.local`.
 */
import 'reflect-metadata';
import { redactUrl } from '../src/common/logger';
import { environmentWithEnvFile } from '../src/config/env-file';
import { createDataSource } from '../src/stores/postgres/data-source';
import { revertLastMigrationLocked, runMigrationsLocked } from '../src/stores/postgres/migration-runner';

async function main(command: string | undefined): Promise<void> {
  if (command !== 'run' && command !== 'revert') throw new Error('usage: migrate run|revert');
  const url = environmentWithEnvFile().DATABASE_URL;
  if (!url) throw new Error('DATABASE_URL is not set (run `npm run services:up` for local services)');
  const ds = createDataSource({ url, poolSize: 1, applicationName: 'legacy-migration-service:migrate' });
  await ds.initialize();
  const events = { waiting: () => console.log(`${redactUrl(url)}: another process is applying migrations; waiting for it`) };
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
  process.exit(1);
});
