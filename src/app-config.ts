/**
 * Configuration, validated once at boot, section by section. `loadConfig` either returns a fully
 * typed config or throws one ConfigError naming every bad variable. Nothing else reads process.env.
 */
import { ArchiveConfig, readArchiveSettings } from './cleanup/archive.config';
import { readAwsCredentials } from './config/aws-credentials';
import { ConfigError, Env, EnvReader } from './config/env-reader';
import { readSyncConfig, SyncConfig } from './sync/sync.config';
import { MigrationConfig, readMigrationConfig } from './migration/migration.config';
import { readShadowConfig, ShadowConfig } from './shadow/shadow.config';
import type { RetryPolicy } from './traffic/route53/retry';
import { AwsCredentialsProvider, ROUTE53_DEFAULTS } from './traffic/route53/route53-settings';
import { bareZoneId, isDnsName, isZoneId, parseTarget, RECORD_TYPES, RecordType, Route53Target } from './traffic/route53/route53-target';

export interface ApiToken {
  name: string;
  token: string;
  role: 'app' | 'operator';
}

export interface AppConfig {
  /** metricsPort: the API's Prometheus listener (0: none). */
  app: { port: number; metricsPort: number; localDevMode: boolean; logLevel: LogLevel; bodyLimitBytes: number; maxHeaderBytes: number; docs: ApiDocsMode };
  auth: { tokens: ApiToken[] };
  database: { url: string; runMigrationsOnStart: boolean; poolSize: number; statementTimeoutMs: number };
  legacy: { url: string; database: string; collection: string; slowCommandMs: number };
  redis: { url: string };
  dualWrite: { secondaryTimeoutMs: number; modeCacheTtlMs: number; fenceWaitMs: number };
  repair: { attempts: number; backoffMs: number };
  /** Requests per second per token (0 = unlimited): by role, and per token name. */
  rateLimit: { appRps: number; operatorRps: number; overrides: Record<string, number> };
  migration: MigrationConfig;
  /** healthPort 0: no health listener (the default, so several workers can share a machine). */
  workers: { queues: string[]; healthPort: number; recoveryIntervalMs: number };
  sync: SyncConfig;
  traffic: TrafficConfig;
  shadow: ShadowConfig;
  /** Where cleanup archives the legacy collection (ARCHIVE_DIR or ARCHIVE_S3_BUCKET); null when not set. */
  archive: ArchiveConfig | null;
}

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export const LOG_LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error'];

/** OpenAPI (/docs, /docs-json): open to anyone, behind an operator token, or not served at all. */
export type ApiDocsMode = 'public' | 'operator' | 'off';
export const API_DOCS_MODES: readonly ApiDocsMode[] = ['public', 'operator', 'off'];

export interface TrafficConfig {
  provider: 'none' | 'route53';
  region: string;
  endpoint?: string;
  /** From AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (/ AWS_SESSION_TOKEN) when set; else the SDK's default chain. */
  credentials?: AwsCredentialsProvider;
  hostedZoneId?: string;
  recordName?: string;
  recordType: RecordType;
  /** For plain-value records; alias records take the target's TTL. */
  ttl: number;
  /** What each weighted record answers with (required for route53). */
  targets?: { legacy: Route53Target; new: Route53Target };
  pollIntervalMs: number;
  syncTimeoutMs: number;
  retry: RetryPolicy;
}

const MIN_TOKEN_LENGTH = 16;

