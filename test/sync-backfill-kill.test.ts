import { randomInt } from 'node:crypto';
import { BackfillQueue } from '../src/sync/backfill/backfill.queue';
import { startTestApp, TestApp } from './support/app';
import { isolatedRedis, OPERATOR_TOKEN } from './support/env';
import { waitFor } from './support/stores';
import {
  expectStoresEqual,
  FAST_SYNC_ENV,
  ranges,
  seedLegacy,
  smallLegacyDocs,
  spawnWorker,
  startBackfill,
  stopWorker,
  waitForRunCompleted,
  withTimeout,
  WorkerProcess,
} from './support/sync';

const DOCS = 3000;
const KILLS = 5;
const SYNC_ENV = { ...FAST_SYNC_ENV, CATCHUP_INTERVAL_MS: '0', SYNC_BATCH_SIZE: '100', SYNC_RANGE_SIZE: '300' };
/**
 * While killing, a ceiling (set through the operator endpoint, so every worker obeys it) keeps a worker
 * from finishing the run between two kills: at most one second's burst plus what it copies before the kill.
 */
const CEILING_WHILE_KILLING = 200;

describe('backfill with a worker process SIGKILLed at random points', () => {
  let t: TestApp;
  let worker: WorkerProcess | undefined;

  beforeAll(async () => {
    t = await startTestApp({ ...SYNC_ENV, ...isolatedRedis() });
    await t.app.get(BackfillQueue).queue.obliterate({ force: true });
    await seedLegacy(t, smallLegacyDocs(DOCS, 99));
  });

  afterAll(async () => {
    await stopWorker(worker, 'SIGKILL');
    await t?.close();
  });

  const docsRead = async (runId: number) =>
    (await t.pg.query('SELECT coalesce(sum(docs_read), 0)::int AS n FROM sync_ranges WHERE run_id = $1', [runId])).rows[0].n as number;

  it(`loses nothing and copies nothing twice across ${KILLS} kills`, async () => {
    const throttle = await t.request('PUT', '/migration/sync/throttle', {
      token: OPERATOR_TOKEN,
      body: { maxDocsPerSecond: CEILING_WHILE_KILLING },
    });
    expect(throttle.body).toEqual({ maxDocsPerSecond: CEILING_WHILE_KILLING, source: 'operator' });
    const { runId } = await startBackfill(t);
    const killedAt: number[] = [];
    for (let kill = 0; kill < KILLS; kill++) {
      worker = spawnWorker(t.config, { ...SYNC_ENV, WORKER_QUEUES: 'backfill' });
      await withTimeout('the worker to start', worker.ready, 30_000);
      const before = await docsRead(runId);
      // Let it commit at least one batch, then kill it somewhere: mid-read, mid-transaction, mid-claim.
      await waitFor('the worker to make progress', async () => (await docsRead(runId)) > before, 60_000, 25);
      await new Promise((r) => setTimeout(r, randomInt(0, 300)));
      worker.child.kill('SIGKILL');
      await withTimeout('the killed worker to exit', worker.exited, 10_000);
      killedAt.push(await docsRead(runId));
      const [{ status }] = (await t.pg.query('SELECT status FROM sync_runs WHERE id = $1', [runId])).rows;
      expect({ kill, status }).toEqual({ kill, status: 'running' });
    }
    expect(killedAt.length).toBe(KILLS);

    // The last worker runs to the end without a ceiling.
    await t.request('PUT', '/migration/sync/throttle', { token: OPERATOR_TOKEN, body: { maxDocsPerSecond: null } });
    worker = spawnWorker(t.config, { ...SYNC_ENV, WORKER_QUEUES: 'backfill' });
    await waitForRunCompleted(t, runId, 120_000);
    await stopWorker(worker);

    await expectStoresEqual(t);
    const rs = await ranges(t, runId);
    // Each batch committed with its checkpoint: a batch a killed worker did not commit was redone, one it
    // committed was not, so every document was read and written exactly once.
    expect(rs.reduce((n, r) => n + r.docs_written, 0)).toBe(DOCS);
    expect(rs.reduce((n, r) => n + r.docs_read, 0)).toBe(DOCS);
    for (const r of rs.filter((x) => x.kind === 'ids'))
      expect({ range: r.range_no, read: r.docs_read, written: r.docs_written }).toEqual({
        range: r.range_no,
        read: r.docs_expected,
        written: r.docs_expected,
      });
    // The kills did interrupt ranges: some were claimed again after their worker died.
    expect(rs.some((r) => r.claims > 1)).toBe(true);
    expect(rs.every((r) => r.status === 'done')).toBe(true);
  }, 240_000);
});
