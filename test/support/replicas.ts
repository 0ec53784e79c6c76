/**
 * More API processes beside a test app, on its stores and with its settings: what a test of concurrency needs, since a
 * guarantee shown with one process is not shown. Each replica is a real OS process running the current source (the
 * history checker's Cluster, support/history/cluster.ts), with the test app's databases, Redis (and key prefix), tokens
 * and overrides, so that a request gets the same answer whichever process it reaches, as behind a load balancer.
 * Requests through `request(i, ...)` go to process `i`: 0 is the test app itself, 1.. the replicas.
 */
import * as path from 'node:path';
import { httpClient, RequestOptions, TestApp, TestResponse } from './app';
import { APP_TOKEN, OPERATOR_TOKEN, redisEnv, ROOT, servicesEnv } from './env';
import { Cluster, clusterEnv } from './history/cluster';

export interface Replicas {
  cluster: Cluster;
  /** How many API processes there are, the test app's included. */
  count: number;
  /** A request to API process `i` modulo their number (0: the test app). */
  request(i: number, method: string, p: string, options?: RequestOptions): Promise<TestResponse>;
  stop(): Promise<void>;
}

/**
 * `replicas` processes (besides the test app), built under .local/`name`; `env` on top of the test app's settings
 * (a replica's own phase cache, say).
 */
export async function startReplicas(t: TestApp, name: string, replicas = 1, env: Record<string, string> = {}): Promise<Replicas> {
  const stores = { DATABASE_URL: t.dbs.databaseUrl, LEGACY_MONGO_URL: t.dbs.legacyUrl, REDIS_URL: t.config.redis.url };
  const defined = Object.entries(servicesEnv()).filter((e): e is [string, string] => e[1] !== undefined);
  const same: Record<string, string> = {
    ...Object.fromEntries(defined),
    APP_API_TOKENS: `tests:${APP_TOKEN}`,
    OPERATOR_API_TOKENS: `ops:${OPERATOR_TOKEN}`,
    LOG_LEVEL: 'error',
    ...t.env,
    ...redisEnv(t.config.redis),
  };
  // What the history checker's cluster sets for itself (its initial phase, gate profile, traffic provider, ...) is
  // the test app's here, or unset as it is for the test app.
  const unset = Object.fromEntries(Object.keys(clusterEnv(stores)).map((key) => [key, same[key] ?? '']));
  const cluster = await Cluster.start(stores, replicas, path.join(ROOT, `.local/${name}/build`), { ...unset, ...same, ...env }, 0);
  const clients = [t.request, ...cluster.replicas.map((r) => httpClient(r.url))];
  return {
    cluster,
    count: clients.length,
    request: (i, method, p, options) => clients[i % clients.length](method, p, options),
    stop: () => cluster.stop(),
  };
}
