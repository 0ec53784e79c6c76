/**
 * An API replica frozen in the middle of a write (SIGSTOP: what a long GC pause, a stalled VM or a swapped-out
 * process does), with two replicas and a worker as processes on one set of stores. The frozen write holds the
 * write fence (shared) and its conversation's row for as long as the process is frozen; nothing else may wait for
 * it but what must:
 * - the rest of the deployment keeps writing, and processes start and restart (each boot applies
 *   MIGRATION_INITIAL_PHASE, which used to take the fence exclusively every time: it waited for the frozen write,
 *   and held up every write of the deployment while it waited);
 * - a flip of the source of truth is refused (409 CUTOVER_TIMEOUT) and changes nothing: it may never commit while a
 *   write that began under the old phase is in flight;
 * - once the replica runs again, its write completes and is acknowledged, and it is in the source of truth.
 */
import type { Client } from 'pg';
import { AdvisoryLock } from '../src/common/advisory-lock';
import { PostgresConversationStore } from '../src/stores/postgres/postgres-conversation.store';
import { APP_TOKEN, OPERATOR_TOKEN } from './support/env';
import { sessionKiller } from './support/pg-sessions';
import { PrivateCluster, startPrivateCluster } from './support/private-cluster';

const CUTOVER_LOCK_TIMEOUT_MS = 3000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('a replica frozen in the middle of a write', () => {
  let rig: PrivateCluster;
  let pg: Client;

  beforeAll(async () => {
    rig = await startPrivateCluster('frozen-replica', {
      MIGRATION_INITIAL_PHASE: 'deprecation',
      CUTOVER_LOCK_TIMEOUT_MS: String(CUTOVER_LOCK_TIMEOUT_MS),
      // Longer than a phase change waits (as the defaults are), shorter than the default, so that a write held up
      // for longer shows as a 503 within the test.
      WRITE_FENCE_WAIT_MS: '8000',
    });
    pg = await sessionKiller(rig.services.env.DATABASE_URL);
  }, 240_000);

  afterAll(async () => {
    await pg?.end().catch(() => undefined);
    await rig?.close();
  }, 120_000);

  const call = (replica: number, method: string, path: string, body?: unknown, token = APP_TOKEN) =>
    rig.cluster.request(replica, method, path, body, token, 60_000);

  /** Sessions of the deployment waiting for a row lock, and sessions holding the write fence. */
  async function locks(): Promise<{ waitingForRow: number[]; fenceHolders: Array<{ pid: number; state: string }> }> {
    const waiting = await pg.query(`SELECT DISTINCT pid FROM pg_locks WHERE NOT granted AND locktype IN ('transactionid', 'tuple')`);
    const holders = await pg.query(
      `SELECT a.pid, a.state FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
        WHERE l.locktype = 'advisory' AND l.granted AND l.mode = 'ShareLock'
          AND ((l.classid::bigint << 32) | l.objid::bigint) = $1::bigint`,
      [AdvisoryLock.WriteFence],
    );
    return { waitingForRow: waiting.rows.map((r) => r.pid), fenceHolders: holders.rows };
  }

  /** Appends to `id` through `replica`, one after another, while `during` runs; the statuses. */
  async function writingThrough(replica: number, id: string, during: () => Promise<void>): Promise<number[]> {
    const statuses: number[] = [];
    let writing = true;
    const writer = (async () => {
      for (let n = 0; writing; n++) {
        statuses.push((await call(replica, 'POST', `/conversations/${id}/messages`, { role: 'user', content: `w${n}` })).status);
        await sleep(50);
      }
    })();
    try {
      await during();
    } finally {
      writing = false;
      await writer;
    }
    return statuses;
  }

  it('holds up only its own conversation and any flip; the deployment writes and restarts; its write lands', async () => {
    const created = await Promise.all(
      ['frozen', 'other'].map((title) => call(1, 'POST', '/conversations', { userId: 'frozen-replica', title })),
    );
    expect(created.map((c) => c.status)).toEqual([201, 201]);
    const [frozenId, otherId] = created.map((c) => c.body.id as string);

    // Replica 0's append waits for the conversation's row, which the test holds, inside its fenced transaction.
    const holder = await sessionKiller(rig.services.env.DATABASE_URL);
    await holder.query('BEGIN');
    await holder.query('SELECT id FROM conversations WHERE id = $1 FOR UPDATE', [frozenId]);
    const frozenWrite = call(0, 'POST', `/conversations/${frozenId}/messages`, { role: 'user', content: 'written while frozen' });
    frozenWrite.catch(() => undefined); // awaited at the end; a failure before then is the test's own
    let frozenSession: number | undefined;
    for (const deadline = Date.now() + 20_000; frozenSession === undefined; await sleep(50)) {
      if (Date.now() > deadline) throw new Error('the append never reached the conversation row');
      frozenSession = (await locks()).waitingForRow[0];
    }
    // Frozen there; its statement then runs in PostgreSQL, and its transaction stays open with the fence held.
    const thaw = rig.cluster.replicas[0].freeze();
    await holder.query('ROLLBACK');
    await holder.end();
    await sleep(500);
    expect((await locks()).fenceHolders).toContainEqual({ pid: frozenSession, state: 'idle in transaction' });

    try {
      // The worker and the other replica restart while the frozen write holds the fence, and the other replica
      // writes all the while.
      const duringRestart = await writingThrough(1, otherId, async () => {
        await rig.cluster.worker.stop('SIGTERM');
        await rig.cluster.worker.start(60_000);
      });
      expect(duringRestart.length).toBeGreaterThan(0);
      expect(duringRestart.filter((s) => s !== 201)).toEqual([]);

      await rig.cluster.replicas[1].stop('SIGTERM');
      await rig.cluster.replicas[1].start(60_000);
      expect((await call(1, 'POST', `/conversations/${otherId}/messages`, { role: 'user', content: 'after restart' })).status).toBe(201);

      // A flip back to legacy waits for the frozen write, gives up and changes nothing. Writes wait while it waits
      // (it holds the fence's queue), and none fails: the flip gives up sooner than a write does.
      let flip: { status: number; body: any } | undefined;
      const duringFlip = await writingThrough(1, otherId, async () => {
        flip = await call(
          1,
          'POST',
          '/migration/rollback',
          { reason: 'frozen-replica test: a flip while a write is in flight', expectedStep: 'deprecation' },
          OPERATOR_TOKEN,
        );
      });
      expect({ status: flip?.status, code: flip?.body?.code }).toEqual({ status: 409, code: 'CUTOVER_TIMEOUT' });
      expect((await rig.ds.query('SELECT phase FROM migration_state'))[0].phase).toBe('deprecation');
      expect(duringFlip.length).toBeGreaterThan(0);
      expect(duringFlip.filter((s) => s !== 201)).toEqual([]);
    } finally {
      thaw();
    }

    // Running again, the replica finishes its write; it is acknowledged and in the source of truth.
    const landed = await frozenWrite;
    expect(landed.status).toBe(201);
    const store = new PostgresConversationStore(rig.ds);
    const conversation = await store.get(frozenId);
    expect(conversation?.messages.map((m) => m.content)).toEqual(['written while frozen']);
    // The frozen write's session holds the fence no more (other writes may, for a moment: the outbox's follow-ups).
    expect((await locks()).fenceHolders.map((h) => h.pid)).not.toContain(frozenSession);

    // The refused flip left nothing behind: the same flip now commits.
    const again = await call(
      1,
      'POST',
      '/migration/rollback',
      { reason: 'frozen-replica test: the flip again, nothing in flight', expectedStep: 'deprecation' },
      OPERATOR_TOKEN,
    );
    expect(again.status).toBe(200);
    expect((await rig.ds.query('SELECT phase FROM migration_state'))[0].phase).toBe('rollout');
    const audit = await rig.ds.query(`SELECT action, details->>'error' AS error FROM migration_audit ORDER BY id`);
    expect(audit).toEqual([
      {
        action: 'rollback_failed',
        error: `Writes in flight did not finish within ${CUTOVER_LOCK_TIMEOUT_MS} ms; the phase did not change`,
      },
      { action: 'rollback', error: null },
    ]);
  }, 240_000);
});
