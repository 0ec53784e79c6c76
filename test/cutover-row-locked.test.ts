/**
 * The flip into the new store while another session holds the row of a conversation the final catch-up must write:
 * a sync batch frozen (a GC pause, a stalled VM) in the middle of its transaction, whose upsert holds the rows it
 * wrote, modelled by a session of the test's that locks one. Two API replicas and a worker as processes, clients
 * writing to shared conversations through both replicas.
 *
 * The legacy application changed that conversation since the last pass, and the sync is paused, so the flip's first
 * pass is the one under the write fence (every write of the deployment waits meanwhile). Then the same with a
 * follow-up of that conversation in the outbox (its copy to the new store failed), which the flip settles under the
 * fence. What must hold in both: the flip gives up on the row after CUTOVER_LOCK_TIMEOUT_MS (4 s here) and is
 * refused, changing nothing; no write fails meanwhile; and once the row is free the same flip commits, with the
 * legacy change and every acknowledged write in the new store.
 */
import type { Client } from 'pg';
import { OPERATOR_TOKEN } from './support/env';
import { advanceTo, completeBackfill } from './support/history/operator';
import {
  expectAcknowledgedIn,
  FollowUpRig,
  flipWhileWriting,
  legacyApplicationWrite,
  lockConversationRow,
  startFollowUpRig,
} from './support/follow-ups';

const CONVERSATIONS = 8;
const CLIENTS = 4;
const LOCK_TIMEOUT_MS = 4000;

describe('the flip into the new store while a row the final catch-up writes is locked elsewhere', () => {
  let rig: FollowUpRig;
  let holder: Client | undefined;

  beforeAll(async () => {
    rig = await startFollowUpRig('cutover-row-locked', {
      MIGRATION_INITIAL_PHASE: 'rollout',
      FOLLOW_UP_DELAY_MS: '50',
      CUTOVER_LOCK_TIMEOUT_MS: String(LOCK_TIMEOUT_MS),
    });
    // The historical sync, which the flip into deprecation needs (force cannot pass it).
    await completeBackfill(rig.cluster);
    await advanceTo(rig.cluster, 'rollout-100');
  }, 240_000);

  afterAll(async () => {
    await holder?.end().catch(() => undefined);
    await rig?.close();
  }, 120_000);

  const legacyAppWrite = (id: string) => legacyApplicationWrite(rig, id);
  const lockRow = async (id: string) => (holder = await lockConversationRow(rig, id));

  const flip = (reason: string) =>
    rig.cluster.request(0, 'POST', '/migration/advance', { reason, expectedStep: 'rollout-100', force: true }, OPERATOR_TOKEN, 180_000);

  const expectStep = async (step: string, sourceOfTruth: string) =>
    expect((await rig.cluster.request(0, 'GET', '/migration/status', undefined, OPERATOR_TOKEN)).body).toMatchObject({
      step,
      sourceOfTruth,
    });

  /** Conversations made through both replicas: the writers' ones, and one more (the last) whose row gets locked. */
  const conversations = async (userId: string) => {
    const ids: string[] = [];
    for (let i = 0; i <= CONVERSATIONS; i++) {
      const res = await rig.cluster.request(i % 2, 'POST', '/conversations', { userId, title: `t${i}` });
      expect(res.status).toBe(201);
      ids.push(res.body.id);
    }
    return { ids: ids.slice(0, -1), locked: ids[ids.length - 1] };
  };

  /**
   * The flip while `row` is held, writers on `ids`: refused (its message matching `refusal`), no write failed; then,
   * the row free, the same flip commits with every acknowledged write in the new store.
   */
  const refusedThenCommitted = async (ids: string[], row: Client, refusal: RegExp, label: string) => {
    const { answer: refused, writers } = await flipWhileWriting(rig.cluster, ids, CLIENTS, () =>
      flip(`cutover-row-locked test: flip while ${label} is locked`),
    );
    expect({ status: refused.status, code: refused.body?.code }).toEqual({ status: 409, code: 'CUTOVER_FAILED' });
    expect(refused.body.message).toMatch(refusal);
    await expectStep('rollout-100', 'legacy');
    expect(writers.writesDuring).toBeGreaterThan(0);
    expect(writers.refused).toEqual([]);

    await row.end();
    const again = await flip(`cutover-row-locked test: the flip again, ${label} free`);
    expect(again.status).toBe(200);
    await expectStep('deprecation', 'new');
    await expectAcknowledgedIn(rig.pg, writers.acked);
    return refused;
  };

  it('is refused after the lock timeout without failing a write, and commits once the row is free', async () => {
    const { ids, locked } = await conversations('row-locked');
    // Scheduled passes skip while the sync is paused; the cutover's pass under the fence does not.
    const paused = await rig.cluster.request(1, 'POST', '/migration/sync/pause', { reason: 'cutover-row-locked test' }, OPERATOR_TOKEN);
    expect(paused.status).toBe(200);
    const changed = await legacyAppWrite(locked);
    const refused = await refusedThenCommitted(ids, await lockRow(locked), /catch-up must write was locked by another session/, 'a row');

    expect((await rig.pg.get(locked))?.version).toBe(changed.version);
    expect((await rig.cluster.request(0, 'GET', `/conversations/${locked}`)).body.messages.at(-1).content).toBe(
      'written by the legacy application',
    );
    const audit: Array<{ action: string; error: string | null }> = await rig.ds.query(
      `SELECT action, details->>'error' AS error FROM migration_audit WHERE action LIKE 'advance%' AND action <> 'advance_forced' ORDER BY id`,
    );
    expect(audit).toEqual([{ action: 'advance_failed', error: refused.body.message }]);
  }, 400_000);

  it('a follow-up it settles under the fence on a locked row: refused after the lock timeout, commits once the row is free', async () => {
    const back = await rig.cluster.request(
      1,
      'POST',
      '/migration/rollback',
      { reason: 'cutover-row-locked test: back to legacy', expectedStep: 'deprecation' },
      OPERATOR_TOKEN,
      180_000,
    );
    expect(back.status).toBe(200);
    await expectStep('rollout-100', 'legacy');
    const { ids, locked } = await conversations('row-locked-2');
    // A write legacy took whose copy in the new store failed: its follow-up (legacy -> new) waits in the outbox,
    // handed over a moment ago (a job Redis lost), so that only the flip settles it.
    const changed = await legacyAppWrite(locked);
    await rig.ds.query(`INSERT INTO repair_outbox (conversation_id, source, reason, enqueued_at) VALUES ($1, 'legacy', $2, now())`, [
      locked,
      'cutover-row-locked test: secondary write failed',
    ]);
    await refusedThenCommitted(ids, await lockRow(locked), /settle must write was locked by another session/, 'a followed-up row');

    expect((await rig.pg.get(locked))?.version).toBe(changed.version);
    const [{ n }] = await rig.ds.query(`SELECT count(*)::int AS n FROM repair_outbox WHERE conversation_id = $1`, [locked]);
    expect(n).toBe(0);
  }, 400_000);
});
