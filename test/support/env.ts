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

const PORT_BLOCK = 1000;
const handedOut = new Set<number>();

/** Whether a server could listen on `port` (on every address) right now. */
export function listenable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, () => server.close(() => resolve(true)));
  });
}

/**
 * A TCP port nothing listens on right now, and never handed out before by this process. It lies below the kernel's
 * ephemeral range (32768 and up on Linux): a port the OS picks for a listener comes from that range, and so do the
 * local ports of outgoing connections, one of which can take it before the process meant to listen there has
 * started, or while it is down between a kill and a restart (EADDRINUSE). Each Jest worker draws from a block of
 * its own, so test files running side by side never pick the same port.
 */
export async function freePort(): Promise<number> {
  const worker = Number(process.env.JEST_WORKER_ID ?? 1);
  const base = 20_000 + ((Number.isSafeInteger(worker) && worker > 0 ? worker - 1 : 0) % 12) * PORT_BLOCK;
  for (let tries = 0; tries < 500; tries++) {
    const port = base + Math.floor(Math.random() * PORT_BLOCK);
    if (handedOut.has(port) || !(await listenable(port))) continue;
    handedOut.add(port);
    return port;
  }
  throw new Error(`no free port in ${base}-${base + PORT_BLOCK - 1}`);
}
