/**
 * A store that stops answering in the middle of the flip's fenced half. Writes wait for the write fence at most
 * WRITE_FENCE_WAIT_MS (5 s here) and are then answered 503; the fenced half's lock waits are bounded by its budget
 * (4 s here, test/cutover-fence-budget.test.ts), but a read or write of a store that hangs is not a lock wait. Two
 * API replicas and a worker as processes, clients writing to shared conversations through both replicas.
 *
 * Each flip settles, under the fence, a follow-up whose outbox row a session of the test holds. While the settle waits
 * for that row, the test freezes the legacy server (SIGSTOP: its connections stay open and nothing answers) and lets
 * the row go; the fenced half's next step then waits for legacy:
 * - out of deprecation (the new store the source of truth, so the writes themselves never need legacy), the
 *   comparison of the stores;
 * - into deprecation, the final catch-up pass, which holds the catch-up pass lock.
 * What must hold: the move is refused within its budget (409 CUTOVER_FAILED, the phase unchanged), without waiting
 * for legacy; no write is answered 5xx for it; and once legacy answers again the same flip commits, with every
 * acknowledged write in the new source of truth. Into deprecation that needs the pass lock, which the pass given up
 * on keeps until it ends.
 */
import type { Client } from 'pg';
import { AdvisoryLock } from '../src/common/advisory-lock';
import { OPERATOR_TOKEN } from './support/env';
import { advanceTo, completeBackfill } from './support/history/operator';
import { expectAcknowledgedIn, expectLegacyCaughtUp, FollowUpRig, flipWhileWriting, startFollowUpRig } from './support/follow-ups';
import { sessionKiller } from './support/pg-sessions';

