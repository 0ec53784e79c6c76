/**
 * A legacy store that hangs (accepts connections, answers nothing) in deprecation cannot slow or fail the request
 * path through PostgreSQL's connection pool. Two API replicas and a worker as processes (the history checker's
 * cluster) on a private set of servers; the legacy server is frozen (SIGSTOP) for FREEZE_MS while clients write
 * to shared conversations through both replicas, then thawed.
 *
 * The legacy follow-up of a write is applied in a fenced PostgreSQL transaction (so it lands only under the phase
 * it was decided in), and that transaction stays open while its legacy writes hang. Each replica's request pool
 * here is two connections: had the follow-ups' transactions come from that pool, a frozen legacy would have held
 * both, and every write would wait for a connection until it failed. They have a pool of their own, so every write
 * is acknowledged, and once legacy answers again it receives every one.
 */
import { APP_TOKEN } from './support/env';
import { expectAcknowledgedIn, expectLegacyCaughtUp, FollowUpRig, startFollowUpRig, startWriters } from './support/follow-ups';

const FREEZE_MS = Number(process.env.LEGACY_FREEZE_MS ?? 20_000);
const CONVERSATIONS = 12;
const CLIENTS = 6;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('legacy hangs in deprecation: the follow-ups wait on their own connections, writes go on', () => {
  let rig: FollowUpRig;
  let frozen = false;

  beforeAll(async () => {
    rig = await startFollowUpRig('follow-ups-hung-legacy', { DATABASE_POOL_SIZE: '2', FOLLOW_UP_DELAY_MS: '50' });
  }, 240_000);

  afterAll(async () => {
    if (frozen) rig?.services.freeze('ferretdb', false);
    await rig?.close();
  }, 120_000);

  it('acknowledges every write while legacy hangs, and legacy receives every one once it answers', async () => {
    const ids: string[] = [];
    for (let i = 0; i < CONVERSATIONS; i++) {
      const res = await rig.cluster.request(i, 'POST', '/conversations', { userId: 'hung-user', title: `t${i}` }, APP_TOKEN);
      expect(res.status).toBe(201);
      ids.push(res.body.id);
    }
    const writers = startWriters(rig.cluster, ids, CLIENTS, () => frozen);
    await sleep(2000);
    rig.services.freeze('ferretdb', true);
    frozen = true;
    await sleep(FREEZE_MS);
    rig.services.freeze('ferretdb', false);
    frozen = false;
    await sleep(3000);
    await writers.stop();

    expect(writers.refused).toEqual([]);
    expect(writers.writesDuring).toBeGreaterThan(100);
    await expectAcknowledgedIn(rig.pg, writers.acked);
    await expectLegacyCaughtUp(rig, ids);
    console.log(JSON.stringify({ freezeMs: FREEZE_MS, writes: writers.writes, writesWhileFrozen: writers.writesDuring }));
  }, 420_000);
});
