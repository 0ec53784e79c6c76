import { randomInt } from 'node:crypto';
import { createServer } from 'node:net';
import * as path from 'node:path';
import { AppConfig, loadConfig } from '../../src/app-config';
import { environmentWithEnvFile } from '../../src/config/env-file';
import type { Env } from '../../src/config/env-reader';
import type { RedisConfig } from '../../src/stores/stores.config';

export const ROOT = path.resolve(__dirname, '../..');

export const APP_TOKEN = 'app-token-for-tests-0001';
export const OPERATOR_TOKEN = 'operator-token-for-tests-0001';

/** Connection settings written by `npm run services:up`. */
export function servicesEnv(): Env {
  const env = environmentWithEnvFile(process.env, path.join(ROOT, '.env.local'));
  for (const key of ['DATABASE_URL', 'LEGACY_MONGO_URL', 'REDIS_URL']) {
    if (!env[key]) throw new Error(`${key} is not set: run \`npm run services:up\` (npm test does it for you)`);
  }
  return env;
}

export function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

/** A config for a test: the local services, test tokens, and the given databases. */
export function testConfig(overrides: Env = {}): AppConfig {
  const env = servicesEnv();
  return loadConfig({
    ...env,
    APP_API_TOKENS: `tests:${APP_TOKEN}`,
    OPERATOR_API_TOKENS: `ops:${OPERATOR_TOKEN}`,
    LOG_LEVEL: 'error',
    // The API's metrics listener (default 9464) off unless a test asks for one: several apps share a test process.
    METRICS_PORT: '0',
    ...overrides,
  });
}

/**
 * Redis keys of a test file's own: queue names are global, so a worker of another test run on the same Redis
 * would otherwise take (and "repair" against its own databases) this file's jobs. On one Redis a database of
 * its own; on a Redis Cluster (REDIS_CLUSTER_NODES set for the run: `npm run test:cluster`), which has only
 * database 0, a key prefix of its own.
 */
export function isolatedRedis(): Record<string, string> {
  if (servicesEnv().REDIS_CLUSTER_NODES) return { REDIS_KEY_PREFIX: `lms-test-${randomInt(1e9)}` };
  const u = new URL(servicesEnv().REDIS_URL!);
  u.pathname = `/${1 + randomInt(15)}`;
  return { REDIS_URL: u.toString() };
}

/** The variables that give a child process the same Redis (and key prefix) as `redis`. */
export function redisEnv(redis: RedisConfig): Record<string, string> {
  return {
    REDIS_URL: redis.url,
    REDIS_CLUSTER_NODES: redis.cluster ? redis.cluster.nodes.map((n) => `${n.host}:${n.port}`).join(',') : '',
    REDIS_KEY_PREFIX: redis.keyPrefix,
  };
}

/** A TCP port nothing listens on right now (the OS picks it). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}
