/**
 * Nothing is lost when legacy is down for a long time while the new store is the source of truth (issue 18,
 * item 2): two API replicas and a worker as processes (the history checker's cluster) on a private set of
 * servers, in deprecation. Clients create, append to and patch shared conversations through both replicas while
 * the legacy server is stopped for LEGACY_DOWN_MS (default a minute) and started again.
 *
 * The hour is compressed: repair jobs get 3 attempts 100 ms apart, so a job handed over while legacy is down
 * runs out within the outage as it would within an hour with the production settings, and what keeps the
 * follow-ups alive is what keeps them alive in production: their rows in repair_outbox, which the replayers
 * hold back while legacy does not answer and hand to the repair queue once it does. The rollback gate's
 * threshold is a third of the outage.
 *
 * While legacy is down every write is acknowledged (it is not the source of truth), the follow-ups wait and the
 * status says how many and how old, and the rollback out of deprecation is refused by its gate. Once legacy is
 * back it receives everything: every conversation equal in canonical form in both stores, the outbox empty.
 */
import { OPERATOR_TOKEN } from './support/env';
import { expectAcknowledgedIn, expectLegacyCaughtUp, FollowUpRig, startFollowUpRig, startWriters } from './support/follow-ups';

const DOWN_MS = Number(process.env.LEGACY_DOWN_MS ?? 60_000);
const CONVERSATIONS = 12;
const CLIENTS = 6;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('legacy down for a long time in deprecation: the follow-ups wait, then everything arrives', () => {
  let rig: FollowUpRig;

  beforeAll(async () => {
    rig = await startFollowUpRig('follow-ups-outage', {
      REPAIR_ATTEMPTS: '3',
      REPAIR_BACKOFF_MS: '100',
      // The rollback gate's threshold, compressed like the outage (60 s in production).
      GATE_MAX_FOLLOW_UP_LAG_MS: String(Math.round(DOWN_MS / 3)),
    });
  }, 240_000);

  afterAll(async () => {
    await rig?.close();
  }, 120_000);

  const call = (replica: number, method: string, p: string, body?: unknown, token?: string) =>
    rig.cluster.request(replica, method, p, body, token);

  it('acknowledges every write while legacy is down, refuses the flip back meanwhile, and legacy receives every one after', async () => {
    const status = async () => (await call(0, 'GET', '/migration/status', undefined, OPERATOR_TOKEN)).body;
    expect(await status()).toMatchObject({ phase: 'deprecation', sourceOfTruth: 'new', dualWrite: true });

    const ids: string[] = [];
    for (let i = 0; i < CONVERSATIONS; i++) {
      const res = await call(i, 'POST', '/conversations', {
        userId: 'outage-user',
        title: `t${i}`,
        messages: [{ role: 'user', content: `first ${i}` }],
      });
      expect(res.status).toBe(201);
      ids.push(res.body.id);
    }

    let down = false;
    const writers = startWriters(rig.cluster, ids, CLIENTS, () => down);
    await sleep(2000);
    await rig.services.stop('ferretdb');
    down = true;
    const t0 = Date.now();
    // Halfway through, and near the end: the backlog is visible, and the flip back is refused by its gate.
    await sleep(DOWN_MS / 2);
    const mid = await status();
    await sleep(Math.max(0, DOWN_MS - (Date.now() - t0) - 5000));
    const late = await status();
    const dryRun = await call(1, 'POST', '/migration/rollback', { reason: 'test: legacy is down', dryRun: true }, OPERATOR_TOKEN);
    const rollback = await call(1, 'POST', '/migration/rollback', { reason: 'test: legacy is down' }, OPERATOR_TOKEN);
    await sleep(Math.max(0, DOWN_MS - (Date.now() - t0)));
    await rig.services.up();
    down = false;
    // A few more writes with legacy back, then the clients stop.
    await sleep(3000);
    await writers.stop();

    expect(writers.refused).toEqual([]);
    expect(writers.writesDuring).toBeGreaterThan(50);
    expect(mid.followUps.pending).toBeGreaterThan(0);
    expect(late.followUps.oldestAgeSeconds).toBeGreaterThan(Math.min(30, DOWN_MS / 2000));
    expect(dryRun.body.gates).toEqual([expect.objectContaining({ name: 'follow_up_lag_ms', pass: false })]);
    expect(rollback.status).toBe(409);
    expect(rollback.body.code).toBe('GATE_FAILED');
    expect((await status()).phase).toBe('deprecation');
    // The follow-ups waited in repair_outbox, not in the repair queue: the replayers hold back what copies into
    // a store that does not answer, so the dead-letter list holds at most the jobs already under way when legacy
    // stopped (before that rule, this outage left 84 dead jobs for 12 conversations, one per replayer pass per
    // waiting conversation: an hour of it would bury the dead letters that need an operator).
    const repairs = await call(0, 'GET', '/migration/repairs?limit=5', undefined, OPERATOR_TOKEN);
    expect(repairs.status).toBe(200);
    expect(repairs.body.counts.failed).toBeLessThanOrEqual(CONVERSATIONS);

    // Every acknowledged write is in the source of truth, and legacy receives everything: the follow-ups settled
    // (by the followers, the replayer and the repair queue).
    await expectAcknowledgedIn(rig.pg, writers.acked);
    await expectLegacyCaughtUp(rig, ids);
    console.log(
      JSON.stringify({
        downMs: DOWN_MS,
        writes: writers.writes,
        writesWhileDown: writers.writesDuring,
        followUpsMid: mid.followUps,
        followUpsLate: late.followUps,
        repairsDeadAfterOutage: repairs.body.counts.failed,
      }),
    );
  }, 420_000);
});
