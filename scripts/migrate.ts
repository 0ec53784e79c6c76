/**
 * `npm run migration:run` applies every pending migration; `npm run migration:revert` reverts the
 * last applied one (run it again to go further back). Reads DATABASE_URL from the environment or
 * `.env.local`.
 */
import 'reflect-metadata';
import { environmentWithEnvFile } from '../src/config/env-file';
import { createDataSource } from '../src/stores/postgres/data-source';
import { redactUrl } from '../src/common/logger';

async function main(command: string | undefined): Promise<void> {
  const url = environmentWithEnvFile().DATABASE_URL;
  if (!url) throw new Error('DATABASE_URL is not set (run `npm run services:up` for local services)');
  const ds = createDataSource({ url, poolSize: 1 });
  await ds.initialize();
  try {
    if (command === 'run') {
      const applied = await ds.runMigrations({ transaction: 'each' });
      console.log(applied.length === 0 ? `${redactUrl(url)}: no pending migrations` : applied.map((m) => `applied ${m.name}`).join('\n'));
    } else if (command === 'revert') {
      const before = await ds.query('SELECT name FROM schema_migrations ORDER BY id DESC LIMIT 1').catch(() => []);
      if (before.length === 0) {
        console.log(`${redactUrl(url)}: nothing to revert`);
        return;
      }
      await ds.undoLastMigration({ transaction: 'each' });
      console.log(`reverted ${before[0].name}`);
    } else {
      throw new Error('usage: migrate.ts run|revert');
    }
  } finally {
    await ds.destroy();
  }
}

main(process.argv[2]).catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
