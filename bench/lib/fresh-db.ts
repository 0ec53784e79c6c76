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
import { onCleanup, onRunCleanup } from './cleanup';
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

export interface FreshPostgres {
  pgName: string;
  databaseUrl: string;
  drop(): Promise<void>;
}

async function migrate(databaseUrl: string): Promise<void> {
  const ds = createDataSource({ url: databaseUrl, poolSize: 1, applicationName: 'bench-migrations' });
  await ds.initialize();
  try {
    await ds.runMigrations({ transaction: 'each' });
  } finally {
    await ds.destroy();
  }
}

/**
 * Only a PostgreSQL database (every migration applied), for scenarios that read a shared legacy
 * data set (bench/lib/dataset.ts). `runScoped` keeps it until the end of the run (another scenario
 * reads it) instead of the end of the scenario.
 */
export async function createFreshPostgres(tag: string, options: { runScoped?: boolean } = {}): Promise<FreshPostgres> {
  const env = servicesEnv();
  const pgName = `${BENCH_PG_PREFIX}${tag
    .replace(/[^a-z0-9]/gi, '')
    .toLowerCase()
    .slice(0, 16)}_${randomBytes(4).toString('hex')}`;
  const databaseUrl = withDatabase(env.DATABASE_URL!, pgName);
  await adminQuery(`CREATE DATABASE ${pgName}`);
  const register = options.runScoped ? onRunCleanup : onCleanup;
  const drop = register(`drop ${pgName}`, () => adminQuery(`DROP DATABASE IF EXISTS ${pgName} WITH (FORCE)`));
  try {
    await migrate(databaseUrl);
  } catch (err) {
    await drop();
    throw err;
  }
  progress('fresh-db', `created ${pgName} (migrated)`);
  return { pgName, databaseUrl, drop };
}

export async function createFreshDatabases(tag: string): Promise<FreshDatabases> {
  const env = servicesEnv();
  const suffix = `${tag
    .replace(/[^a-z0-9]/gi, '')
    .toLowerCase()
    .slice(0, 16)}_${randomBytes(4).toString('hex')}`;
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
    await migrate(databaseUrl);
  } catch (err) {
    await drop();
    throw err;
  }
  progress('fresh-db', `created ${pgName} (migrated) and legacy database ${legacyDbName}`);
  return { pgName, databaseUrl, legacyDbName, legacyUrl, drop };
}