function readApp(r: EnvReader): AppConfig['app'] {
  return {
    port: r.int('PORT', 3000, 0, 65535),
    metricsPort: r.int('METRICS_PORT', 9464, 0, 65535),
    localDevMode: r.bool('LOCAL_DEV_MODE', false),
    logLevel: r.oneOf('LOG_LEVEL', LOG_LEVELS, 'info'),
    bodyLimitBytes: 1024 * 1024,
    maxHeaderBytes: r.int('MAX_HEADER_BYTES', 16 * 1024, 1024, 1024 * 1024),
    docs: r.oneOf('API_DOCS', API_DOCS_MODES, 'operator'),
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
  return { url, database, collection: r.string('LEGACY_COLLECTION', 'conversations'), slowCommandMs: r.int('LEGACY_SLOW_COMMAND_MS', 0, 0, 3_600_000) };
}

function readRateLimit(r: EnvReader): AppConfig['rateLimit'] {
  const overrides: Record<string, number> = {};
  for (const entry of r.list('RATE_LIMIT_OVERRIDES')) {
    const m = /^([A-Za-z0-9._-]{1,100}):(\d+(?:\.\d+)?)$/.exec(entry);
    if (m) overrides[m[1]] = Number(m[2]);
    else r.problem('RATE_LIMIT_OVERRIDES', `"${entry.slice(0, 40)}" is not name:requestsPerSecond`);
  }
  return {
    appRps: r.number('RATE_LIMIT_APP_RPS', 1000, 0),
    operatorRps: r.number('RATE_LIMIT_OPERATOR_RPS', 100, 0),
    overrides,
  };
}

function readTraffic(r: EnvReader): TrafficConfig {
  const provider = r.oneOf('TRAFFIC_PROVIDER', ['none', 'route53'] as const, 'none');
  const d = ROUTE53_DEFAULTS;
  const recordType = r.oneOf('ROUTE53_RECORD_TYPE', RECORD_TYPES, d.recordType);
  const hostedZoneId = r.optionalString('ROUTE53_HOSTED_ZONE_ID');
  const recordName = r.optionalString('ROUTE53_RECORD_NAME');
  const legacyTarget = readTarget(r, 'ROUTE53_LEGACY_TARGET', recordType);
  const newTarget = readTarget(r, 'ROUTE53_NEW_TARGET', recordType);
  const traffic: TrafficConfig = {
    provider,
    region: r.string('AWS_REGION', d.region),
    endpoint: r.has('AWS_ENDPOINT_URL') ? r.url('AWS_ENDPOINT_URL', ['http', 'https']) : undefined,
    credentials: provider === 'route53' ? readAwsCredentials(r) : undefined,
    hostedZoneId: hostedZoneId === undefined ? undefined : bareZoneId(hostedZoneId),
    recordName,
    recordType,
    ttl: r.int('ROUTE53_TTL', d.ttl, 0, 172800),
    targets: legacyTarget && newTarget ? { legacy: legacyTarget, new: newTarget } : undefined,
    pollIntervalMs: r.int('ROUTE53_POLL_MS', d.pollIntervalMs, 1, 600_000),
    syncTimeoutMs: r.int('ROUTE53_SYNC_TIMEOUT_MS', d.syncTimeoutMs, 1, 86_400_000),
    retry: {
      baseMs: r.int('ROUTE53_RETRY_BASE_MS', d.retry.baseMs, 1, 600_000),
      capMs: r.int('ROUTE53_RETRY_MAX_MS', d.retry.capMs, 1, 3_600_000),
      maxAttempts: r.int('ROUTE53_RETRY_ATTEMPTS', d.retry.maxAttempts, 1, 100),
    },
  };
  if (hostedZoneId !== undefined && !isZoneId(hostedZoneId)) {
    r.problem('ROUTE53_HOSTED_ZONE_ID', `"${hostedZoneId}" is not a Route 53 hosted zone id (letters and digits, e.g. Z0123456789ABCDEFGHIJ)`);
  }
  if (recordName !== undefined && !isDnsName(recordName)) r.problem('ROUTE53_RECORD_NAME', `"${recordName}" is not a valid DNS name`);
  if (traffic.retry.capMs < traffic.retry.baseMs) r.problem('ROUTE53_RETRY_MAX_MS', `must be at least ROUTE53_RETRY_BASE_MS (${traffic.retry.baseMs})`);
  if (provider === 'route53') {
    const required = 'is required when TRAFFIC_PROVIDER=route53';
    if (!hostedZoneId) r.problem('ROUTE53_HOSTED_ZONE_ID', required);
    if (!recordName) r.problem('ROUTE53_RECORD_NAME', required);
    for (const name of ['ROUTE53_LEGACY_TARGET', 'ROUTE53_NEW_TARGET']) {
      if (!r.has(name)) r.problem(name, `${required} (alias:<hostedZoneId>:<dnsName>[:evaluate] or comma-separated record values)`);
    }
  }
  return traffic;
}

function readTarget(r: EnvReader, variable: string, recordType: RecordType): Route53Target | undefined {
  const text = r.optionalString(variable);
  if (text === undefined) return undefined;
  const parsed = parseTarget(text, recordType);
  if (typeof parsed === 'string') {
    r.problem(variable, parsed);
    return undefined;
  }
  return parsed;
}

function readConfig(r: EnvReader): AppConfig {
  const app = readApp(r);
  return {
    app,
    auth: readAuth(r, app.localDevMode),
    database: readDatabase(r),
    legacy: readLegacy(r),
    redis: { url: r.url('REDIS_URL', ['redis', 'rediss']) },
    dualWrite: {
      secondaryTimeoutMs: r.int('SECONDARY_WRITE_TIMEOUT_MS', 2000, 1, 600000),
      modeCacheTtlMs: r.int('MODE_CACHE_TTL_MS', 1000, 0, 60000),
      fenceWaitMs: r.int('WRITE_FENCE_WAIT_MS', 30000, 100, 600000),
    },
    repair: {
      attempts: r.int('REPAIR_ATTEMPTS', 10, 1, 100),
      backoffMs: r.int('REPAIR_BACKOFF_MS', 500, 1, 3_600_000),
    },
    rateLimit: readRateLimit(r),
    migration: readMigrationConfig(r),
    workers: {
      queues: r.list('WORKER_QUEUES'),
      healthPort: r.int('WORKER_HEALTH_PORT', 0, 0, 65535),
      recoveryIntervalMs: r.int('WORKER_RECOVERY_INTERVAL_MS', 30_000, 1000, 3_600_000),
    },
    sync: readSyncConfig(r),
    traffic: readTraffic(r),
    shadow: readShadowConfig(r),
    archive: readArchiveSettings(r, process.cwd()),
  };
}

export function loadConfig(env: Env): AppConfig {
  const r = new EnvReader(env);
  const config = readConfig(r);
  if (r.problems.length > 0) throw new ConfigError(r.problems);
  return config;
}

/**
 * What the reader makes of an environment without throwing: its problems, and every variable it asked
 * for given these values (a variable read only in some cases, such as ROUTE53_* with
 * TRAFFIC_PROVIDER=route53, counts only when that case applies). Deployment tests check a ConfigMap
 * against it, so a key nothing reads, or one that is read but ignored in that setting, is caught.
 */
export function inspectConfig(env: Env): { problems: string[]; variablesRead: string[] } {
  const r = new EnvReader(env);
  readConfig(r);
  return { problems: [...r.problems], variablesRead: [...r.names].sort() };
}