const CONVERSATIONS = 8;
const CLIENTS = 4;
const FENCE_WAIT_MS = 5000;
const LOCK_TIMEOUT_MS = 4500;
/** Legacy is thawed this long after the freeze whatever happened (a cutover that waits for it would wait for ever). */
const MAX_FREEZE_MS = 20_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('a store that hangs under the write fence', () => {
  let rig: FollowUpRig;
  let holder: Client | undefined;
  let frozen = false;
  const thaw = () => {
    if (frozen) rig.services.freeze('ferretdb', false);
    frozen = false;
  };

  beforeAll(async () => {
    rig = await startFollowUpRig('cutover-legacy-hung', {
      MIGRATION_INITIAL_PHASE: 'rollout',
      FOLLOW_UP_DELAY_MS: '50',
      WRITE_FENCE_WAIT_MS: String(FENCE_WAIT_MS),
      CUTOVER_LOCK_TIMEOUT_MS: String(LOCK_TIMEOUT_MS),
    });
    await completeBackfill(rig.cluster);
    await advanceTo(rig.cluster, 'deprecation');
  }, 240_000);

  afterAll(async () => {
    if (rig) thaw();
    await holder?.end().catch(() => undefined);
    await rig?.close();
  }, 120_000);

  const rollback = (reason: string) =>
    rig.cluster.request(0, 'POST', '/migration/rollback', { reason, expectedStep: 'deprecation' }, OPERATOR_TOKEN, 180_000);

  const step = async () => (await rig.cluster.request(0, 'GET', '/migration/status', undefined, OPERATOR_TOKEN)).body;

  /** Resolves once a session waits for the test's session (the fenced settle, at the held outbox row). */
  async function blockedBy(pid: number, timeoutMs: number): Promise<void> {
    for (const deadline = Date.now() + timeoutMs; Date.now() < deadline; await sleep(20)) {
      const [{ n }] = await rig.ds.query('SELECT count(*)::int AS n FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))', [pid]);
      if (n > 0) return;
    }
    throw new Error('no session waited for the held outbox row');
  }

  const ids: string[] = [];

  /** A conversation written through the API, for the writers or for the follow-up the flip settles. */
  async function conversation(title: string): Promise<string> {
    const res = await rig.cluster.request(ids.length % 2, 'POST', '/conversations', { userId: 'legacy-hung', title });
    expect(res.status).toBe(201);
    return res.body.id;
  }

  /**
   * `flip` sent while clients write to `ids`, with a follow-up from `source` of a conversation of its own in the outbox
   * (handed over a moment ago, as a job Redis lost: only the flip settles it) whose row the test holds. Once the flip's
   * settle waits for that row under the fence, legacy freezes and the row goes; legacy is thawed once the flip answered.
   */
  async function freezeUnderFence(
    source: 'new' | 'legacy',
    flip: () => Promise<{ status: number; body: any }>,
    whileFrozen: () => Promise<void> = async () => undefined,
  ) {
    const settled = await conversation('settled by the flip');
    const [{ id: row }] = await rig.ds.query(
      `INSERT INTO repair_outbox (conversation_id, source, reason, enqueued_at) VALUES ($1, $2, $3, now()) RETURNING id`,
      [settled, source, 'cutover-legacy-hung test: a follow-up only the flip settles'],
    );
    holder = await sessionKiller(rig.services.env.DATABASE_URL);
    await holder.query('BEGIN');
    await holder.query('SELECT 1 FROM repair_outbox WHERE id = $1 FOR UPDATE', [row]);
    const [{ pid }] = (await holder.query('SELECT pg_backend_pid() AS pid')).rows;
    const safety = setTimeout(thaw, MAX_FREEZE_MS);
    try {
      return await flipWhileWriting(rig.cluster, ids, CLIENTS, async () => {
        const answer = flip();
        await blockedBy(pid, 30_000);
        rig.services.freeze('ferretdb', true);
        frozen = true;
        await holder!.query('COMMIT');
        const answered = await answer;
        await whileFrozen();
        thaw();
        return answered;
      });
    } finally {
      clearTimeout(safety);
      thaw();
      await holder.end().catch(() => undefined);
      holder = undefined;
    }
  }

  it('out of deprecation: refused within its budget, no write failing, and committed once legacy has caught up', async () => {
    for (let i = 0; i < CONVERSATIONS; i++) ids.push(await conversation(`t${i}`));
    const { answer: refused, writers } = await freezeUnderFence('new', () =>
      rollback('cutover-legacy-hung test: rollback while legacy stops answering under the fence'),
    );
    expect({ status: refused.status, code: refused.body?.code }).toEqual({ status: 409, code: 'CUTOVER_FAILED' });
    expect(refused.body.message).toMatch(/ran out of its 4000 ms .* waiting for a store that did not answer/);
    expect(await step()).toMatchObject({ step: 'deprecation', sourceOfTruth: 'new' });
    expect(writers.writesDuring).toBeGreaterThan(0);
    // Not one write answered 503 CUTOVER_IN_PROGRESS (or anything else) because of the flip.
    expect(writers.refused).toEqual([]);

    await expectLegacyCaughtUp(rig, ids);
    const again = await rollback('cutover-legacy-hung test: the rollback again, legacy answering');
    expect(again.status).toBe(200);
    expect(await step()).toMatchObject({ step: 'rollout-100', sourceOfTruth: 'legacy' });
    await expectAcknowledgedIn(rig.legacy, writers.acked);
  }, 400_000);

  it('into deprecation: refused within its budget in its final catch-up, and committed once the pass given up on ended', async () => {
    const advance = (reason: string) =>
      rig.cluster.request(0, 'POST', '/migration/advance', { reason, expectedStep: 'rollout-100', force: true }, OPERATOR_TOKEN, 180_000);
    let lockHeld: number | undefined;
    const { answer: refused, writers } = await freezeUnderFence(
      'legacy',
      () => advance('cutover-legacy-hung test: flip while legacy stops answering under the fence'),
      // Refused, legacy still frozen: the pass given up on still waits for it, under the pass lock.
      async () => {
        const [{ n }] = await rig.ds.query(
          `SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND granted AND objid::text = $1 AND objsubid = 1`,
          [AdvisoryLock.CatchupPass],
        );
        lockHeld = n;
      },
    );
    expect({ status: refused.status, code: refused.body?.code }).toEqual({ status: 409, code: 'CUTOVER_FAILED' });
    expect(refused.body.message).toMatch(/ran out of its 4000 ms .* at: the final catch-up, waiting for a store that did not answer/);
    expect(await step()).toMatchObject({ step: 'rollout-100', sourceOfTruth: 'legacy' });
    expect(writers.writesDuring).toBeGreaterThan(0);
    expect(writers.refused).toEqual([]);
    expect(lockHeld).toBe(1);

    // The pass given up on ends once legacy answers, and gives the pass lock up: the flip takes it again and commits.
    const again = await advance('cutover-legacy-hung test: the flip again, legacy answering');
    expect(again.status).toBe(200);
    expect(await step()).toMatchObject({ step: 'deprecation', sourceOfTruth: 'new' });
    await expectAcknowledgedIn(rig.pg, writers.acked);
  }, 400_000);
});
