/**
 * A worker that wakes up late must not move traffic back, nor rewrite what the intent log says. Two API processes
 * and two worker processes on one set of stores, Route 53 in moto (as the manifests deploy: `control`, which serves
 * the traffic queue, runs two replicas).
 *
 * Worker A takes a phase move's traffic change and freezes (SIGSTOP, as a long GC pause or a stalled VM would) at one
 * of two points: after it read the records and decided on its batch, before sending it; or once Route 53 took the
 * batch, before the log records `submitted`. Its job lock lapses; worker B takes the job over, finishes the change and
 * the move commits. The operator then rolls back, which puts the weights back where they were when A read them (the
 * ABA case: the weights alone cannot tell A's view is stale). Then A wakes up and carries on. Route 53 must refuse a
 * batch A decided before the freeze (it carries the fence record as A read it, which two batches have replaced since,
 * see src/traffic/route53/record-sets.ts), the intent log must keep both changes `done`, and the records must go on
 * serving what the phase says. A first round trip by B alone makes the fence exist, so that A's batch DELETEs it as
 * read (the case a running migration meets; with no fence yet, the batch's CREATE is what Route 53 refuses).
 *
 * moto alone would accept A's batch: its DELETE takes whatever has the name and type. The services run moto through
 * scripts/lib/moto-server.py, which refuses what Route 53 refuses (and route53-traffic.test.ts shows the fence there).
 */
import * as path from 'node:path';
import type { Route53Client } from '@aws-sdk/client-route-53';
import type { Route53Setup } from '../scripts/lib/route53-setup';
import { OPERATOR_TOKEN, ROOT } from './support/env';
import { clusterEnv, NodeProcess } from './support/history/cluster';
import { dropMotoZone, motoClient, motoZone, servedWeights } from './support/moto';
import { PrivateCluster, startPrivateCluster } from './support/private-cluster';
import { waitFor } from './support/stores';

const FREEZE_PRELOAD = require.resolve('./support/route53-freeze.preload.js');
const NAME = 'traffic-zombie-worker';

describe('a worker frozen in the middle of a traffic change, woken after the phase moved on', () => {
  let zone: Route53Setup;
  let rig: PrivateCluster;
  let env: Record<string, string>;
  let zombie: NodeProcess | undefined;
  const observer: Route53Client = motoClient();

  beforeAll(async () => {
    zone = await motoZone({ ttl: 1 });
    env = { ...zone.env, MIGRATION_INITIAL_PHASE: 'shadow', ROUTE53_POLL_MS: '50', TRAFFIC_WAIT_MS: '60000' };
    rig = await startPrivateCluster(NAME, env, 2);
  }, 180_000);

  afterAll(async () => {
    await zombie?.stop('SIGKILL');
    await rig?.close();
    if (zone) await dropMotoZone(zone);
    observer.destroy();
  });

  /** Worker A: serves the traffic queue only, and freezes itself at `point` of its first batch. */
  async function startZombie(point: 'before-batch' | 'after-batch'): Promise<NodeProcess> {
    const a = new NodeProcess(
      `worker A (frozen ${point})`,
      path.join(ROOT, `.local/${NAME}/build/workers/worker.js`),
      {
        ...clusterEnv(rig.services.env),
        ...env,
        WORKER_QUEUES: 'traffic',
        LOG_LEVEL: 'info',
        LMS_FREEZE_AT: point,
        NODE_OPTIONS: `--require=${FREEZE_PRELOAD}`,
      },
      async (out) => out.includes('"serving queues"'),
      path.join(rig.cluster.logDir, `worker-a-${point}.log`),
    );
    await a.start();
    return a;
  }

  const op = (method: string, p: string, body?: unknown, replica = 0) =>
    rig.cluster.request(replica, method, p, body, OPERATOR_TOKEN, 90_000);
  const status = async () => (await op('GET', '/migration/status')).body;
  const changes = async () =>
    (await op('GET', '/migration/traffic?limit=10')).body.items as Array<{ id: number; state: string; weights: unknown }>;

  const served = () => servedWeights(observer, zone);

  it.each([
    ['before-batch', 'after it decided on its batch, before sending it'],
    ['after-batch', 'once Route 53 took its batch, before the log recorded it'],
  ] as const)(
    '%s: frozen %s, it changes neither the weights nor the log',
    async (point, where) => {
      zombie = await startZombie(point);
      expect(await status()).toMatchObject({ step: 'shadow', pendingMove: null });
      // A round trip by B alone (A frozen, holding no job): the fence record exists from here on.
      const thawA = zombie.freeze();
      try {
        expect((await op('POST', '/migration/advance', { reason: 'zombie worker: warm-up', force: true })).status).toBe(200);
        expect((await op('POST', '/migration/rollback', { reason: 'zombie worker: warm-up back' }, 1)).status).toBe(200);
      } finally {
        thawA();
      }
      expect(await served()).toEqual({ legacy: 100, new: 0 });

      // Only A serves the traffic queue while B is frozen: A takes the change and freezes itself.
      const thawB = rig.cluster.worker.freeze();
      const advance = op('POST', '/migration/advance', { reason: 'zombie worker: to canary', force: true }, 1);
      try {
        await waitFor(`worker A to freeze ${where}`, async () => zombie!.output().includes('freeze preload: SIGSTOP'), 30_000, 100);
      } finally {
        thawB();
      }
      const [x] = await changes();
      expect(x).toMatchObject({ weights: { legacy: 95, new: 5 } });
      expect(['intent', 'submitted']).toContain(x.state);

      // A's job lock lapses (10 s) and B's stalled-job check hands the change to B, which finishes it.
      await waitFor(
        'worker B to finish the change A left',
        async () => {
          const s = await status();
          return s.step === 'canary' && s.pendingMove === null;
        },
        60_000,
        250,
      );
      expect((await advance).status).toBe(200);
      expect(await served()).toEqual({ legacy: 95, new: 5 });

      // The rollback puts back the weights A read before it froze.
      expect((await op('POST', '/migration/rollback', { reason: 'zombie worker: back to shadow' })).status).toBe(200);
      expect(await status()).toMatchObject({ step: 'shadow', pendingMove: null });
      expect(await served()).toEqual({ legacy: 100, new: 0 });
      const [y] = await changes();
      expect(y).toMatchObject({ state: 'done', weights: { legacy: 100, new: 0 } });

      // A wakes up and carries on with the change, to the point where it finds another worker finished it.
      process.kill(zombie.child!.pid!, 'SIGCONT');
      await waitFor('worker A to give the change up', async () => zombie!.output().includes('by another worker meanwhile'), 30_000, 100);
      if (point === 'before-batch') {
        expect(zombie.output()).toContain('the batch sent after the freeze was refused (InvalidChangeBatch)');
        expect(zombie.output()).toMatch(
          /Tried to delete resource record set \[name='_traffic-fence\.[^\]]*\] but the values provided do not match/,
        );
      }
      expect(await served()).toEqual({ legacy: 100, new: 0 });
      expect(await status()).toMatchObject({ step: 'shadow', pendingMove: null, weights: { inEffect: { legacy: 100, new: 0 } } });
      const after = await changes();
      expect(after.find((c) => c.id === x.id)).toMatchObject({ state: 'done', weights: { legacy: 95, new: 5 } });
      expect(after.find((c) => c.id === y.id)).toMatchObject({ state: 'done', weights: { legacy: 100, new: 0 } });
      expect(after.filter((c) => c.state === 'intent' || c.state === 'submitted')).toEqual([]);
      expect(zombie.alive).toBe(true);
      await zombie.stop();
      zombie = undefined;
    },
    180_000,
  );
});
