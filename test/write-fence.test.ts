/**
 * The write fence (src/mode/write-fence.ts) on a real PostgreSQL, with two data sources standing for two
 * replicas: a write opens its transaction, takes the fence and reads the phase in one round trip, and is still
 * one transaction under one phase; a phase change waits for the writes in flight and the writes that come
 * meanwhile run after it, under the new phase; a write that fails leaves nothing behind, not even an open
 * transaction on its pooled connection. (The history checker drives the same fence through API processes.)
 */
import { DataSource } from 'typeorm';
import { unavailableDependency } from '../src/common/dependency-errors';
import { MetricsService } from '../src/common/metrics/metrics.service';
import { FencedWrite, WriteFence } from '../src/mode/write-fence';
import { createDataSource } from '../src/stores/postgres/data-source';
import { createTestDatabases, TestDatabases } from './support/databases';

const ID = 'aaaaaaaaaaaaaaaaaaaaaaaa';

describe('the write fence', () => {
  let dbs: TestDatabases;
  let replicas: Array<{ ds: DataSource; fence: WriteFence }>;
  /** The process that changes the phase (an operator's request), on connections of its own. */
  let operator: { ds: DataSource; fence: WriteFence };

  const open = async (poolSize: number) => {
    const ds = createDataSource({ url: dbs.databaseUrl, poolSize });
    await ds.initialize();
    return { ds, fence: new WriteFence(ds, 5000, new MetricsService()) };
  };
  const setPhase = (phase: string) =>
    operator.fence.exclusive((q) => q.query('UPDATE migration_state SET phase = $1 WHERE id = 1', [phase]), 5000);
  const outboxRows = async () =>
    Number((await operator.ds.query('SELECT count(*)::int AS n FROM repair_outbox WHERE conversation_id = $1', [ID]))[0].n);

  beforeAll(async () => {
    dbs = await createTestDatabases();
    // One connection per replica: whatever a write leaves on its connection, the next one meets.
    replicas = [await open(1), await open(1)];
    operator = await open(2);
  });

  afterAll(async () => {
    await Promise.allSettled([...(replicas ?? []), ...(operator ? [operator] : [])].map((r) => r.ds.destroy()));
    await dbs?.drop();
  });

  beforeEach(async () => {
    await operator.ds.query('DELETE FROM repair_outbox');
    await setPhase('shadow');
  });

  it('runs a write in one transaction, under the phase committed before it, and commits it', async () => {
    await setPhase('deprecation');
    const seen = await replicas[1].fence.write(async (w) => {
      const [a] = await w.q.query('SELECT txid_current() AS x');
      await w.q.query(`INSERT INTO repair_outbox (conversation_id, source, reason) VALUES ($1, 'new', 'fence test')`, [ID]);
      const [b] = await w.q.query('SELECT txid_current() AS x');
      const [lock] = await w.q.query(
        `SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND mode = 'ShareLock' AND pid = pg_backend_pid()`,
      );
      return { phase: w.mode.phase, sameTransaction: a.x === b.x, fenceHeld: lock.n === 1 };
    });
    expect(seen).toEqual({ phase: 'deprecation', sameTransaction: true, fenceHeld: true });
    expect(await outboxRows()).toBe(1);
    // Committed and ended: the replica's one connection is out of its transaction, and the fence is free.
    const [state] = await replicas[1].ds.query('SELECT now() = statement_timestamp() AS fresh');
    expect(state.fresh).toBe(true);
    await expect(setPhase('shadow')).resolves.toBeDefined();
  });

  it('makes a phase change wait for the writes in flight; the writes that come meanwhile run after it, under the new phase', async () => {
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let entered!: () => void;
    const inside = new Promise<void>((resolve) => (entered = resolve));
    const order: string[] = [];

    const first = replicas[0].fence.write(async (w: FencedWrite) => {
      entered();
      await held;
      order.push(`first write (${w.mode.phase})`);
    });
    await inside;
    const change = setPhase('deprecation').then(() => order.push('phase change'));
    // The change now waits for the first write; a write that starts meanwhile waits for the change.
    await new Promise((resolve) => setTimeout(resolve, 300));
    const second = replicas[1].fence.write(async (w) => {
      order.push(`second write (${w.mode.phase})`);
    });
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(order).toEqual([]);
    release();
    await Promise.all([first, change, second]);
    expect(order).toEqual(['first write (shadow)', 'phase change', 'second write (deprecation)']);
  });

  it('rolls a failed write back and leaves no transaction open on its connection', async () => {
    await expect(
      replicas[1].fence.write(async (w) => {
        await w.q.query(`INSERT INTO repair_outbox (conversation_id, source, reason) VALUES ($1, 'new', 'fence test')`, [ID]);
        throw new Error('the attempt failed');
      }),
    ).rejects.toThrow('the attempt failed');
    expect(await outboxRows()).toBe(0);

    // A statement that fails in the transaction (which PostgreSQL then aborts) is rolled back as well.
    await expect(replicas[1].fence.write((w) => w.q.query('SELECT 1 / 0'))).rejects.toThrow(/division by zero/);
    // The same (only) connection answers outside any transaction, and the next write works.
    const [{ fresh }] = await replicas[1].ds.query('SELECT now() = statement_timestamp() AS fresh');
    expect(fresh).toBe(true);
    await expect(replicas[1].fence.write(async (w) => w.mode.phase)).resolves.toBe('shadow');
  });

  it("names PostgreSQL's own error when it ended the session while the write waited (not TypeORM's released runner)", async () => {
    const failure: unknown = await replicas[0].fence
      .write(async (w) => {
        const [{ pid }] = await w.q.query('SELECT pg_backend_pid() AS pid');
        // The session ends while the write waits on something else (the legacy half of a dual write).
        await operator.ds.query('SELECT pg_terminate_backend($1)', [pid]);
        for (let i = 0; i < 100 && !w.q.isReleased; i++) await new Promise((r) => setTimeout(r, 20));
        expect(w.q.isReleased).toBe(true);
        await w.q.query(`INSERT INTO repair_outbox (conversation_id, source, reason) VALUES ($1, 'new', 'fence test')`, [ID]);
      })
      .then(
        () => null,
        (err: unknown) => err,
      );
    expect(failure).toBeInstanceOf(Error);
    expect((failure as Error).message).toMatch(/terminating connection due to administrator command/);
    expect(unavailableDependency(failure)).toBe('new');
    expect(await outboxRows()).toBe(0);
    // The replica's pool replaces the connection: the next write works.
    await expect(replicas[0].fence.write(async (w) => w.mode.phase)).resolves.toBe('shadow');
  });

  it('does the same for a phase change, also through an EntityManager bound to its runner, and changes nothing', async () => {
    const failure: unknown = await operator.fence
      .exclusive(async (q) => {
        const [{ pid }] = await q.query('SELECT pg_backend_pid() AS pid');
        await replicas[1].ds.query('SELECT pg_terminate_backend($1)', [pid]);
        for (let i = 0; i < 100 && !q.isReleased; i++) await new Promise((r) => setTimeout(r, 20));
        // A repository given the transaction's manager (a flip's settle under the fence): TypeORM's other error.
        await q.manager.query('UPDATE migration_state SET phase = $1 WHERE id = 1', ['deprecation']);
      }, 5000)
      .then(
        () => null,
        (err: unknown) => err,
      );
    expect((failure as Error).message).toMatch(/terminating connection due to administrator command/);
    expect(unavailableDependency(failure)).toBe('new');
    const [{ phase }] = await operator.ds.query('SELECT phase FROM migration_state WHERE id = 1');
    expect(phase).toBe('shadow');
  });
});
