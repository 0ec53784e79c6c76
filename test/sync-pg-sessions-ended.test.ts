/**
 * The historical sync while PostgreSQL ends every session of the test's database, again and again (a restart, a
 * failover, pg_terminate_backend): the worker, a real process, lives through it, and the run completes with every
 * document copied exactly once. A batch commits with its range's checkpoint, so a batch whose session ended is
 * rolled back and read again, and one that committed is not.
 */
import type { Client } from 'pg';
import { BackfillQueue } from '../src/sync/backfill/backfill.queue';
import { startTestApp, TestApp } from './support/app';
import { isolatedRedis, OPERATOR_TOKEN } from './support/env';
import { endSessions, sessionKiller } from './support/pg-sessions';
import { waitFor } from './support/stores';
import {
  expectStoresEqual,
  FAST_SYNC_ENV,
  openDeadLetters,
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
const SYNC_ENV = { ...FAST_SYNC_ENV, CATCHUP_INTERVAL_MS: '0', SYNC_BATCH_SIZE: '100', SYNC_RANGE_SIZE: '300' };
/** Keeps the run going while the sessions are being ended (set through the operator endpoint, as an operator would). */
const CEILING_WHILE_ENDING = 300;
const ENDING_MS = 6000;
const END_EVERY_MS = 100;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('backfill while PostgreSQL ends every session again and again', () => {
  let t: TestApp;
  let admin: Client;
  let worker: WorkerProcess | undefined;

  beforeAll(async () => {
    t = await startTestApp({ ...SYNC_ENV, ...isolatedRedis() });
    await t.app.get(BackfillQueue).queue.obliterate({ force: true });
    await seedLegacy(t, smallLegacyDocs(DOCS, 41));
    admin = await sessionKiller(t.dbs.databaseUrl);
  });

  afterAll(async () => {
    await stopWorker(worker, 'SIGKILL');
    await admin?.end().catch(() => undefined);
    await t?.close();
  });

  const docsWritten = async (runId: number) =>
    (await t.pg.query('SELECT coalesce(sum(docs_written), 0)::int AS n FROM sync_ranges WHERE run_id = $1', [runId])).rows[0].n as number;

  it('copies every document exactly once, and the worker lives through it', async () => {
    await t.request('PUT', '/migration/sync/throttle', { token: OPERATOR_TOKEN, body: { maxDocsPerSecond: CEILING_WHILE_ENDING } });
    const { runId } = await startBackfill(t);
    worker = spawnWorker(t.config, { ...SYNC_ENV, WORKER_QUEUES: 'backfill' });
    await withTimeout('the worker to start', worker.ready, 60_000);
    await waitFor('the worker to make progress', async () => (await docsWritten(runId)) > 0, 60_000, 25);

    // Every session of this database but the test's own two (the app's, the worker's), every 100 ms for 6 s.
    const [{ pid: testPid }] = (await t.pg.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows;
    let ended = 0;
    for (const until = Date.now() + ENDING_MS; Date.now() < until;) {
      ended += await endSessions(admin, { ownDatabaseOnly: true, except: [testPid] });
      await sleep(END_EVERY_MS);
    }
    const writtenWhileEnding = await docsWritten(runId);
    const alive = worker.child.exitCode === null && worker.child.signalCode === null;
    expect(alive ? 'alive' : `died:\n${worker.output().slice(-3000)}`).toBe('alive');

    await t.request('PUT', '/migration/sync/throttle', { token: OPERATOR_TOKEN, body: { maxDocsPerSecond: null } });
    await waitForRunCompleted(t, runId, 120_000);
    console.log(JSON.stringify({ ended, writtenWhileEnding, docs: DOCS }));
    expect(ended).toBeGreaterThan(10);
    expect(writtenWhileEnding).toBeLessThan(DOCS);

    await expectStoresEqual(t);
    expect([...(await openDeadLetters(t)).keys()]).toEqual([]);
    const rs = await ranges(t, runId);
    expect(rs.reduce((n, r) => n + r.docs_written, 0)).toBe(DOCS);
    expect(rs.reduce((n, r) => n + r.docs_read, 0)).toBe(DOCS);
    expect(rs.every((r) => r.status === 'done')).toBe(true);
  }, 240_000);
});
