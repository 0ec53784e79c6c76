/**
 * The API process making a flip of the source of truth dies (SIGKILL: an OOM kill, a node lost) in the worst place:
 * inside the flip's fenced half, holding the write fence exclusively while its last catch-up pass waits for a row
 * (a session of the test's holds that row, as a sync batch frozen in its transaction would, so the flip stays there;
 * CUTOVER_LOCK_TIMEOUT_MS is long, so only the death ends it). Two API replicas and a worker as processes, clients
 * writing to shared conversations through the replica that lives. What must hold:
 * - the phase does not change: the fenced half commits all or nothing, and it died before its commit;
 * - the deployment writes again without waiting for the dead flip's timeouts: its PostgreSQL sessions go with it
 *   (the fence at once; the pass's statement waiting for the row once PostgreSQL sees its client gone), and no
 *   write is refused;
 * - the claim it left (`pendingMove`) stops no one: the worker's recovery pass, or else the next move on the other
 *   replica, releases it with an audit record (`advance_failed`, "stopped before ..."), and that move commits;
 * - every acknowledged write, and the legacy application's change to the held row, is in the new store, and the
 *   killed replica, started again, serves under the new phase.
 */
import type { Client } from 'pg';
import { AdvisoryLock } from '../src/common/advisory-lock';
import { OPERATOR_TOKEN } from './support/env';
import { advanceTo, completeBackfill, until } from './support/history/operator';
import {
  expectAcknowledgedIn,
  FollowUpRig,
  legacyApplicationWrite,
  lockConversationRow,
  startFollowUpRig,
  startWriters,
} from './support/follow-ups';
import { sessionKiller } from './support/pg-sessions';

