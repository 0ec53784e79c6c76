import { Global, Module } from '@nestjs/common';
import { AppConfig, loadConfig } from './app-config';
import { ARCHIVE_CONFIG } from './cleanup/archive.config';
import { AUTH_CONFIG } from './common/auth/auth.config';
import { SERVER_CONFIG } from './common/server.config';
import { environmentWithEnvFile } from './config/env-file';
import { MIGRATION_CONFIG } from './migration/migration.config';
import { DUAL_WRITE_CONFIG } from './mode/dual-write.config';
import { WORKERS_CONFIG } from './queues/workers.config';
import { RATE_LIMIT_CONFIG } from './rate-limit/rate-limit.config';
import { REPAIR_CONFIG } from './repair/repair.config';
import { SHADOW_CONFIG, SHADOW_GATE_VIEW, ShadowGateView } from './shadow/shadow.config';
import { DATABASE_CONFIG, LEGACY_CONFIG, REDIS_CONFIG } from './stores/stores.config';
import { SYNC_CONFIG } from './sync/sync.config';
import { TRAFFIC_CONFIG } from './traffic/traffic.config';

/** The whole configuration: for the top floor only (the app and worker modules); wings inject their section. */
export const APP_CONFIG = Symbol('APP_CONFIG');

/** Each section under its wing's token, from one validated config. */
function sectionProviders(config: AppConfig) {
  const gateView: ShadowGateView = {
    maxMismatchRate: config.migration.gates.maxMismatchRate,
    analysisWindowMs: config.migration.analysisWindowMs,
  };
  return [
    { provide: APP_CONFIG, useValue: config },
    { provide: SERVER_CONFIG, useValue: config.app },
    { provide: AUTH_CONFIG, useValue: config.auth },
    { provide: DATABASE_CONFIG, useValue: config.database },
    { provide: LEGACY_CONFIG, useValue: config.legacy },
    { provide: REDIS_CONFIG, useValue: config.redis },
    { provide: DUAL_WRITE_CONFIG, useValue: config.dualWrite },
    { provide: REPAIR_CONFIG, useValue: config.repair },
    { provide: RATE_LIMIT_CONFIG, useValue: config.rateLimit },
    { provide: MIGRATION_CONFIG, useValue: config.migration },
    { provide: WORKERS_CONFIG, useValue: config.workers },
    { provide: SYNC_CONFIG, useValue: config.sync },
    { provide: TRAFFIC_CONFIG, useValue: config.traffic },
    { provide: SHADOW_CONFIG, useValue: config.shadow },
    { provide: SHADOW_GATE_VIEW, useValue: gateView },
    { provide: ARCHIVE_CONFIG, useValue: config.archive },
  ];
}

@Global()
@Module({})
export class ConfigModule {
  /** `config` lets tests and scripts pass an already-built config; otherwise the environment is read once. */
  static forRoot(config?: AppConfig) {
    const providers = sectionProviders(config ?? loadConfig(environmentWithEnvFile()));
    return {
      module: ConfigModule,
      providers,
      exports: providers.map((p) => p.provide),
    };
  }
}
