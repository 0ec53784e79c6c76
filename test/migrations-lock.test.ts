/**
 * Migrations under the advisory lock (src/stores/postgres/migration-runner.ts): starters that run at
 * the same moment on a fresh database (the migration Job, API replicas with MIGRATIONS_RUN_ON_START)
 * apply each migration exactly once, and a starter waits while another holds the lock.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Client } from 'pg';
import { DataSource, DataSourceOptions, MigrationInterface, QueryRunner } from 'typeorm';
import { MIGRATIONS } from '../migrations';
import { createDataSource } from '../src/stores/postgres/data-source';
import { AdvisoryLock } from '../src/common/advisory-lock';
import { runMigrationsLocked } from '../src/stores/postgres/migration-runner';
import { createTestDatabases, TestDatabases } from './support/databases';
import { freePort, ROOT, servicesEnv } from './support/env';
import { ApiReplica, clusterEnv, transpileSources } from './support/history/cluster';
import { withTimeout } from './support/sync';

const ALL = MIGRATIONS.map((M) => new M().name);

/** An expand migration of the kind a release adds: it needs an ACCESS EXCLUSIVE lock on a live table. */
class ExpandProbe9999999999999 implements MigrationInterface {
  name = 'ExpandProbe9999999999999';
  async up(q: QueryRunner): Promise<void> {
    await q.query('ALTER TABLE conversations ADD COLUMN lock_probe integer');
  }
  async down(q: QueryRunner): Promise<void> {
    await q.query('ALTER TABLE conversations DROP COLUMN lock_probe');
  }
}

async function appliedNames(url: string): Promise<string[]> {
  const pg = new Client({ connectionString: url });
  await pg.connect();
  try {
    return (await pg.query('SELECT name FROM schema_migrations ORDER BY id')).rows.map((r) => r.name);
  } finally {
    await pg.end();
  }
}

