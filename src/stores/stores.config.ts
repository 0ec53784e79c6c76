/** The stores' sections (AppConfig `database`, `legacy`, `redis`): where each store and Redis are. */
import type { EnvReader } from '../config/env-reader';

export interface DatabaseConfig {
  url: string;
  runMigrationsOnStart: boolean;
  poolSize: number;
  /**
   * The follow-ups' own pool (DATABASE_FOLLOW_POOL_SIZE): the fenced transactions in which the API applies a write's
   * follow-up to the other store, apart from `poolSize`, so a store that hangs holds none of the requests'
   * connections. Opened on the first follow-up (deprecation, or a secondary write that failed).
   */
  followPoolSize: number;
  statementTimeoutMs: number;
  /**
   * How often PostgreSQL checks, while a statement of ours runs or waits for a lock, that our end of the connection is
   * still there (DATABASE_CLIENT_CHECK_MS; `0` never): a process that died (SIGKILL, a node lost) has its statements
   * ended within it, not at their timeouts, with whatever rows and locks they held.
   */
  clientCheckMs: number;
}

export interface LegacyConfig {
  url: string;
  database: string;
  collection: string;
  slowCommandMs: number;
}

export interface RedisConfig {
  /** One Redis (REDIS_URL); not used when `cluster` is set. */
  url: string;
  /**
   * Redis Cluster (REDIS_CLUSTER_NODES: seed nodes, `host:port` or `redis[s]://[user:password@]host:port`, comma-
   * separated; credentials and TLS of the first URL apply to every node): every client is an ioredis Cluster.
   */
  cluster: { nodes: Array<{ host: string; port: number }>; username?: string; password?: string; tls: boolean } | null;
  /** What every key of the service starts with (REDIS_KEY_PREFIX); each queue's keys share one hash tag. */
  keyPrefix: string;
}

export const DATABASE_CONFIG = Symbol('DATABASE_CONFIG');
export const LEGACY_CONFIG = Symbol('LEGACY_CONFIG');
export const REDIS_CONFIG = Symbol('REDIS_CONFIG');

export function readDatabaseConfig(r: EnvReader): DatabaseConfig {
  return {
    url: r.url('DATABASE_URL', ['postgres', 'postgresql']),
    runMigrationsOnStart: r.bool('MIGRATIONS_RUN_ON_START', false),
    poolSize: r.int('DATABASE_POOL_SIZE', 20, 1, 500),
    followPoolSize: r.int('DATABASE_FOLLOW_POOL_SIZE', 6, 2, 100),
    statementTimeoutMs: r.int('DATABASE_STATEMENT_TIMEOUT_MS', 30000, 0),
    clientCheckMs: r.int('DATABASE_CLIENT_CHECK_MS', 2000, 0, 3_600_000),
  };
}

export function readLegacyConfig(r: EnvReader): LegacyConfig {
  const url = r.url('LEGACY_MONGO_URL', ['mongodb', 'mongodb+srv']);
  let database = '';
  if (url !== '') {
    try {
      database = decodeURIComponent(new URL(url).pathname.replace(/^\//, ''));
    } catch {
      /* reported by r.url */
    }
    if (database === '' && !r.problems.some((p) => p.startsWith('LEGACY_MONGO_URL'))) {
      r.problem('LEGACY_MONGO_URL', 'must name the database in its path, e.g. mongodb://host:27017/legacy');
    }
  }
  return {
    url,
    database,
    collection: r.string('LEGACY_COLLECTION', 'conversations'),
    slowCommandMs: r.int('LEGACY_SLOW_COMMAND_MS', 0, 0, 3_600_000),
  };
}

/**
 * What every Redis key of the service starts with unless REDIS_KEY_PREFIX says otherwise (queues, the recovery
 * markers, the throttle's bucket, the rate limits).
 */
export const DEFAULT_KEY_PREFIX = 'lms';

export function readRedisConfig(r: EnvReader): RedisConfig {
  const cluster = readClusterNodes(r);
  const keyPrefix = r.string('REDIS_KEY_PREFIX', DEFAULT_KEY_PREFIX);
  if (!/^[A-Za-z0-9_.:-]{1,64}$/.test(keyPrefix))
    r.problem('REDIS_KEY_PREFIX', 'must be 1-64 letters, digits, _ . : or - (no braces: the service adds the hash tags)');
  // With a cluster, REDIS_URL is not needed (and not used).
  const url = r.has('REDIS_CLUSTER_NODES') ? (r.optionalString('REDIS_URL') ?? '') : r.url('REDIS_URL', ['redis', 'rediss']);
  return { url, cluster, keyPrefix };
}

function readClusterNodes(r: EnvReader): RedisConfig['cluster'] {
  const entries = r.list('REDIS_CLUSTER_NODES');
  if (entries.length === 0) return null;
  const nodes: Array<{ host: string; port: number }> = [];
  let auth: { username?: string; password?: string; tls: boolean } | null = null;
  for (const entry of entries) {
    try {
      const u = new URL(/^[a-z]+:\/\//.test(entry) ? entry : `redis://${entry}`);
      if (!['redis:', 'rediss:'].includes(u.protocol)) throw new Error('protocol');
      const port = Number(u.port || 6379);
      if (!u.hostname || !Number.isInteger(port) || port < 1 || port > 65535) throw new Error('address');
      nodes.push({ host: u.hostname, port });
      if (!auth && /^[a-z]+:\/\//.test(entry)) {
        auth = {
          tls: u.protocol === 'rediss:',
          ...(u.username ? { username: decodeURIComponent(u.username) } : {}),
          ...(u.password ? { password: decodeURIComponent(u.password) } : {}),
        };
      }
    } catch {
      // Never the entry itself: it may hold a password.
      r.problem('REDIS_CLUSTER_NODES', `entry ${nodes.length + 1} is not host:port or a redis:// or rediss:// URL`);
      return null;
    }
  }
  return { nodes, tls: false, ...(auth ?? {}) };
}
