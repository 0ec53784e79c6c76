/**
 * The flip into the new store while another process holds the catch-up pass's lock: a worker frozen (a GC pause, a
 * stalled VM) or gone silent in the middle of a pass, modelled by a session of the test's holding that lock. Two API
 * replicas and a worker as processes, clients writing to shared conversations through both replicas.
 *
 * The flip needs a final catch-up pass under the write fence (every write waits meanwhile), and a pass needs that
 * lock. What must hold: the flip is refused and changes nothing, no write fails meanwhile (the flip never waits for
 * the lock while it holds the writes), and once the lock is free the same flip commits with every acknowledged write
 * in the new store.
 */
import type { Client } from 'pg';
import { AdvisoryLock } from '../src/common/advisory-lock';
import { OPERATOR_TOKEN } from './support/env';
import { advanceTo, completeBackfill } from './support/history/operator';
import { expectAcknowledgedIn, FollowUpRig, flipWhileWriting, startFollowUpRig } from './support/follow-ups';
import { sessionKiller } from './support/pg-sessions';

const CONVERSATIONS = 8;
const CLIENTS = 4;

describe('the flip into the new store while a catch-up pass holds its lock elsewhere', () => {
  let rig: FollowUpRig;
  let holder: Client | undefined;

  beforeAll(async () => {
    rig = await startFollowUpRig('cutover-catchup-held', { MIGRATION_INITIAL_PHASE: 'rollout', FOLLOW_UP_DELAY_MS: '50' });
    // The historical sync, which the flip into deprecation needs (force cannot pass it).
    await completeBackfill(rig.cluster);
    await advanceTo(rig.cluster, 'rollout-100');
  }, 240_000);

  afterAll(async () => {
    await holder?.end().catch(() => undefined);
    await rig?.close();
  }, 120_000);

  const flip = (reason: string) =>
    rig.cluster.request(0, 'POST', '/migration/advance', { reason, expectedStep: 'rollout-100', force: true }, OPERATOR_TOKEN, 180_000);

  it('is refused without failing a write, and commits once the lock is free', async () => {
    const ids: string[] = [];
    for (let i = 0; i < CONVERSATIONS; i++) {
      const res = await rig.cluster.request(i % 2, 'POST', '/conversations', { userId: 'catchup-held', title: `t${i}` });
      expect(res.status).toBe(201);
      ids.push(res.body.id);
    }
    holder = await sessionKiller(rig.services.env.DATABASE_URL);
    await holder.query('SELECT pg_advisory_lock($1::bigint)', [AdvisoryLock.CatchupPass]);

    const { answer: refused, writers } = await flipWhileWriting(rig.cluster, ids, CLIENTS, () =>
      flip('cutover-catchup-held test: flip while the pass lock is held'),
    );

    expect({ status: refused.status, code: refused.body?.code }).toEqual({ status: 409, code: 'CUTOVER_FAILED' });
    expect((await rig.cluster.request(0, 'GET', '/migration/status', undefined, OPERATOR_TOKEN)).body).toMatchObject({
      step: 'rollout-100',
      sourceOfTruth: 'legacy',
    });
    expect(writers.writesDuring).toBeGreaterThan(0);
    expect(writers.refused).toEqual([]);

    await holder.query('SELECT pg_advisory_unlock($1::bigint)', [AdvisoryLock.CatchupPass]);
    const again = await flip('cutover-catchup-held test: the flip again, the lock free');
    expect(again.status).toBe(200);
    expect((await rig.cluster.request(0, 'GET', '/migration/status', undefined, OPERATOR_TOKEN)).body).toMatchObject({
      step: 'deprecation',
      sourceOfTruth: 'new',
    });
    await expectAcknowledgedIn(rig.pg, writers.acked);
    // The refused flip is in the audit log with its reason (the forced advances are audited as such).
    const audit: Array<{ action: string; error: string | null }> = await rig.ds.query(
      `SELECT action, details->>'error' AS error FROM migration_audit WHERE action NOT IN ('traffic_change', 'advance_forced') ORDER BY id`,
    );
    expect(audit).toEqual([{ action: 'advance_failed', error: refused.body.message }]);
  }, 400_000);
});
