/**
 * The configuration's composition: every wing's section, validated once at boot. Each wing owns its
 * section (type, reader, injection token, in its `*.config.ts`); this file only assembles them, so one
 * reader sees every variable and `loadConfig` either returns a fully typed config or throws one
 * ConfigError naming every bad variable. Nothing else reads process.env. Only the top floor (bootstrap,
 * the app and worker modules, entrypoints, scripts, tests) imports this file; wings inject their section.
 */
import { ArchiveConfig, readArchiveSettings } from './cleanup/archive.config';
import { AuthConfig, readAuthConfig } from './common/auth/auth.config';
import { readServerConfig, ServerConfig } from './common/server.config';
import { ConfigError, Env, EnvReader } from './config/env-reader';
import { MigrationConfig, readMigrationConfig } from './migration/migration.config';
import { DualWriteConfig, readDualWriteConfig } from './mode/dual-write.config';
import { readWorkersConfig, WorkersConfig } from './queues/workers.config';
import { RateLimitConfig, readRateLimitConfig } from './rate-limit/rate-limit.config';
import { readRepairConfig, RepairConfig } from './repair/repair.config';
import { readShadowConfig, ShadowConfig } from './shadow/shadow.config';
import { DatabaseConfig, LegacyConfig, readDatabaseConfig, readLegacyConfig, readRedisConfig, RedisConfig } from './stores/stores.config';
import { readSyncConfig, SyncConfig } from './sync/sync.config';
import { readTrafficConfig, TrafficConfig } from './traffic/traffic.config';

export type { ApiToken } from './common/auth/auth.config';
export type { LogLevel } from './common/server.config';
export type { TrafficConfig } from './traffic/traffic.config';

export interface AppConfig {
  app: ServerConfig;
  auth: AuthConfig;
  database: DatabaseConfig;
  legacy: LegacyConfig;
  redis: RedisConfig;
  dualWrite: DualWriteConfig;
  repair: RepairConfig;
  rateLimit: RateLimitConfig;
  migration: MigrationConfig;
  workers: WorkersConfig;
  sync: SyncConfig;
  traffic: TrafficConfig;
  shadow: ShadowConfig;
  /** Where cleanup archives the legacy collection (ARCHIVE_DIR or ARCHIVE_S3_BUCKET); null when not set. */
  archive: ArchiveConfig | null;
}

function readConfig(r: EnvReader): AppConfig {
  const app = readServerConfig(r);
  return {
    app,
    auth: readAuthConfig(r, app.localDevMode),
    database: readDatabaseConfig(r),
    legacy: readLegacyConfig(r),
    redis: readRedisConfig(r),
    dualWrite: readDualWriteConfig(r),
    repair: readRepairConfig(r),
    rateLimit: readRateLimitConfig(r),
    migration: readMigrationConfig(r),
    workers: readWorkersConfig(r),
    sync: readSyncConfig(r),
    traffic: readTrafficConfig(r),
    shadow: readShadowConfig(r),
    archive: readArchiveSettings(r, process.cwd()),
  };
}

/** What no single wing can check: settings of two wings that must agree. */
function checkTogether(r: EnvReader, c: AppConfig): void {
  // New writes wait while a phase change waits for the writes in flight: it must give up before they do.
  if (c.migration.cutoverLockTimeoutMs >= c.dualWrite.fenceWaitMs) {
    r.problem(
      'CUTOVER_LOCK_TIMEOUT_MS',
      `must be less than WRITE_FENCE_WAIT_MS (${c.dualWrite.fenceWaitMs}): writes wait while a phase change waits for the ` +
        `writes in flight, and would fail before it gave up; got ${c.migration.cutoverLockTimeoutMs}`,
    );
  }
}

export function loadConfig(env: Env): AppConfig {
  const r = new EnvReader(env);
  const config = readConfig(r);
  checkTogether(r, config);
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
  checkTogether(r, readConfig(r));
  return { problems: [...r.problems], variablesRead: [...r.names].sort() };
}
