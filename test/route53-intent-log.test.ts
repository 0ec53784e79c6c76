/**
 * Phase moves through Route 53 (moto) under the intent log, with every fault an operator can meet:
 * throttling, PriorRequestNotComplete, PENDING for a while, PENDING for too long, a rejected batch,
 * and a worker process killed between intent and done (at two points). In each the phase stays
 * consistent with what Route 53 serves, and the change ends done, failed (nothing changed) or undone.
 * Weights are read back through a separate SDK client.
 */
import { INestApplicationContext } from '@nestjs/common';
import type { Route53Client } from '@aws-sdk/client-route-53';
import type { Route53Setup } from '../scripts/lib/route53-setup';
import { QueueName } from '../src/queues/queue-names';
import { TRAFFIC_ROUTER } from '../src/traffic/traffic-router.port';
import { startTestApp, TestApp } from './support/app';
import { isolatedRedis, OPERATOR_TOKEN } from './support/env';
import { dropMotoZone, motoClient, motoZone, servedWeights } from './support/moto';
import { Route53Faults } from './support/route53-faults';
import { startSyncWorker, spawnWorker, stopWorker, WorkerProcess } from './support/sync';
import { waitFor } from './support/stores';

const op = { token: OPERATOR_TOKEN };
const CRASH_PRELOAD = require.resolve('./support/route53-crash.preload.js');

