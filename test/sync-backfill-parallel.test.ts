import { BackfillQueue } from '../src/sync/backfill/backfill.queue';
import { startTestApp, TestApp } from './support/app';
import { isolatedRedis } from './support/env';
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
  syncStatus,
  waitForRunCompleted,
  withTimeout,
  WorkerProcess,
} from './support/sync';

const DOCS = 2000;
const SYNC_ENV = {
  ...FAST_SYNC_ENV,
  CATCHUP_INTERVAL_MS: '0',
  SYNC_BATCH_SIZE: '100',
  SYNC_RANGE_SIZE: '200',
  SYNC_BACKFILL_CONCURRENCY: '2',
};

describe('backfill shared by two worker processes', () => {
  let t: TestApp;
  let workers: WorkerProcess[] = [];

  beforeAll(async () => {
    t = await startTestApp({ ...SYNC_ENV, ...isolatedRedis() });
    await t.app.get(BackfillQueue).queue.obliterate({ force: true });
    await seedLegacy(t, smallLegacyDocs(DOCS, 7));
  });

  afterAll(async () => {
    await Promise.all(workers.map((w) => stopWorker(w, 'SIGKILL')));
    await t?.close();
  });

  it('copies everything once: each range claimed and written by exactly one worker', async () => {
    workers = [0, 1].map(() => spawnWorker(t.config, { ...SYNC_ENV, WORKER_QUEUES: 'backfill' }));
    await withTimeout('both workers to start', Promise.all(workers.map((w) => w.ready)), 60_000);

    const { runId } = await startBackfill(t);
    await waitForRunCompleted(t, runId, 120_000);
    await Promise.all(workers.map((w) => stopWorker(w)));

    await expectStoresEqual(t);
    const rs = await ranges(t, runId);
    expect(rs.length).toBe(1 + DOCS / 200);
    for (const r of rs) {
      expect({ range: r.range_no, status: r.status, claims: r.claims, read: r.docs_read, written: r.docs_written }).toEqual({
        range: r.range_no,
        status: 'done',
        claims: 1,
        read: r.docs_expected,
        written: r.docs_expected,
      });
    }
    expect(rs.reduce((n, r) => n + r.docs_written, 0)).toBe(DOCS);
    // Both processes took part (claimed_by is "host:pid/claim").
    const byWorker = new Map<string, number>();
    for (const r of rs.filter((x) => x.kind === 'ids')) {
      const w = r.claimed_by!.split('/')[0];
      byWorker.set(w, (byWorker.get(w) ?? 0) + 1);
    }
    expect(byWorker.size).toBe(2);
    const status = await syncStatus(t);
    expect(status.backfill.counts).toEqual({ expected: DOCS, read: DOCS, written: DOCS, skipped: 0, dead: 0 });
  }, 240_000);

  it('a worker stopped with SIGTERM gives its ranges back between batches; the other one finishes them', async () => {
    workers = [0, 1].map(() => spawnWorker(t.config, { ...SYNC_ENV, WORKER_QUEUES: 'backfill' }));
    await withTimeout('both workers to start', Promise.all(workers.map((w) => w.ready)), 60_000);
    const { runId } = await startBackfill(t);
    await waitFor(
      'both workers to hold ranges',
      async () =>
        new Set((await ranges(t, runId)).filter((r) => r.status === 'running').map((r) => r.claimed_by!.split('/')[0])).size === 2,
      60_000,
      50,
    );
    const stoppedAt = Date.now();
    const stopped = workers[0];
    const stoppedId = `${(await ranges(t, runId)).find((r) => r.status === 'running')!.claimed_by!.split(':')[0]}:${stopped.child.pid}`;
    stopped.child.kill('SIGTERM');
    // Nest closes the application, then re-raises the signal: a clean stop ends by SIGTERM, not by a crash.
    await withTimeout('the stopped worker to exit', stopped.exited, 15_000);
    expect({ code: stopped.child.exitCode, signal: stopped.child.signalCode }).toEqual({ code: null, signal: 'SIGTERM' });
    // It did not wait for its ranges to finish: it left between batches and let its leases go.
    expect(Date.now() - stoppedAt).toBeLessThan(10_000);
    const left = (await ranges(t, runId)).filter((r) => r.status === 'running' && r.claimed_by!.startsWith(`${stoppedId}/`));
    for (const r of left) {
      const [{ lease }] = (
        await t.pg.query('SELECT lease_until AS lease FROM sync_ranges WHERE run_id = $1 AND range_no = $2', [runId, r.range_no])
      ).rows;
      expect({ range: r.range_no, lease }).toEqual({ range: r.range_no, lease: null });
    }

    await waitForRunCompleted(t, runId, 120_000);
    const rs = await ranges(t, runId);
    expect(rs.every((r) => r.status === 'done' && r.docs_read === r.docs_expected)).toBe(true);
    // Everything was already there: the second run reads all and writes nothing.
    expect((await syncStatus(t)).backfill.counts).toEqual({ expected: DOCS, read: DOCS, written: 0, skipped: DOCS, dead: 0 });
    await expectStoresEqual(t);
  }, 240_000);
});