const CONVERSATIONS = 8;
const CLIENTS = 4;
/** How long the flip would wait for the held row if its process lived: far longer than the test waits for anything. */
const LOCK_TIMEOUT_MS = 60_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('the replica making a flip is killed inside its fenced half', () => {
  let rig: FollowUpRig;
  let admin: Client;
  let holder: Client | undefined;

  beforeAll(async () => {
    rig = await startFollowUpRig('flip-replica-killed', {
      MIGRATION_INITIAL_PHASE: 'rollout',
      FOLLOW_UP_DELAY_MS: '50',
      CUTOVER_LOCK_TIMEOUT_MS: String(LOCK_TIMEOUT_MS),
      // Writes wait for the fence longer than a phase change may hold it (the configuration insists).
      WRITE_FENCE_WAIT_MS: String(1.5 * LOCK_TIMEOUT_MS),
      // Nor does a statement timeout end it first: only PostgreSQL seeing the client gone (DATABASE_CLIENT_CHECK_MS).
      DATABASE_STATEMENT_TIMEOUT_MS: String(2 * LOCK_TIMEOUT_MS),
    });
    // The historical sync, which the flip into deprecation needs (force cannot pass it).
    await completeBackfill(rig.cluster);
    await advanceTo(rig.cluster, 'rollout-100');
    admin = await sessionKiller(rig.services.env.DATABASE_URL);
  }, 240_000);

  afterAll(async () => {
    await holder?.end().catch(() => undefined);
    await admin?.end().catch(() => undefined);
    await rig?.close();
  }, 120_000);

  const operator = (replica: number, method: string, path: string, body?: unknown) =>
    rig.cluster.request(replica, method, path, body, OPERATOR_TOKEN, 180_000);

  /** The deployment's sessions holding the write fence exclusively, and those waiting for a row. */
  async function locks(): Promise<{ fenceHeldExclusively: boolean; waitingForRow: number }> {
    const fence = await admin.query(
      `SELECT count(*)::int AS n FROM pg_locks
        WHERE locktype = 'advisory' AND granted AND mode = 'ExclusiveLock'
          AND ((classid::bigint << 32) | objid::bigint) = $1::bigint`,
      [AdvisoryLock.WriteFence],
    );
    const waiting = await admin.query(
      `SELECT count(DISTINCT pid)::int AS n FROM pg_locks WHERE NOT granted AND locktype IN ('transactionid', 'tuple')`,
    );
    return { fenceHeldExclusively: fence.rows[0].n > 0, waitingForRow: waiting.rows[0].n };
  }

  it('changes nothing, holds up no write, and the next flip releases its claim and commits', async () => {
    const ids: string[] = [];
    for (let i = 0; i <= CONVERSATIONS; i++) {
      const res = await rig.cluster.request(i % 2, 'POST', '/conversations', { userId: 'flip-killed', title: `t${i}` });
      expect(res.status).toBe(201);
      ids.push(res.body.id);
    }
    const held = ids.pop()!;
    // The sync paused (scheduled passes skip), the legacy application changes `held`: only the flip's pass under the
    // fence brings that change over, and it waits there for the row the test holds.
    expect((await operator(1, 'POST', '/migration/sync/pause', { reason: 'flip-replica-killed test' })).status).toBe(200);
    const changed = await legacyApplicationWrite(rig, held);
    holder = await lockConversationRow(rig, held);

    const [{ last }] = await rig.ds.query('SELECT coalesce(max(id), 0)::int AS last FROM migration_audit');
    let afterKill = false;
    const writers = startWriters(rig.cluster, ids, CLIENTS, () => afterKill, 60_000, [1]);
    await sleep(1000);
    const flip = operator(0, 'POST', '/migration/advance', {
      reason: 'flip-replica-killed test: the flip whose process dies',
      expectedStep: 'rollout-100',
      force: true,
    }).catch((err: Error) => ({ status: 0, body: { code: err.message } }));
    // In the fenced half: the fence held exclusively (every write waits), the pass waiting for the row.
    await until(
      'the flip to hold the fence and wait for the row',
      30_000,
      async () => {
        const l = await locks();
        return l.fenceHeldExclusively && l.waitingForRow > 0 ? true : undefined;
      },
      50,
    );
    const ackedBefore = [...writers.acked.values()].reduce((n, a) => n + a.texts.size, 0);
    await rig.cluster.replicas[0].stop('SIGKILL');
    afterKill = true;
    const killedAt = Date.now();
    expect((await flip).status).toBe(0);

    // The fence goes with the dead process, and the writes go on through the other replica.
    await until('the fence to be released', 30_000, async () => ((await locks()).fenceHeldExclusively ? undefined : true), 50);
    await until('writes acknowledged after the kill', 30_000, async () => {
      const acked = [...writers.acked.values()].reduce((n, a) => n + a.texts.size, 0);
      return acked > ackedBefore + 2 * CLIENTS ? true : undefined;
    });
    // The pass's statement that waited for the row ends too, long before its lock timeout.
    await until('the dead flip to wait for no row', 30_000, async () => ((await locks()).waitingForRow === 0 ? true : undefined), 100);
    const released = Date.now() - killedAt;

    // Nothing moved. The dead flip's claim is still there, or the worker's recovery pass released it already.
    const status = (await operator(1, 'GET', '/migration/status')).body;
    expect({ step: status.step, sourceOfTruth: status.sourceOfTruth }).toEqual({ step: 'rollout-100', sourceOfTruth: 'legacy' });
    expect([null, 'deprecation']).toContain(status.pendingMove?.to ?? null);

    // The row free, the next flip (on the living replica) releases the claim and commits.
    await holder.query('ROLLBACK');
    const again = await operator(1, 'POST', '/migration/advance', {
      reason: 'flip-replica-killed test: the flip again',
      expectedStep: 'rollout-100',
      force: true,
    });
    expect(again.status).toBe(200);
    const after = (await operator(1, 'GET', '/migration/status')).body;
    expect({ step: after.step, sourceOfTruth: after.sourceOfTruth, pendingMove: after.pendingMove ?? null }).toEqual({
      step: 'deprecation',
      sourceOfTruth: 'new',
      pendingMove: null,
    });
    const audit: Array<{ action: string; error: string | null }> = await rig.ds.query(
      `SELECT action, details->>'error' AS error FROM migration_audit WHERE id > $1 AND action LIKE 'advance%' ORDER BY id`,
      [last],
    );
    expect(audit.map((a) => a.action)).toEqual(['advance_failed', 'advance_forced']);
    expect(audit[0].error).toMatch(/the process making this move stopped before/);

    // The killed replica, started again, serves under the new phase; every acknowledged write is in the new store.
    await rig.cluster.replicas[0].start();
    const write = await rig.cluster.request(0, 'POST', `/conversations/${ids[0]}/messages`, { role: 'user', content: 'after the restart' });
    expect(write.status).toBe(201);
    await writers.stop();
    console.log(
      JSON.stringify({ writes: writers.writes, afterKill: writers.writesDuring, releasedMs: released, refused: writers.refused }),
    );
    expect(writers.refused).toEqual([]);
    await expectAcknowledgedIn(rig.pg, writers.acked);
    expect((await rig.pg.get(held))?.version).toBeGreaterThanOrEqual(changed.version);
    expect((await rig.pg.get(held))?.messages.map((m) => m.content)).toContain('written by the legacy application');
  }, 400_000);
});