describe('migrations under an advisory lock', () => {
  let dbs: TestDatabases;
  const sources: DataSource[] = [];

  const source = async (poolSize = 1) => {
    const ds = createDataSource({ url: dbs.databaseUrl, poolSize });
    await ds.initialize();
    sources.push(ds);
    return ds;
  };

  beforeEach(async () => {
    dbs = await createTestDatabases({ template: null });
  });

  afterEach(async () => {
    await Promise.allSettled(sources.splice(0).map((ds) => ds.destroy()));
    await dbs?.drop();
  });

  it('two starters at once: one applies every migration, the other finds nothing pending', async () => {
    const [a, b] = await Promise.all([source(), source()]);
    const results = await withTimeout('both starters', Promise.all([runMigrationsLocked(a), runMigrationsLocked(b)]), 60_000);
    const counts = results.map((r) => r.length).sort((x, y) => x - y);
    expect(counts).toEqual([0, ALL.length]);
    expect(await appliedNames(dbs.databaseUrl)).toEqual(ALL);
    // The lock is released and the pooled connection keeps the pool's statement timeout.
    expect(
      await a.query(
        `SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
      ),
    ).toEqual([{ n: 0 }]);
    expect(await a.query('SHOW statement_timeout')).toEqual([{ statement_timeout: '30s' }]);
    // PostgreSQL probes the connection when it falls silent (src/stores/postgres/pg-client.ts).
    expect(
      await a.query(
        `SELECT current_setting('tcp_keepalives_idle') AS idle, current_setting('tcp_keepalives_interval') AS interval,
                current_setting('tcp_keepalives_count') AS count`,
      ),
    ).toEqual([{ idle: '60', interval: '10', count: '6' }]);
  });

  it('a starter waits while another session holds the lock, then applies what is pending', async () => {
    const holder = new Client({ connectionString: dbs.databaseUrl });
    await holder.connect();
    try {
      await holder.query('SELECT pg_advisory_lock($1::bigint)', [AdvisoryLock.Migrations]);
      const ds = await source();
      let waited = false;
      const run = runMigrationsLocked(ds, { waiting: () => (waited = true) });
      const deadline = Date.now() + 20_000;
      let blocked = 0;
      while (Date.now() < deadline && blocked === 0) {
        await new Promise((r) => setTimeout(r, 100));
        [{ blocked }] = (
          await holder.query(`SELECT count(*)::int AS blocked FROM pg_locks WHERE locktype = 'advisory' AND NOT granted`)
        ).rows;
      }
      expect(blocked).toBe(1);
      expect(waited).toBe(true);
      const tables = await holder.query(
        `SELECT count(*)::int AS n FROM information_schema.tables WHERE table_schema = 'public' AND table_name = 'conversations'`,
      );
      expect(tables.rows).toEqual([{ n: 0 }]);

      await holder.query('SELECT pg_advisory_unlock($1::bigint)', [AdvisoryLock.Migrations]);
      expect((await withTimeout('the waiting starter', run, 60_000)).map((m) => m.name)).toEqual(ALL);
    } finally {
      await holder.end();
    }
  });

  it('two API processes starting together with MIGRATIONS_RUN_ON_START both come up on one schema', async () => {
    const out = path.join(ROOT, '.local/migrations-lock');
    transpileSources(path.join(out, 'build'));
    fs.mkdirSync(path.join(out, 'logs'), { recursive: true });
    const stores = { DATABASE_URL: dbs.databaseUrl, LEGACY_MONGO_URL: dbs.legacyUrl, REDIS_URL: servicesEnv().REDIS_URL! };
    const env = { ...clusterEnv(stores), MIGRATIONS_RUN_ON_START: 'true', MIGRATION_INITIAL_PHASE: '' };
    const replicas: ApiReplica[] = [];
    for (const i of [0, 1])
      replicas.push(new ApiReplica(i, await freePort(), await freePort(), path.join(out, 'build'), env, path.join(out, 'logs')));
    try {
      // Both processes start at the same moment; each is ready (its /health/ready answers 200) or says why not.
      const started = await Promise.allSettled(replicas.map((r) => r.start(120_000)));
      expect(started.map((s) => (s.status === 'rejected' ? String(s.reason) : 'ok'))).toEqual(['ok', 'ok']);
      expect(await appliedNames(dbs.databaseUrl)).toEqual(ALL);
    } finally {
      await Promise.allSettled(replicas.map((r) => r.stop()));
    }
  }, 180_000);

  describe('an expand migration behind a busy table (lock_timeout, retried)', () => {
    /** A DataSource of the real migrations plus the probe, on the test database. */
    const withProbe = async () => {
      const options: DataSourceOptions = createDataSource({ url: dbs.databaseUrl, poolSize: 1 }).options;
      const ds = new DataSource({ ...options, migrations: [...MIGRATIONS, ExpandProbe9999999999999] });
      await ds.initialize();
      sources.push(ds);
      return ds;
    };

    /** A session that holds an ACCESS SHARE lock on conversations (a long read, a slow request) until released. */
    const holdReadLock = async () => {
      const holder = new Client({ connectionString: dbs.databaseUrl });
      await holder.connect();
      await holder.query('BEGIN');
      await holder.query('SELECT count(*) FROM conversations');
      return holder;
    };

    it('gives up the lock queue after lock_timeout and retries, so reads and writes never wait behind it; applies once the table is free', async () => {
      await runMigrationsLocked(await source());
      const holder = await holdReadLock();
      const ds = await withProbe();
      const retries: string[] = [];
      const run = runMigrationsLocked(
        ds,
        { retrying: (attempt, err) => retries.push(`${attempt}: ${err.message}`) },
        { lockTimeoutMs: 200, attempts: 100, retryDelayMs: 100 },
      );
      try {
        const deadline = Date.now() + 20_000;
        while (retries.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
        expect(retries.length).toBeGreaterThanOrEqual(2);
        expect(retries[0]).toMatch(/lock timeout/i);
        // Without lock_timeout the ALTER would sit in the lock queue and every later reader of the table would queue
        // behind it: a reader with a 2 s statement timeout would fail. With it, each attempt leaves the queue in 200 ms.
        const reader = new Client({ connectionString: dbs.databaseUrl, statement_timeout: 2000 });
        await reader.connect();
        try {
          for (let i = 0; i < 5; i++) {
            const started = Date.now();
            await reader.query('SELECT count(*) FROM conversations');
            expect(Date.now() - started).toBeLessThan(1500);
          }
        } finally {
          await reader.end();
        }
      } finally {
        await holder.query('COMMIT');
        await holder.end();
      }
      const applied = await withTimeout('the retried migration', run, 60_000);
      expect(applied.map((m) => m.name)).toEqual(['ExpandProbe9999999999999']);
      expect(await appliedNames(dbs.databaseUrl)).toEqual([...ALL, 'ExpandProbe9999999999999']);
      // The session goes back to the pool with its defaults.
      expect(await ds.query('SHOW lock_timeout')).toEqual([{ lock_timeout: '0' }]);
    });

    it('fails after its attempts with the lock error, releasing the advisory lock and applying nothing', async () => {
      await runMigrationsLocked(await source());
      const holder = await holdReadLock();
      try {
        const ds = await withProbe();
        const run = runMigrationsLocked(ds, {}, { lockTimeoutMs: 100, attempts: 3, retryDelayMs: 50 });
        await expect(withTimeout('the failing migration', run, 30_000)).rejects.toThrow(/lock timeout/i);
        expect(await appliedNames(dbs.databaseUrl)).toEqual(ALL);
        const [{ n }] = (await holder.query(`SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory'`)).rows;
        expect(n).toBe(0);
      } finally {
        await holder.query('ROLLBACK');
        await holder.end();
      }
    });
  });
});
