import { DynamicModule, Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import type { Logger } from 'pino';
import { AuthGuard } from './common/auth/auth.guard';
import { RateLimitGuard } from './rate-limit/rate-limit.guard';
import { RateLimitModule } from './rate-limit/rate-limit.module';
import { ConversationsModule } from './conversations/conversations.module';
import { DashboardModule } from './dashboard/dashboard.module';
import { ModeModule } from './mode/mode.module';
import { InitialPhaseModule } from './migration/initial-phase.module';
import type { AppConfig } from './app-config';
import { ConfigModule } from './app-config.module';
import { MetricsListener } from './common/metrics/metrics-listener';
import { MetricsModule } from './common/metrics/metrics.module';
import { HealthModule } from './health/health.module';
import { LoggingModule } from './common/logging/logging.module';
import type { LogOutput } from './common/logging/root-logger';
import { ShadowModule } from './shadow/shadow.module';
import { ShadowLagModule } from './shadow-lag.module';
import { StoresModule } from './stores/stores.module';
import { SyncModule } from './sync/sync.module';
import { MigrationModule } from './migration/migration.module';
import { TrafficModule } from './traffic/traffic.module';
import { VerifyModule } from './verify/verify.module';

/**
 * The providers both process kinds share. The API adds controllers (AppModule); the worker adds
 * queue processors (WorkerModule); otherwise they are built from the same lists.
 */
export function sharedImports(config: AppConfig, log: Logger | LogOutput = { level: config.app.logLevel }) {
  return [ConfigModule.forRoot(config), LoggingModule.forRoot(log), MetricsModule, StoresModule, ModeModule, InitialPhaseModule];
}

@Module({})
export class AppModule {
  static forRoot(config: AppConfig, log?: Logger | LogOutput): DynamicModule {
    return {
      module: AppModule,
      imports: [
        ...sharedImports(config, log),
        HealthModule,
        ShadowModule,
        ShadowLagModule,
        ConversationsModule,
        SyncModule,
        VerifyModule,
        TrafficModule,
        MigrationModule,
        DashboardModule,
        RateLimitModule,
      ],
      // Guards run in this order: who is calling, then whether that token may call again now.
      providers: [{ provide: APP_GUARD, useClass: AuthGuard }, { provide: APP_GUARD, useExisting: RateLimitGuard }, MetricsListener],
    };
  }
}
