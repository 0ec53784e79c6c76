/**
 * Manual catch-up passes asked for from two API processes at once (a private cluster, support/private-cluster.ts):
 * requests that arrive while a manual pass waits to start get that pass, whichever replica they reach, so a burst of
 * operators and scripts queues one pass, not one per request. A pass that has started is not joined.
 */
import { EnvReader } from '../src/config/env-reader';
import { queuePrefix, QueueName } from '../src/queues/queue-names';
import { CatchupQueue } from '../src/sync/catchup/catchup.queue';
import { redisForQueues, RedisClient } from '../src/stores/redis';
import { readRedisConfig } from '../src/stores/stores.config';
import { OPERATOR_TOKEN } from './support/env';
import type { Cluster } from './support/history/cluster';
import { PrivateCluster, startPrivateCluster } from './support/private-cluster';

const REQUESTS = 24;

describe('manual catch-up passes asked for from two API processes at once', () => {
  let rig: PrivateCluster;
  let cluster: Cluster;
  let connection: RedisClient;
  let queue: CatchupQueue;

  beforeAll(async () => {
    rig = await startPrivateCluster('catchup-replicas', { MIGRATION_INITIAL_PHASE: 'rollout', CATCHUP_INTERVAL_MS: '0' });
    cluster = rig.cluster;
    connection = redisForQueues(readRedisConfig(new EnvReader({ REDIS_URL: rig.services.env.REDIS_URL })));
    if (connection.status !== 'ready') await new Promise((resolve) => connection.once('ready', resolve));
    queue = new CatchupQueue(connection, 'lms');
  }, 240_000);

  afterAll(async () => {
    await queue?.close();
    connection?.disconnect();
    await rig?.close();
  }, 120_000);

  const ask = (replica: number, wait = false) =>
    cluster.request(replica, 'POST', `/migration/sync/catchup${wait ? '?wait=true' : ''}`, undefined, OPERATOR_TOKEN, 60_000);

  it('queues one pass for a burst of requests spread over both replicas, and a new one once it has started', async () => {
    // Nothing serves the queue: every request finds the first one's pass still waiting.
    await cluster.worker.stop();
    const burst = await Promise.all(Array.from({ length: REQUESTS }, (_, i) => ask(i % 2)));
    expect(burst.map((res) => res.status)).toEqual(Array(REQUESTS).fill(202));
    const ids = new Set(burst.map((res) => res.body.jobId));
    expect(ids.size).toBe(1);
    expect(await queue.queue.getWaitingCount()).toBe(1);
    const [first] = ids;

    // With the worker back, the pass runs; a caller who waits for one gets that pass's result, or a later one's.
    await cluster.worker.start();
    const waited = await ask(1, true);
    expect(waited.status).toBe(200);
    expect(waited.body.state).toBe('completed');
    expect(await queue.queue.getJobState(first)).toBe('completed');

    // Once it has run, a request is a pass of its own.
    const after = await ask(0);
    expect(after.status).toBe(202);
    expect(after.body.jobId).not.toBe(first);
  }, 180_000);

  it('adds a pass after a bounded wait when the lock is held by a process that died holding it', async () => {
    await connection.set(`${queuePrefix('lms', QueueName.Catchup)}:manual:lock`, 'a replica killed holding it', 'PX', 60_000);
    const started = Date.now();
    const res = await ask(0);
    expect(res.status).toBe(202);
    expect(res.body.jobId).toEqual(expect.any(String));
    const elapsed = Date.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(3_000);
    expect(elapsed).toBeLessThan(30_000);
  }, 60_000);
});
