/**
 * Runs once before the integration tests: drops leftovers of interrupted runs and builds the template
 * database with every migration applied, which each test file then clones in milliseconds.
 */
import { MongoClient } from 'mongodb';
import { createDataSource } from '../../src/stores/postgres/data-source';
import { adminQuery, LEGACY_TEST_DB_PREFIX, TEMPLATE_DB, TEST_DB_PREFIX } from '../support/databases';
import { servicesEnv, withDatabase } from '../support/env';

export default async function globalSetup(): Promise<void> {
  const env = servicesEnv();
  const leftovers = await adminQuery<{ datname: string }>(
    `SELECT datname FROM pg_database WHERE datname LIKE $1 OR datname = $2`,
    [`${TEST_DB_PREFIX}%`, TEMPLATE_DB],
  );
  for (const { datname } of leftovers) await adminQuery(`DROP DATABASE IF EXISTS ${datname} WITH (FORCE)`);

  const mongo = await MongoClient.connect(env.LEGACY_MONGO_URL!);
  try {
    const { databases } = await mongo.db().admin().listDatabases({ nameOnly: true });
    for (const { name } of databases) if (name.startsWith(LEGACY_TEST_DB_PREFIX)) await mongo.db(name).dropDatabase();
  } finally {
    await mongo.close();
  }

  await adminQuery(`CREATE DATABASE ${TEMPLATE_DB}`);
  const ds = createDataSource({ url: withDatabase(env.DATABASE_URL!, TEMPLATE_DB), poolSize: 1 });
  await ds.initialize();
  try {
    await ds.runMigrations({ transaction: 'each' });
  } finally {
    await ds.destroy();
  }
}
