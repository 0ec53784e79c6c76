/**
 * Runs once before the integration tests: drops leftovers of interrupted runs (older than an hour, so
 * another suite running on the machine keeps its databases), builds this run's template database with
 * every migration applied, which each test file then clones in milliseconds, and bundles the dashboard
 * (dist/dashboard, what the API serves at /dashboard) from the current source.
 */
import { MongoClient } from 'mongodb';
import { createDataSource } from '../../src/stores/postgres/data-source';
import { adminQuery, isLeftover, LEGACY_TEST_DB_PREFIX, runSuffix, TEST_DB_PREFIX } from '../support/databases';
import { servicesEnv, withDatabase } from '../support/env';

// Plain CommonJS (scripts/build-dashboard.js), so `npm run build` runs it with node as it is; it has no types to import.
// eslint-disable-next-line @typescript-eslint/no-require-imports -- a JavaScript file without declarations: require, with its shape
const { buildDashboard } = require('../../scripts/build-dashboard.js') as { buildDashboard(o?: { quiet?: boolean }): Promise<string> };

export default async function globalSetup(): Promise<void> {
  await buildDashboard({ quiet: true });
  const env = servicesEnv();
  const ours = await adminQuery<{ datname: string }>(`SELECT datname FROM pg_database WHERE datname LIKE $1`, [`${TEST_DB_PREFIX}%`]);
  for (const { datname } of ours) {
    if (isLeftover(datname, TEST_DB_PREFIX)) await adminQuery(`DROP DATABASE IF EXISTS ${datname} WITH (FORCE)`);
  }

  const mongo = await MongoClient.connect(env.LEGACY_MONGO_URL!);
  try {
    const { databases } = await mongo.db().admin().listDatabases({ nameOnly: true });
    for (const { name } of databases) {
      if (name.startsWith(LEGACY_TEST_DB_PREFIX) && isLeftover(name, LEGACY_TEST_DB_PREFIX)) await mongo.db(name).dropDatabase();
    }
  } finally {
    await mongo.close();
  }

  const template = `${TEST_DB_PREFIX}template_${runSuffix()}`;
  process.env.LMS_TEST_TEMPLATE_DB = template;
  await adminQuery(`CREATE DATABASE ${template}`);
  const ds = createDataSource({ url: withDatabase(env.DATABASE_URL!, template), poolSize: 1 });
  await ds.initialize();
  try {
    await ds.runMigrations({ transaction: 'each' });
  } finally {
    await ds.destroy();
  }
}
