import { DataSource } from 'typeorm';
import { MIGRATIONS } from '../migrations';
import { createDataSource } from '../src/stores/postgres/data-source';
import { createTestDatabases, TestDatabases } from './support/databases';

async function tables(ds: DataSource): Promise<string[]> {
  const rows: Array<{ table_name: string }> = await ds.query(
    `SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_name <> 'schema_migrations' ORDER BY 1`,
  );
  return rows.map((r) => r.table_name);
}

describe('migrations on a real PostgreSQL', () => {
  let dbs: TestDatabases;
  let ds: DataSource;

  beforeAll(async () => {
    dbs = await createTestDatabases({ template: null });
    ds = createDataSource({ url: dbs.databaseUrl, poolSize: 2 });
    await ds.initialize();
  });

  afterAll(async () => {
    await ds?.destroy();
    await dbs?.drop();
  });

  it('applies every migration, reverts every one, and applies them again', async () => {
    const applied = await ds.runMigrations({ transaction: 'each' });
    expect(applied.map((m) => m.name)).toEqual(MIGRATIONS.map((M) => new M().name));
    const schema = await tables(ds);
    expect(schema).toEqual(expect.arrayContaining(['conversations', 'messages']));

    for (let i = 0; i < MIGRATIONS.length; i++) await ds.undoLastMigration({ transaction: 'each' });
    expect(await tables(ds)).toEqual([]);
    expect(await ds.query('SELECT count(*)::int AS n FROM schema_migrations')).toEqual([{ n: 0 }]);

    const again = await ds.runMigrations({ transaction: 'each' });
    expect(again).toHaveLength(MIGRATIONS.length);
    expect(await tables(ds)).toEqual(schema);
  });
});
