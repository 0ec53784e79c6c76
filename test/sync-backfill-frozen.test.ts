/**
 * Backfill shared by two worker processes, one of which is frozen (SIGSTOP: a long GC pause, a stalled VM) for
 * several times its ranges' lease and its jobs' lock while it copies, then runs again. The other one takes its range
 * over once the lease lapses; the frozen one, when it carries on, finds its lease taken and writes nothing more of it
 * (ghostferry's and Vitess's rule: a worker that lost its claim never writes again). Every document is read and
 * written exactly once, the stores are equal, and the frozen worker lives on. Two places to be frozen in:
 * - inside a batch's transaction, which holds the range's row (a claim waits for it): the claim ends that session
 *   once the batch has outlived its lease; before it did, the range waited for as long as the worker was frozen;
 * - between batches (reading, transforming, throttled): the claim just takes the lapsed lease.
 */
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
  syncStatus,
  waitForRunCompleted,
  withTimeout,
  WorkerProcess,
} from './support/sync';

const DOCS = 2000;
const SYNC_ENV = { ...FAST_SYNC_ENV, CATCHUP_INTERVAL_MS: '0', SYNC_BATCH_SIZE: '50', SYNC_RANGE_SIZE: '200' };
/** Slow enough that the run is still going when the frozen worker thaws. */
const CEILING = 150;
/** Several times SYNC_LEASE_MS and SYNC_JOB_LOCK_MS (1.5 s each). */
const FROZEN_MS = 8000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('backfill with one of two worker processes frozen past its lease', () => {
  let t: TestApp;
  let workers: WorkerProcess[] = [];

  beforeAll(async () => {
    t = await startTestApp({ ...SYNC_ENV, ...isolatedRedis() });
    await seedLegacy(t, smallLegacyDocs(DOCS, 11));
  });

  afterEach(async () => {
    for (const w of workers) w.child.kill('SIGCONT');
    await Promise.all(workers.map((w) => stopWorker(w, 'SIGKILL')));
    workers = [];
  });

  afterAll(async () => {
    await t?.close();
  });

  /** The sessions holding a running range's row in an open transaction (a batch), by the pid in its claim. */
  async function batchesInFlight(runId: number): Promise<Array<{ workerPid: number; rangeNo: number; session: number }>> {
    const rows = await t.pg.query(
      `SELECT split_part(split_part(r.claimed_by, '/', 1), ':', 2)::int AS "workerPid", r.range_no AS "rangeNo", a.pid AS session
         FROM sync_ranges r JOIN pg_stat_activity a ON a.backend_xid = r.xmax
        WHERE r.run_id = $1 AND r.status = 'running' AND a.xact_start IS NOT NULL`,
      [runId],
    );
    return rows.rows;
  }

  /** Freezes one worker while `inBatch` says whether it is inside a batch's transaction; returns it and its range. */
  async function freezeOne(runId: number, inBatch: boolean): Promise<{ frozen: WorkerProcess; rangeNo: number; claims: number }> {
    for (const deadline = Date.now() + 60_000; Date.now() < deadline; await sleep(2)) {
      const running = (await ranges(t, runId)).filter((r) => r.status === 'running' && r.docs_read > 0 && r.claimed_by);
      const inFlight = await batchesInFlight(runId);
      const candidate = inBatch
        ? running.find((r) => inFlight.some((b) => b.rangeNo === r.range_no))
        : running.find((r) => !inFlight.some((b) => b.rangeNo === r.range_no));
      if (!candidate) continue;
      const pid = Number(candidate.claimed_by!.split('/')[0].split(':').pop());
      const frozen = workers.find((w) => w.child.pid === pid);
      if (!frozen) continue;
      frozen.child.kill('SIGSTOP');
      // Still where it was meant to be once stopped? Otherwise let it go on and try again.
      const now = (await ranges(t, runId)).find((r) => r.range_no === candidate.range_no)!;
      const stillInBatch = (await batchesInFlight(runId)).some((b) => b.rangeNo === candidate.range_no && b.workerPid === pid);
      if (now.status === 'running' && now.claimed_by === candidate.claimed_by && stillInBatch === inBatch) {
        return { frozen, rangeNo: candidate.range_no, claims: now.claims };
      }
      frozen.child.kill('SIGCONT');
    }
    throw new Error(`no worker could be frozen ${inBatch ? 'inside' : 'between'} batches`);
  }

  it.each([
    ['inside a batch transaction', true],
    ['between batches', false],
  ])(
    'frozen %s: the other worker takes its range over; thawed, it writes nothing of it; all copied once',
    async (_, inBatch) => {
      // Each case copies into an empty store with a run of its own, whatever the other case left behind.
      await t.pg.query('TRUNCATE conversations, sync_runs CASCADE');
      await t.app.get(BackfillQueue).queue.obliterate({ force: true });
      const throttle = await t.request('PUT', '/migration/sync/throttle', { token: OPERATOR_TOKEN, body: { maxDocsPerSecond: CEILING } });
      expect(throttle.status).toBe(200);
      workers = [0, 1].map(() => spawnWorker(t.config, { ...SYNC_ENV, WORKER_QUEUES: 'backfill' }));
      await withTimeout('both workers to start', Promise.all(workers.map((w) => w.ready)), 60_000);
      const { runId, resumed } = await startBackfill(t);
      expect(resumed).toBe(false);

      const { frozen, rangeNo, claims } = await freezeOne(runId, inBatch);
      const frozenAt = Date.now();
      // The other worker claims the range while the frozen one is still frozen.
      await waitFor(
        `range ${rangeNo} to be claimed again`,
        async () => {
          const r = (await ranges(t, runId)).find((x) => x.range_no === rangeNo)!;
          return r.status === 'done' || (r.claims > claims && !r.claimed_by!.includes(`:${frozen.child.pid}/`));
        },
        FROZEN_MS - 1000,
        50,
      );
      await sleep(Math.max(0, FROZEN_MS - (Date.now() - frozenAt)));
      frozen.child.kill('SIGCONT');

      await t.request('PUT', '/migration/sync/throttle', { token: OPERATOR_TOKEN, body: { maxDocsPerSecond: null } });
      await waitForRunCompleted(t, runId, 120_000);
      // Neither worker died of it (the frozen one's batch session may have been ended under it).
      expect(workers.map((w) => ({ code: w.child.exitCode, signal: w.child.signalCode }))).toEqual([
        { code: null, signal: null },
        { code: null, signal: null },
      ]);
      await Promise.all(workers.map((w) => stopWorker(w)));

      await expectStoresEqual(t);
      const rs = await ranges(t, runId);
      // A batch the frozen worker had read (or written, uncommitted) was not counted, and was copied by the other one.
      expect(rs.reduce((n, r) => n + r.docs_written, 0)).toBe(DOCS);
      expect(rs.reduce((n, r) => n + r.docs_read, 0)).toBe(DOCS);
      for (const r of rs.filter((x) => x.kind === 'ids'))
        expect({ range: r.range_no, status: r.status, read: r.docs_read, written: r.docs_written }).toEqual({
          range: r.range_no,
          status: 'done',
          read: r.docs_expected,
          written: r.docs_expected,
        });
      expect(rs.find((r) => r.range_no === rangeNo)!.claims).toBeGreaterThan(claims);
      expect((await syncStatus(t)).backfill.counts).toEqual({ expected: DOCS, read: DOCS, written: DOCS, skipped: 0, dead: 0 });
    },
    240_000,
  );
});
