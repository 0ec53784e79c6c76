/** The stores' sections (AppConfig `database`, `legacy`, `redis`): where each store and Redis are. */
import type { EnvReader } from '../config/env-reader';

export interface DatabaseConfig {
  url: string;
  runMigrationsOnStart: boolean;
  poolSize: number;
  statementTimeoutMs: number;
}

export interface LegacyConfig {
  url: string;
  database: string;
  collection: string;
  slowCommandMs: number;
}

export interface RedisConfig {
  url: string;
}

export const DATABASE_CONFIG = Symbol('DATABASE_CONFIG');
export const LEGACY_CONFIG = Symbol('LEGACY_CONFIG');
export const REDIS_CONFIG = Symbol('REDIS_CONFIG');

export function readDatabaseConfig(r: EnvReader): DatabaseConfig {
  return {
    url: r.url('DATABASE_URL', ['postgres', 'postgresql']),
    runMigrationsOnStart: r.bool('MIGRATIONS_RUN_ON_START', false),
    poolSize: r.int('DATABASE_POOL_SIZE', 20, 1, 500),
    statementTimeoutMs: r.int('DATABASE_STATEMENT_TIMEOUT_MS', 30000, 0),
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

export function readRedisConfig(r: EnvReader): RedisConfig {
  return { url: r.url('REDIS_URL', ['redis', 'rediss']) };
}