describe('phase moves through Route 53 under the intent log', () => {
  let t: TestApp;
  let zone: Route53Setup;
  let worker: INestApplicationContext | undefined;
  let faults: Route53Faults;
  const observer: Route53Client = motoClient();
  let env: Record<string, string>;

  beforeAll(async () => {
    zone = await motoZone({ ttl: 1 });
    env = {
      ...zone.env,
      GATE_PROFILE: 'short',
      ...isolatedRedis(),
      TRAFFIC_WAIT_MS: '20000',
      ROUTE53_POLL_MS: '50',
      ROUTE53_SYNC_TIMEOUT_MS: '2000',
      ROUTE53_RETRY_BASE_MS: '10',
      ROUTE53_RETRY_MAX_MS: '50',
      ROUTE53_RETRY_ATTEMPTS: '5',
    };
    t = await startTestApp(env);
    await startInProcessWorker();
    expect((await t.request('POST', '/migration/start', { ...op, body: { reason: 'route53 intent log' } })).status).toBe(200);
  });
  afterAll(async () => {
    await worker?.close();
    await t?.close();
    await dropMotoZone(zone);
    observer.destroy();
  });

  async function startInProcessWorker(): Promise<void> {
    worker = await startSyncWorker(t.config, [QueueName.Traffic]);
    // The worker's router talks to moto through its own client; the fault layer wraps that client.
    faults = Route53Faults.attach(worker.get<unknown, { client: Route53Client }>(TRAFFIC_ROUTER, { strict: false }).client);
  }

  const status = async () => (await t.request('GET', '/migration/status', op)).body;
  const force = (reason: string) => t.request('POST', '/migration/advance', { ...op, body: { reason, force: true } });
  const rollback = (reason: string) => t.request('POST', '/migration/rollback', { ...op, body: { reason } });
  const lastChange = async () => (await t.request('GET', '/migration/traffic?limit=1', op)).body.items[0];

  const served = () => servedWeights(observer, zone);

  it('moves to canary with Route 53 serving legacy 95 / new 5, the change id in the intent log and history', async () => {
    const res = await force('canary');
    expect(res.status).toBe(200);
    expect(res.body.trafficChange).toMatchObject({ state: 'done', provider: 'route53', weights: { legacy: 95, new: 5 } });
    expect(res.body.trafficChange.changeId).toEqual(expect.any(String));
    expect(await served()).toEqual({ legacy: 95, new: 5 });
    expect(await status()).toMatchObject({
      step: 'canary',
      weights: { inEffect: { legacy: 95, new: 5 } },
      lastTrafficChange: { state: 'done' },
    });
    const history = (await t.request('GET', '/migration/history', op)).body.items;
    expect(history.find((h: any) => h.action === 'traffic_change').details).toMatchObject({
      provider: 'route53',
      changeId: res.body.trafficChange.changeId,
      state: 'done',
    });
  });

  it('rides out throttling and PriorRequestNotComplete with back-off', async () => {
    faults.reset().fail('ChangeResourceRecordSets', 'Throttling', 2).fail('ChangeResourceRecordSets', 'PriorRequestNotComplete', 1);
    const res = await force('rollout-10 through throttling');
    expect(res.status).toBe(200);
    expect(faults.unused()).toBe(0);
    expect(faults.calls('ChangeResourceRecordSets')).toBe(4);
    expect(await served()).toEqual({ legacy: 90, new: 10 });
    expect((await status()).step).toBe('rollout-10');
  });

  it('waits while the change is PENDING, then reads the weights back', async () => {
    faults.reset().pending(5);
    const res = await force('rollout-25 through PENDING');
    expect(res.status).toBe(200);
    expect(faults.calls('GetChange')).toBeGreaterThanOrEqual(6);
    expect(await served()).toEqual({ legacy: 75, new: 25 });
  });

  it('a rejected batch changes nothing: 502, change failed, phase and weights as before, audited', async () => {
    faults.reset().fail('ChangeResourceRecordSets', 'InvalidChangeBatch', 1);
    const res = await force('rollout-50, rejected');
    expect(res.status).toBe(502);
    expect(res.body).toMatchObject({ code: 'TRAFFIC_CHANGE_FAILED' });
    expect(await lastChange()).toMatchObject({ state: 'failed', weights: { legacy: 50, new: 50 } });
    expect(await served()).toEqual({ legacy: 75, new: 25 });
    expect(await status()).toMatchObject({ step: 'rollout-25', pendingMove: null });
    expect((await t.request('GET', '/migration/history', op)).body.items[0]).toMatchObject({ action: 'advance_failed' });
  });

  it('a change PENDING past the timeout is undone: the old weights are put back and the phase stays', async () => {
    // The change stays PENDING past the 2 s timeout however slowly polls run on a busy machine; the change
    // that puts the old weights back is INSYNC.
    faults.reset().pendingForeverOnNextChange();
    const res = await force('rollout-50, stuck PENDING');
    expect(res.status).toBe(502);
    const change = await lastChange();
    expect(change).toMatchObject({ state: 'undone', weights: { legacy: 50, new: 50 } });
    expect(change.error).toMatch(/INSYNC|PENDING|timed out|waited/i);
    expect(await served()).toEqual({ legacy: 75, new: 25 });
    expect(await status()).toMatchObject({ step: 'rollout-25', pendingMove: null });
  });

  it('rollback restores the weights through the same path', async () => {
    const res = await rollback('back to rollout-10');
    expect(res.status).toBe(200);
    expect(await served()).toEqual({ legacy: 90, new: 10 });
    expect((await status()).step).toBe('rollout-10');
  });

  for (const point of ['ChangeResourceRecordSets', 'GetChange'] as const) {
    it(`a worker killed (SIGKILL) after ${point} leaves an open intent that a new worker finishes; the phase moves only then`, async () => {
      await worker!.close();
      worker = undefined;
      const before = await status();
      const target = before.weights.newPercent === 10 ? { legacy: 75, new: 25 } : { legacy: 50, new: 50 };
      let doomed: WorkerProcess | undefined = spawnWorker(t.config, { ...env, WORKER_QUEUES: 'traffic', LMS_CRASH_AFTER: point }, [
        CRASH_PRELOAD,
      ]);
      let next: WorkerProcess | undefined;
      try {
        await doomed.ready;
        const moved = t.request('POST', '/migration/advance', { ...op, body: { reason: `crash after ${point}`, force: true } });
        await doomed.exited;
        expect(doomed.output()).toContain(`SIGKILL after ${point}`);
        doomed = undefined;
        // Route 53 has the change (moto applies at once); the phase has not moved and the intent is open.
        expect(await served()).toEqual(target);
        const open = await lastChange();
        expect(['intent', 'submitted']).toContain(open.state);
        expect(await status()).toMatchObject({ step: before.step, pendingMove: { from: before.step } });

        next = spawnWorker(t.config, { ...env, WORKER_QUEUES: 'traffic' });
        await next.ready;
        const answer = await moved;
        expect([200, 202]).toContain(answer.status);
        await waitFor(
          'the new worker to finish the change and move the phase',
          async () => (await status()).pendingMove === null,
          40_000,
          200,
        );
        expect(await lastChange()).toMatchObject({ id: open.id, state: 'done', weights: target });
        expect(await status()).toMatchObject({ weights: { newPercent: target.new }, pendingMove: null });
        expect(await served()).toEqual(target);
      } finally {
        await stopWorker(doomed, 'SIGKILL');
        await stopWorker(next);
      }
      await startInProcessWorker();
    }, 90_000);
  }
});
