/**
 * The legacy server frozen (SIGSTOP: it keeps its connections and answers nothing, as a stalled VM or a hung disk
 * does) across the flip of the source of truth, in both directions, with two API replicas and a worker as processes
 * and clients writing to shared conversations through both replicas. (test/follow-ups-hung-legacy.test.ts covers
 * the writes in deprecation while legacy hangs; this one covers the flips and legacy as the source of truth.)
 *
 * - rollout-100, legacy the source of truth: no write is acknowledged while it is frozen; every one is answered (503
 *   STORE_UNAVAILABLE with Retry-After, never a 500, never left hanging); a flip to deprecation sent meanwhile is
 *   refused and changes nothing. Once legacy answers again, writes are acknowledged, every acknowledged write is in
 *   legacy, the new store catches up with it, and the same flip commits.
 * - deprecation, the new store the source of truth: every write is acknowledged while legacy is frozen; a rollback to
 *   legacy sent meanwhile is refused and changes nothing (legacy could not be shown to hold every write). Once legacy
 *   answers again it catches up, and the same rollback commits; every acknowledged write is then in legacy.
 */
import { APP_TOKEN, OPERATOR_TOKEN } from './support/env';
import { advanceTo, completeBackfill } from './support/history/operator';
import { expectAcknowledgedIn, expectLegacyCaughtUp, FollowUpRig, startFollowUpRig, startWriters, Writers } from './support/follow-ups';

const FREEZE_MS = 15_000;
const CONVERSATIONS = 8;
const CLIENTS = 4;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('the legacy server frozen across a flip of the source of truth', () => {
  let rig: FollowUpRig;
  let frozen = false;
  const ids: string[] = [];

  beforeAll(async () => {
    rig = await startFollowUpRig('frozen-legacy', { MIGRATION_INITIAL_PHASE: 'rollout', FOLLOW_UP_DELAY_MS: '50' });
    // The historical sync, which the flip into deprecation needs (force cannot pass it).
    await completeBackfill(rig.cluster);
    await advanceTo(rig.cluster, 'rollout-100');
    for (let i = 0; i < CONVERSATIONS; i++) {
      const res = await call(i % 2, 'POST', '/conversations', { userId: 'frozen-legacy', title: `t${i}` });
      expect(res.status).toBe(201);
      ids.push(res.body.id);
    }
  }, 240_000);

  afterAll(async () => {
    if (frozen) rig?.services.freeze('ferretdb', false);
    await rig?.close();
  }, 120_000);

  const call = (replica: number, method: string, path: string, body?: unknown, token = APP_TOKEN) =>
    rig.cluster.request(replica, method, path, body, token, 60_000);

  const step = async () => (await call(0, 'GET', '/migration/status', undefined, OPERATOR_TOKEN)).body;

  /**
   * Writers through both replicas; legacy frozen FREEZE_MS after 2 s, `flip` sent 3 s into the freeze and
   * answered (the test waits for it) before the thaw is checked; writing goes on for 5 s after the thaw.
   */
  async function freezeAcross(flip: () => Promise<{ status: number; body: any }>) {
    const writers = startWriters(rig.cluster, ids, CLIENTS, () => frozen);
    await sleep(2000);
    rig.services.freeze('ferretdb', true);
    frozen = true;
    let refusedFlip: { status: number; body: any };
    try {
      await sleep(3000);
      const sent = Date.now();
      refusedFlip = await flip();
      console.log(
        JSON.stringify({
          refusedFlip: {
            status: refusedFlip.status,
            code: refusedFlip.body?.code,
            message: refusedFlip.body?.message,
            ms: Date.now() - sent,
          },
        }),
      );
      await sleep(Math.max(0, FREEZE_MS - 3000));
    } finally {
      rig.services.freeze('ferretdb', false);
      frozen = false;
    }
    await sleep(5000);
    await writers.stop();
    console.log(JSON.stringify({ writes: writers.writes, whileFrozen: writers.writesDuring, refused: writers.refused.slice(0, 3) }));
    return { writers, refusedFlip };
  }

  function expectNoServerError(writers: Writers): void {
    // `refused` holds "status code message" of the first 20 writes not acknowledged (0: no answer in 60 s).
    const statuses = writers.refused.map((r) => Number(r.split(' ')[0]));
    expect(statuses.filter((s) => s !== 503)).toEqual([]);
  }

  it('legacy the source of truth: nothing is acknowledged while it is frozen, a flip is refused, nothing is lost', async () => {
    const { writers, refusedFlip } = await freezeAcross(() =>
      call(
        0,
        'POST',
        '/migration/advance',
        { reason: 'frozen-legacy test: flip while legacy is frozen', expectedStep: 'rollout-100', force: true },
        OPERATOR_TOKEN,
      ),
    );
    expect(refusedFlip.status).toBeGreaterThanOrEqual(400);
    expect(refusedFlip.status).not.toBe(500);
    expect(await step()).toMatchObject({ step: 'rollout-100', sourceOfTruth: 'legacy' });

    expect(writers.writesDuring).toBeGreaterThan(0);
    expect(writers.refused.length).toBeGreaterThan(0);
    expectNoServerError(writers);
    // Acknowledged after the thaw, in legacy (the source of truth) and then in the new store too.
    await expectAcknowledgedIn(rig.legacy, writers.acked);
    await expectLegacyCaughtUp(rig, ids);

    const flip = await call(
      0,
      'POST',
      '/migration/advance',
      { reason: 'frozen-legacy test: the flip again', expectedStep: 'rollout-100', force: true },
      OPERATOR_TOKEN,
    );
    expect(flip.status).toBe(200);
    expect(await step()).toMatchObject({ step: 'deprecation', sourceOfTruth: 'new' });
    await expectAcknowledgedIn(rig.pg, writers.acked);
  }, 300_000);

  it('the new store the source of truth: every write is acknowledged, a rollback is refused until legacy holds them all', async () => {
    expect((await step()).step).toBe('deprecation');
    const { writers, refusedFlip } = await freezeAcross(() =>
      call(
        1,
        'POST',
        '/migration/rollback',
        { reason: 'frozen-legacy test: rollback while legacy is frozen', expectedStep: 'deprecation' },
        OPERATOR_TOKEN,
      ),
    );
    expect(refusedFlip.status).toBeGreaterThanOrEqual(400);
    expect(refusedFlip.status).not.toBe(500);
    expect(await step()).toMatchObject({ step: 'deprecation', sourceOfTruth: 'new' });

    expect(writers.writesDuring).toBeGreaterThan(0);
    expect(writers.refused).toEqual([]);
    await expectAcknowledgedIn(rig.pg, writers.acked);
    await expectLegacyCaughtUp(rig, ids);

    const rollback = await call(
      1,
      'POST',
      '/migration/rollback',
      { reason: 'frozen-legacy test: the rollback again', expectedStep: 'deprecation' },
      OPERATOR_TOKEN,
    );
    expect(rollback.status).toBe(200);
    expect(await step()).toMatchObject({ step: 'rollout-100', sourceOfTruth: 'legacy' });
    await expectAcknowledgedIn(rig.legacy, writers.acked);

    // Each refused flip is in the audit log, with the flip that then committed (the forced advances are audited as such).
    const audit: Array<{ action: string }> = await rig.ds.query(
      `SELECT action FROM migration_audit WHERE action NOT IN ('traffic_change', 'advance_forced') ORDER BY id`,
    );
    expect(audit.map((a) => a.action)).toEqual(['advance_failed', 'rollback_failed', 'rollback']);
  }, 300_000);
});
