/**
 * The flip into the new store while another session holds the row of a conversation the final catch-up must write:
 * a sync batch frozen (a GC pause, a stalled VM) in the middle of its transaction, whose upsert holds the rows it
 * wrote, modelled by a session of the test's that locks one. Two API replicas and a worker as processes, clients
 * writing to shared conversations through both replicas.
 *
 * The legacy application changed that conversation since the last pass, and the sync is paused, so the flip's first
 * pass is the one under the write fence (every write of the deployment waits meanwhile). What must hold: the flip
 * gives up on the row after CUTOVER_LOCK_TIMEOUT_MS (4 s here) and is refused, changing nothing; no write fails
 * meanwhile; and once the row is free the same flip commits, with the legacy application's change and every
 * acknowledged write in the new store.
 */
import type { Client } from 'pg';
import { OPERATOR_TOKEN } from './support/env';
import { advanceTo } from './support/history/operator';
import { expectAcknowledgedIn, FollowUpRig, flipWhileWriting, startFollowUpRig } from './support/follow-ups';
import { sessionKiller } from './support/pg-sessions';

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
    await advanceTo(rig.cluster, 'rollout-100');
  }, 240_000);

  afterAll(async () => {
    await holder?.end().catch(() => undefined);
    await rig?.close();
  }, 120_000);

  const flip = (reason: string) =>
    rig.cluster.request(0, 'POST', '/migration/advance', { reason, expectedStep: 'rollout-100', force: true }, OPERATOR_TOKEN, 180_000);

  it('is refused after the lock timeout without failing a write, and commits once the row is free', async () => {
    const ids: string[] = [];
    for (let i = 0; i <= CONVERSATIONS; i++) {
      const res = await rig.cluster.request(i % 2, 'POST', '/conversations', { userId: 'row-locked', title: `t${i}` });
      expect(res.status).toBe(201);
      ids.push(res.body.id);
    }
    const locked = ids.pop()!;
    // Scheduled passes skip while the sync is paused; the cutover's pass under the fence does not.
    const paused = await rig.cluster.request(1, 'POST', '/migration/sync/pause', { reason: 'cutover-row-locked test' }, OPERATOR_TOKEN);
    expect(paused.status).toBe(200);
    // The legacy application's own write, which only a catch-up pass brings to the new store.
    const before = (await rig.legacy.get(locked))!;
    const at = new Date(Math.max(Date.now(), before.updatedAt.getTime() + 1));
    const changed = {
      ...before,
      messages: [...before.messages, { role: 'user' as const, content: 'written by the legacy application', createdAt: at }],
      updatedAt: at,
      version: before.version + 1,
    };
    expect(await rig.legacy.update(changed, before.version, 'append')).toBe(true);
    holder = await sessionKiller(rig.services.env.DATABASE_URL);
    await holder.query('BEGIN');
    await holder.query('SELECT 1 FROM conversations WHERE id = $1 FOR UPDATE', [locked]);

    const { answer: refused, writers } = await flipWhileWriting(rig.cluster, ids, CLIENTS, () =>
      flip('cutover-row-locked test: flip while a row is locked'),
    );

    expect({ status: refused.status, code: refused.body?.code }).toEqual({ status: 409, code: 'CUTOVER_FAILED' });
    expect(refused.body.message).toMatch(/locked by another session/);
    expect((await rig.cluster.request(0, 'GET', '/migration/status', undefined, OPERATOR_TOKEN)).body).toMatchObject({
      step: 'rollout-100',
      sourceOfTruth: 'legacy',
    });
    expect(writers.writesDuring).toBeGreaterThan(0);
    expect(writers.refused).toEqual([]);

    await holder.query('ROLLBACK');
    const again = await flip('cutover-row-locked test: the flip again, the row free');
    expect(again.status).toBe(200);
    expect((await rig.cluster.request(0, 'GET', '/migration/status', undefined, OPERATOR_TOKEN)).body).toMatchObject({
      step: 'deprecation',
      sourceOfTruth: 'new',
    });
    expect((await rig.pg.get(locked))?.version).toBe(changed.version);
    expect((await rig.cluster.request(0, 'GET', `/conversations/${locked}`)).body.messages.at(-1).content).toBe(
      'written by the legacy application',
    );
    await expectAcknowledgedIn(rig.pg, writers.acked);
    const audit: Array<{ action: string; error: string | null }> = await rig.ds.query(
      `SELECT action, details->>'error' AS error FROM migration_audit WHERE action LIKE 'advance%' AND action <> 'advance_forced' ORDER BY id`,
    );
    expect(audit).toEqual([{ action: 'advance_failed', error: refused.body.message }]);
  }, 400_000);
});
