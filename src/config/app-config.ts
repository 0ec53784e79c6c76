/**
 * Configuration, validated once at boot, section by section. `loadConfig` either returns a fully
 * typed config or throws one ConfigError naming every bad variable. Nothing else reads process.env.
 */
import { ConfigError, Env, EnvReader } from './env-reader';
import { readSyncConfig, SyncConfig } from './sync-config';
import { MigrationConfig, readMigrationConfig } from '../migration/migration.config';
import { readShadowConfig, ShadowConfig } from '../shadow/shadow.config';

export interface ApiToken {
  name: string;
  token: string;
  role: 'app' | 'operator';
}

export interface AppConfig {
  app: { port: number; localDevMode: boolean; logLevel: LogLevel; bodyLimitBytes: number };
  auth: { tokens: ApiToken[] };
  database: { url: string; runMigrationsOnStart: boolean; poolSize: number; statementTimeoutMs: number };
  legacy: { url: string; database: string; collection: string };
  redis: { url: string };
  dualWrite: { secondaryTimeoutMs: number; modeCacheTtlMs: number };
  repair: { attempts: number; backoffMs: number };
  migration: MigrationConfig;
  workers: { queues: string[] };
  sync: SyncConfig;
  traffic: TrafficConfig;
  shadow: ShadowConfig;
}

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export const LOG_LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error'];

export interface TrafficConfig {
  provider: 'none' | 'route53';
  region: string;
  endpoint?: string;
  hostedZoneId?: string;
  recordName?: string;
  recordType: string;
  ttl: number;
}

const MIN_TOKEN_LENGTH = 16;

function readApp(r: EnvReader): AppConfig['app'] {
  return {
    port: r.int('PORT', 3000, 0, 65535),
    localDevMode: r.bool('LOCAL_DEV_MODE', false),
    logLevel: r.oneOf('LOG_LEVEL', LOG_LEVELS, 'info'),
    bodyLimitBytes: 1024 * 1024,
  };
}

/** Entries are `name:token` (the name is what the audit log shows) or a bare token. */
function readTokens(r: EnvReader, variable: string, role: ApiToken['role']): ApiToken[] {
  return r.list(variable).map((entry, index) => {
    const colon = entry.indexOf(':');
    const name = colon > 0 ? entry.slice(0, colon) : `${role}-${index + 1}`;
    const token = colon > 0 ? entry.slice(colon + 1) : entry;
    if (token.length < MIN_TOKEN_LENGTH) {
      // Never echo the token itself: only its position.
      r.problem(variable, `entry ${index + 1} (${name}) is shorter than ${MIN_TOKEN_LENGTH} characters`);
    }
    return { name, token, role };
  });
}

function readAuth(r: EnvReader, localDevMode: boolean): AppConfig['auth'] {
  const tokens = [...readTokens(r, 'APP_API_TOKENS', 'app'), ...readTokens(r, 'OPERATOR_API_TOKENS', 'operator')];
  if (tokens.length === 0 && !localDevMode) {
    r.problem('APP_API_TOKENS', 'no API tokens configured (set APP_API_TOKENS / OPERATOR_API_TOKENS, or LOCAL_DEV_MODE=true for an open local API)');
  }
  return { tokens };
}

function readDatabase(r: EnvReader): AppConfig['database'] {
  return {
    url: r.url('DATABASE_URL', ['postgres', 'postgresql']),
    runMigrationsOnStart: r.bool('MIGRATIONS_RUN_ON_START', false),
    poolSize: r.int('DATABASE_POOL_SIZE', 20, 1, 500),
    statementTimeoutMs: r.int('DATABASE_STATEMENT_TIMEOUT_MS', 30000, 0),
  };
}

function readLegacy(r: EnvReader): AppConfig['legacy'] {
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
  return { url, database, collection: r.string('LEGACY_COLLECTION', 'conversations') };
}

function readTraffic(r: EnvReader): TrafficConfig {
  const provider = r.oneOf('TRAFFIC_PROVIDER', ['none', 'route53'] as const, 'none');
  const traffic: TrafficConfig = {
    provider,
    region: r.string('AWS_REGION', 'us-east-1'),
    endpoint: r.has('AWS_ENDPOINT_URL') ? r.url('AWS_ENDPOINT_URL', ['http', 'https']) : undefined,
    hostedZoneId: r.optionalString('ROUTE53_HOSTED_ZONE_ID'),
    recordName: r.optionalString('ROUTE53_RECORD_NAME'),
    recordType: r.oneOf('ROUTE53_RECORD_TYPE', ['A', 'AAAA', 'CNAME'] as const, 'A'),
    ttl: r.int('ROUTE53_TTL', 60, 0, 172800),
  };
  if (provider === 'route53') {
    if (!traffic.hostedZoneId) r.problem('ROUTE53_HOSTED_ZONE_ID', 'is required when TRAFFIC_PROVIDER=route53');
    if (!traffic.recordName) r.problem('ROUTE53_RECORD_NAME', 'is required when TRAFFIC_PROVIDER=route53');
  }
  return traffic;
}

export function loadConfig(env: Env): AppConfig {
  const r = new EnvReader(env);
  const app = readApp(r);
  const config: AppConfig = {
    app,
    auth: readAuth(r, app.localDevMode),
    database: readDatabase(r),
    legacy: readLegacy(r),
    redis: { url: r.url('REDIS_URL', ['redis', 'rediss']) },
    dualWrite: {
      secondaryTimeoutMs: r.int('SECONDARY_WRITE_TIMEOUT_MS', 2000, 1, 600000),
      modeCacheTtlMs: r.int('MODE_CACHE_TTL_MS', 1000, 0, 60000),
    },
    repair: {
      attempts: r.int('REPAIR_ATTEMPTS', 10, 1, 100),
      backoffMs: r.int('REPAIR_BACKOFF_MS', 500, 1, 3_600_000),
    },
    migration: readMigrationConfig(r),
    workers: { queues: r.list('WORKER_QUEUES') },
    sync: readSyncConfig(r),
    traffic: readTraffic(r),
    shadow: readShadowConfig(r),
  };
  if (r.problems.length > 0) throw new ConfigError(r.problems);
  return config;
}
