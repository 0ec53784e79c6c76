/**
 * A fresh pair of databases for one scenario: its own PostgreSQL database with every migration
 * applied (through the service's own createDataSource) and its own legacy database name on the
 * FerretDB / MongoDB server. Both are dropped by `drop()` (also registered as a clean-up, so an
 * interrupted run does not leave them behind). Names start with `lms_bench_` / `legacy_bench_`.
 */
import { randomBytes } from 'node:crypto';
import { MongoClient } from 'mongodb';
import { Client } from 'pg';
import { createDataSource } from '../../src/stores/postgres/data-source';
import { onCleanup } from './cleanup';
import { progress } from './log';
import { servicesEnv, withDatabase } from './services';

export const BENCH_PG_PREFIX = 'lms_bench_';
export const BENCH_LEGACY_PREFIX = 'legacy_bench_';

export interface FreshDatabases {
  pgName: string;
  databaseUrl: string;
  legacyDbName: string;
  legacyUrl: string;
  drop(): Promise<void>;
}

async function adminQuery(sql: string): Promise<void> {
  const client = new Client({ connectionString: withDatabase(servicesEnv().DATABASE_URL!, 'postgres') });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

export async function createFreshDatabases(tag: string): Promise<FreshDatabases> {
  const env = servicesEnv();
  const suffix = `${tag.replace(/[^a-z0-9]/gi, '').toLowerCase().slice(0, 16)}_${randomBytes(4).toString('hex')}`;
  const pgName = `${BENCH_PG_PREFIX}${suffix}`;
  const legacyDbName = `${BENCH_LEGACY_PREFIX}${suffix}`;
  const databaseUrl = withDatabase(env.DATABASE_URL!, pgName);
  const legacyUrl = withDatabase(env.LEGACY_MONGO_URL!, legacyDbName);

  await adminQuery(`CREATE DATABASE ${pgName}`);
  const drop = onCleanup(`drop ${pgName} / ${legacyDbName}`, async () => {
    await adminQuery(`DROP DATABASE IF EXISTS ${pgName} WITH (FORCE)`);
    const mongo = await MongoClient.connect(env.LEGACY_MONGO_URL!, { serverSelectionTimeoutMS: 3000 });
    try {
      await mongo.db(legacyDbName).dropDatabase();
    } finally {
      await mongo.close();
    }
  });
  try {
    const ds = createDataSource({ url: databaseUrl, poolSize: 1, applicationName: 'bench-migrations' });
    await ds.initialize();
    try {
      await ds.runMigrations({ transaction: 'each' });
    } finally {
      await ds.destroy();
    }
  } catch (err) {
    await drop();
    throw err;
  }
  progress('fresh-db', `created ${pgName} (migrated) and legacy database ${legacyDbName}`);
  return { pgName, databaseUrl, legacyDbName, legacyUrl, drop };
}
