/**
 * Per-file isolation on shared servers: each test file gets its own PostgreSQL database, cloned from
 * a template that has every migration applied (made once by the global set-up), and its own legacy
 * database. Names carry a prefix so the global set-up can drop leftovers of an interrupted run.
 */
import { randomBytes } from 'node:crypto';
import { MongoClient } from 'mongodb';
import { Client } from 'pg';
import type { DataSource } from 'typeorm';
import { createDataSource } from '../../src/stores/postgres/data-source';
import { servicesEnv, withDatabase } from './env';

export const TEST_DB_PREFIX = 'lms_test_';
/** Databases of another run younger than this are left alone (two suites may run on one machine). */
export const LEFTOVER_AGE_SECONDS = 3600;

export function isLeftover(name: string, prefix: string, nowSeconds = Date.now() / 1000): boolean {
  const created = Number(/^(?:template_)?(\d{10})_[0-9a-f]+$/.exec(name.slice(prefix.length))?.[1]);
  return !Number.isFinite(created) || nowSeconds - created > LEFTOVER_AGE_SECONDS;
}

/** This run's template (named by the global set-up, so two runs on one machine do not share one). */
export function templateDb(): string {
  const name = process.env.LMS_TEST_TEMPLATE_DB;
  if (!name) throw new Error('LMS_TEST_TEMPLATE_DB is not set: the integration global set-up did not run');
  return name;
}

export function runSuffix(): string {
  return `${Math.floor(Date.now() / 1000)}_${randomBytes(4).toString('hex')}`;
}
export const LEGACY_TEST_DB_PREFIX = 'legacy_test_';

export async function adminQuery<T = unknown>(sql: string, params: unknown[] = []): Promise<T[]> {
  const client = new Client({ connectionString: withDatabase(servicesEnv().DATABASE_URL!, 'postgres') });
  await client.connect();
  try {
    return (await client.query(sql, params)).rows as T[];
  } finally {
    await client.end();
  }
}

export interface TestDatabases {
  databaseUrl: string;
  legacyUrl: string;
  legacyDbName: string;
  drop(): Promise<void>;
}

export async function createTestDatabases(options: { template?: string | null } = {}): Promise<TestDatabases> {
  // The creation time in the name lets a later run's set-up drop only leftovers, not a live run's databases.
  const suffix = runSuffix();
  const pgName = `${TEST_DB_PREFIX}${suffix}`;
  const legacyDbName = `${LEGACY_TEST_DB_PREFIX}${suffix}`;
  const template = options.template === undefined ? templateDb() : options.template;
  await adminQuery(template ? `CREATE DATABASE ${pgName} TEMPLATE ${template}` : `CREATE DATABASE ${pgName}`);
  const env = servicesEnv();
  return {
    databaseUrl: withDatabase(env.DATABASE_URL!, pgName),
    legacyUrl: withDatabase(env.LEGACY_MONGO_URL!, legacyDbName),
    legacyDbName,
    drop: async () => {
      await adminQuery(`DROP DATABASE IF EXISTS ${pgName} WITH (FORCE)`);
      const mongo = await MongoClient.connect(env.LEGACY_MONGO_URL!);
      try {
        await mongo.db(legacyDbName).dropDatabase();
      } finally {
        await mongo.close();
      }
    },
  };
}

/** A test database of its own with the migrations applied, and a small pool on it; `close` drops it. */
export async function migratedDatabase(): Promise<{ ds: DataSource; close(): Promise<void> }> {
  const dbs = await createTestDatabases();
  const ds = createDataSource({ url: dbs.databaseUrl, poolSize: 4 });
  await ds.initialize();
  await ds.runMigrations({ transaction: 'each' });
  return {
    ds,
    close: async () => {
      await ds.destroy();
      await dbs.drop();
    },
  };
}

/**
 * For a describe block: a migrated database of its own (migratedDatabase), made before its tests and dropped after
 * them. `ds` is there once the block's tests run.
 */
export function useMigratedDatabase(): { readonly ds: DataSource } {
  let db: Awaited<ReturnType<typeof migratedDatabase>> | undefined;
  beforeAll(async () => {
    db = await migratedDatabase();
  });
  afterAll(async () => {
    await db?.close();
  });
  return {
    get ds(): DataSource {
      if (!db) throw new Error('the database is made in beforeAll');
      return db.ds;
    },
  };
}
