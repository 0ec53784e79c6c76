/**
 * The flip's fenced half against the patience of the writes it holds. Writes wait for the write fence at most
 * WRITE_FENCE_WAIT_MS (5 s here) and are then answered 503; each lock wait of the fenced half is bounded by
 * CUTOVER_LOCK_TIMEOUT_MS (4.5 s here), but several waits that each stay under it add up. Two API replicas and a
 * worker as processes, clients writing to shared conversations through both replicas.
 *
 * Under the fence the flip settles a follow-up whose row a session holds for 3 s (a sync batch frozen for a moment),
 * then runs its final catch-up, which must write a second row a session holds until the test lets it go. Each wait is
 * under the lock timeout; together they would hold writes 7.5 s. What must hold: the flip gives up within its budget
 * (WRITE_FENCE_WAIT_MS less a margin, 4 s here) and is refused, changing nothing; no write is answered 5xx for it;
 * and once the rows are free the same flip commits, with every acknowledged write in the new store.
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
const FENCE_WAIT_MS = 5000;
const LOCK_TIMEOUT_MS = 4500;
/** How long the first row is held once the flip is sent: under the lock timeout, most of the budget. */
const FIRST_HOLD_MS = 3000;

describe('the flip under the write fence within the time writes wait for it', () => {
  let rig: FollowUpRig;
  const holders: Client[] = [];

  beforeAll(async () => {
    rig = await startFollowUpRig('cutover-fence-budget', {
      MIGRATION_INITIAL_PHASE: 'rollout',
      FOLLOW_UP_DELAY_MS: '50',
      WRITE_FENCE_WAIT_MS: String(FENCE_WAIT_MS),
      CUTOVER_LOCK_TIMEOUT_MS: String(LOCK_TIMEOUT_MS),
    });
    await completeBackfill(rig.cluster);
    await advanceTo(rig.cluster, 'rollout-100');
  }, 240_000);

  afterAll(async () => {
    for (const h of holders) await h.end().catch(() => undefined);
    await rig?.close();
  }, 120_000);

  const flip = (reason: string) =>
    rig.cluster.request(0, 'POST', '/migration/advance', { reason, expectedStep: 'rollout-100', force: true }, OPERATOR_TOKEN, 180_000);

  const step = async () => (await rig.cluster.request(0, 'GET', '/migration/status', undefined, OPERATOR_TOKEN)).body;

  it('is refused when its waits add up past the budget, answers no write 5xx, and commits once the rows are free', async () => {
    const ids: string[] = [];
    for (let i = 0; i < CONVERSATIONS + 2; i++) {
      const res = await rig.cluster.request(i % 2, 'POST', '/conversations', { userId: 'fence-budget', title: `t${i}` });
      expect(res.status).toBe(201);
      ids.push(res.body.id);
    }
    const [settled, caughtUp] = ids.slice(CONVERSATIONS);
    // Scheduled passes skip while the sync is paused; the cutover's pass under the fence does not.
    const paused = await rig.cluster.request(1, 'POST', '/migration/sync/pause', { reason: 'cutover-fence-budget test' }, OPERATOR_TOKEN);
    expect(paused.status).toBe(200);
    // The first: a legacy write whose copy in the new store failed, its follow-up handed over a moment ago (a job
    // Redis lost), so that only the flip settles it. The second: a legacy application's write only the final pass copies.
    const changed = [await legacyApplicationWrite(rig, settled), await legacyApplicationWrite(rig, caughtUp)];
    await rig.ds.query(`INSERT INTO repair_outbox (conversation_id, source, reason, enqueued_at) VALUES ($1, 'legacy', $2, now())`, [
      settled,
      'cutover-fence-budget test: secondary write failed',
    ]);
    const first = await lockConversationRow(rig, settled);
    const second = await lockConversationRow(rig, caughtUp);
    holders.push(first, second);

    const { answer: refused, writers } = await flipWhileWriting(rig.cluster, ids.slice(0, CONVERSATIONS), CLIENTS, () => {
      setTimeout(() => void first.query('COMMIT').catch(() => undefined), FIRST_HOLD_MS);
      return flip('cutover-fence-budget test: flip while two rows are held');
    });
    expect({ status: refused.status, code: refused.body?.code }).toEqual({ status: 409, code: 'CUTOVER_FAILED' });
    expect(refused.body.message).toMatch(/ran out of its 4000 ms .* at: the final catch-up/);
    expect(await step()).toMatchObject({ step: 'rollout-100', sourceOfTruth: 'legacy' });
    expect(writers.writesDuring).toBeGreaterThan(0);
    // Not one write answered 503 CUTOVER_IN_PROGRESS (or anything else) because of the flip.
    expect(writers.refused).toEqual([]);

    await second.end();
    const again = await flip('cutover-fence-budget test: the flip again, the rows free');
    expect(again.status).toBe(200);
    expect(await step()).toMatchObject({ step: 'deprecation', sourceOfTruth: 'new' });
    await expectAcknowledgedIn(rig.pg, writers.acked);
    expect([(await rig.pg.get(settled))?.version, (await rig.pg.get(caughtUp))?.version]).toEqual(changed.map((c) => c.version));
  }, 400_000);
});
