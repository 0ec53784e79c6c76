/**
 * PostgreSQL frozen (SIGSTOP of the postmaster and every backend: connections stay open and nothing answers, as a
 * stalled VM or a hung disk does) while legacy is the source of truth and clients write to shared conversations
 * through two API replicas, with a worker beside them. PostgreSQL holds the write fence, the migration's state and
 * the new store's copy, so every write waits while it is frozen. What must hold:
 * - every write is answered, 201 or 503, never a 500 or nothing (the client here waits up to 60 s);
 * - no process dies, and every one is ready again once PostgreSQL answers;
 * - every acknowledged write is in legacy, and the new store ends up equal to legacy with no follow-up left.
 */
import { advanceTo } from './support/history/operator';
import { expectAcknowledgedIn, expectLegacyCaughtUp, FollowUpRig, startFollowUpRig, startWriters } from './support/follow-ups';

const FREEZE_MS = 20_000;
const CONVERSATIONS = 8;
const CLIENTS = 4;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('PostgreSQL frozen while legacy is the source of truth', () => {
  let rig: FollowUpRig;
  let frozen = false;

  beforeAll(async () => {
    rig = await startFollowUpRig('frozen-postgres', { MIGRATION_INITIAL_PHASE: 'rollout', FOLLOW_UP_DELAY_MS: '50' });
    await advanceTo(rig.cluster, 'rollout-100');
  }, 240_000);

  afterAll(async () => {
    if (frozen) rig?.services.freeze('postgres', false);
    await rig?.close();
  }, 120_000);

  it('answers every write, loses no acknowledged one, and every process is ready once it answers again', async () => {
    const ids: string[] = [];
    for (let i = 0; i < CONVERSATIONS; i++) {
      const res = await rig.cluster.request(i % 2, 'POST', '/conversations', { userId: 'frozen-postgres', title: `t${i}` });
      expect(res.status).toBe(201);
      ids.push(res.body.id);
    }
    const writers = startWriters(rig.cluster, ids, CLIENTS, () => frozen, 60_000);
    await sleep(2000);
    // Set first: if the freeze fails half-way, afterAll still thaws what it stopped.
    frozen = true;
    rig.services.freeze('postgres', true);
    let heldByFreeze: number | undefined;
    try {
      await sleep(1000);
      // Every client is waiting on a write by now: the freeze holds them, and the checks below are about them.
      heldByFreeze = writers.inFlight;
      await sleep(FREEZE_MS - 1000);
    } finally {
      rig.services.freeze('postgres', false);
      frozen = false;
    }
    await sleep(5000);
    await writers.stop();
    console.log(JSON.stringify({ freezeMs: FREEZE_MS, writes: writers.writes, heldByFreeze, refused: writers.refused }));

    expect(heldByFreeze).toBeGreaterThan(0);
    expect(writers.refused.filter((r) => !r.startsWith('503 '))).toEqual([]);
    expect(rig.cluster.replicas.map((r) => r.alive)).toEqual([true, true]);
    expect(rig.cluster.worker.alive).toBe(true);
    for (let i = 0; i < rig.cluster.replicas.length; i++) expect((await rig.cluster.request(i, 'GET', '/health/ready')).status).toBe(200);

    await expectAcknowledgedIn(rig.legacy, writers.acked);
    await expectLegacyCaughtUp(rig, ids);
  }, 300_000);
});
