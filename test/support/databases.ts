/**
 * Per-file isolation on shared servers: each test file gets its own PostgreSQL database, cloned from
 * a template that has every migration applied (made once by the global set-up), and its own legacy
 * database. Names carry a prefix so the global set-up can drop leftovers of an interrupted run.
 */
import { randomBytes } from 'node:crypto';
import { MongoClient } from 'mongodb';
import { Client } from 'pg';
import { servicesEnv, withDatabase } from './env';

export const TEMPLATE_DB = 'lms_test_template';
export const TEST_DB_PREFIX = 'lms_test_';
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
  const suffix = randomBytes(6).toString('hex');
  const pgName = `${TEST_DB_PREFIX}${suffix}`;
  const legacyDbName = `${LEGACY_TEST_DB_PREFIX}${suffix}`;
  const template = options.template === undefined ? TEMPLATE_DB : options.template;
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
