/**
 * The traffic intent log with the `none` provider: a move whose change no worker has carried out yet is
 * accepted (202) and pending, blocks other moves, and is finished by the first worker that starts; a
 * crash after the change but before the phase moved is committed on recovery; a move whose process
 * died before writing its intent is released. (Route 53 faults and a killed worker process are in
 * route53-intent-log.test.ts.)
 */
import { INestApplicationContext } from '@nestjs/common';
import { TrafficMoveProcessor } from '../src/migration/traffic-move.processor';
import { QueueName } from '../src/queues/queue-names';
import { WorkRecovery } from '../src/queues/work-recovery';
import { startTestApp, TestApp } from './support/app';
import { isolatedRedis, OPERATOR_TOKEN } from './support/env';
import { startSyncWorker } from './support/sync';
import { waitFor } from './support/stores';

const op = { token: OPERATOR_TOKEN };

describe('traffic intent log', () => {
  let t: TestApp;
  let worker: INestApplicationContext | undefined;

  beforeAll(async () => {
    // The worker's own periodic recovery pass would race the recover() call this file makes itself.
    t = await startTestApp({ GATE_PROFILE: 'short', ...isolatedRedis(), TRAFFIC_WAIT_MS: '300', WORKER_RECOVERY_INTERVAL_MS: '3600000' });
    expect((await t.request('POST', '/migration/start', { ...op, body: { reason: 'intent log test' } })).status).toBe(200);
  });
  afterAll(async () => {
    await worker?.close();
    await t?.close();
  });

  const status = async () => (await t.request('GET', '/migration/status', op)).body;
  const force = (reason: string) => t.request('POST', '/migration/advance', { ...op, body: { reason, force: true } });

  it('answers 202 while no worker has carried the change out, blocks other moves, and moves the phase only when a worker finishes it', async () => {
    const res = await force('canary without a worker');
    expect(res.status).toBe(202);
    expect(res.body).toMatchObject({ pending: true, to: 'canary', trafficChange: { state: 'intent', weights: { legacy: 95, new: 5 } } });
    const s = await status();
    expect(s).toMatchObject({ step: 'shadow', pendingMove: { to: 'canary' }, lastTrafficChange: { state: 'intent' } });
    const second = await force('second move');
    expect(second.status).toBe(409);
    expect(second.body.code).toBe('MOVE_IN_PROGRESS');

    worker = await startSyncWorker(t.config, [QueueName.Traffic]);
    await waitFor('the worker to move the phase to canary', async () => (await status()).step === 'canary', 20_000);
    const after = await status();
    expect(after).toMatchObject({
      step: 'canary',
      pendingMove: null,
      lastTrafficChange: { state: 'done' },
      weights: { newPercent: 5, inEffect: { legacy: 95, new: 5 } },
    });
    const history = (await t.request('GET', '/migration/history', op)).body.items;
    expect(history.slice(0, 2).map((h: { action: string }) => h.action)).toEqual(['advance_forced', 'traffic_change']);
    const log = (await t.request('GET', '/migration/traffic', op)).body;
    expect(log.items[0]).toMatchObject({
      kind: 'weights',
      state: 'done',
      weights: { legacy: 95, new: 5 },
      before: { legacy: 100, new: 0 },
    });
  });

  it('commits the move of a change that was done when the process died before moving the phase', async () => {
    await worker!.close();
    worker = undefined;
    expect((await force('rollout-10, then a crash')).status).toBe(202);
    const { rows } = await t.pg.query(`SELECT id FROM traffic_changes ORDER BY id DESC LIMIT 1`);
    // As if a worker had carried the change out and died before committing the phase.
    await t.pg.query(`UPDATE traffic_changes SET state = 'done', completed_at = now() WHERE id = $1`, [rows[0].id]);
    expect((await status()).step).toBe('canary');
    worker = await startSyncWorker(t.config, [QueueName.Traffic]);
    await waitFor('recovery to commit rollout-10', async () => (await status()).step === 'rollout-10', 20_000);
    expect((await status()).pendingMove).toBeNull();
  });

  it("releases a move whose process died before writing its traffic change: a worker's recovery, or the next move at once", async () => {
    // The worker's own recovery pass (at start-up, and whenever Redis reconnects) would race the call below.
    await worker!.get(WorkRecovery).tick('the test waits for the pass under way');
    // As if the process making the move had died after its claim: the claim is there, nobody holds the move lock.
    const plantDeadClaim = async (reason: string) => {
      const before = await status();
      await t.pg.query(`UPDATE migration_state SET pending_move = $1, revision = revision + 1`, [
        JSON.stringify({
          action: 'advance',
          from: 'rollout-10',
          to: 'rollout-25',
          fromPosition: { phase: 'rollout', step: 0, weight: 10 },
          toPosition: { phase: 'rollout', step: 1, weight: 25 },
          claimedRevision: before.revision + 1,
          by: 'ops',
          reason,
          forced: false,
          at: new Date().toISOString(),
          gates: [],
        }),
      ]);
    };
    await plantDeadClaim('crashed');
    const recovered = await worker!.get(TrafficMoveProcessor).recover();
    expect(recovered.released).toBe(true);
    expect(await status()).toMatchObject({ step: 'rollout-10', pendingMove: null });
    let history = (await t.request('GET', '/migration/history', op)).body.items;
    expect(history[0]).toMatchObject({ action: 'advance_failed', reason: 'crashed' });

    // No worker needed: the next move sees the claim's process is gone, releases it (audited) and goes on.
    await plantDeadClaim('crashed again');
    expect((await force('now it moves')).status).toBe(200);
    expect((await status()).step).toBe('rollout-25');
    history = (await t.request('GET', '/migration/history', op)).body.items;
    expect(history.map((h: { action: string; reason: string }) => [h.action, h.reason])).toEqual(
      expect.arrayContaining([
        ['advance_failed', 'crashed again'],
        ['advance_forced', 'now it moves'],
      ]),
    );
  });

  it('refuses weights outside 0..255 or both zero before writing anything', async () => {
    const { TrafficService } = await import('../src/traffic/traffic.service');
    const traffic = t.app.get(TrafficService);
    const count = async () => (await t.pg.query('SELECT count(*)::int AS n FROM traffic_changes')).rows[0].n;
    const n = await count();
    for (const weights of [
      { legacy: 256, new: 0 },
      { legacy: -1, new: 5 },
      { legacy: 0, new: 0 },
      { legacy: 1.5, new: 3 },
    ]) {
      await expect(traffic.request({ kind: 'weights', weights, before: null })).rejects.toMatchObject({
        statusCode: 400,
        code: 'INVALID_WEIGHTS',
      });
    }
    expect(await count()).toBe(n);
  });
});
