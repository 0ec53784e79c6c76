import { DynamicModule, Module, Type } from '@nestjs/common';
import type { Db } from 'mongodb';
import type { DataSource } from 'typeorm';
import type { Logger } from 'pino';
import { sharedImports } from './app.module';
import { LogContext } from './common/logging/log-context';
import type { LogOutput } from './common/logging/root-logger';
import { MetricsService } from './common/metrics/metrics.service';
import { checkStores } from './health/readiness';
import { WorkerHealthServer } from './health/worker-health.server';
import type { AppConfig } from './app-config';
import { APP_CONFIG } from './app-config.module';
import type { QueueName } from './queues/queue-names';
import type { QueueProcessor } from './queues/queue-processor';
import { WorkerHost } from './queues/worker-host';
import { WorkRecovery } from './queues/work-recovery';
import { RepairProcessor } from './repair/repair.processor';
import { RepairModule } from './repair/repair.module';
import { ShadowModule } from './shadow/shadow.module';
import { ShadowProcessor } from './shadow/shadow.processor';
import { ShadowLagModule } from './shadow-lag.module';
import { RedisClient, redisForQueues } from './stores/redis';
import { DATA_SOURCE, LEGACY_DB, REDIS } from './stores/stores.module';
import { BackfillProcessor } from './sync/backfill/backfill.processor';
import { CatchupProcessor } from './sync/catchup/catchup.processor';
import { SyncModule } from './sync/sync.module';
import { VerifyProcessor } from './verify/verify.processor';
import { VerifyModule } from './verify/verify.module';
import { TrafficMoveModule } from './migration/traffic-move.module';
import { CleanupRunsModule } from './cleanup/cleanup-runs.module';
import { CleanupProcessor } from './cleanup/cleanup.processor';
import { TrafficMoveProcessor } from './migration/traffic-move.processor';
import { BackfillService } from './sync/backfill/backfill.service';
import { VerifyService } from './verify/verify.service';
import { CleanupService } from './cleanup/cleanup.service';

/** The processors of every queue, with the module that provides what they need. */
export const PROCESSOR_MODULES: Array<{ module: Type<unknown> | DynamicModule; processors: Type<QueueProcessor>[] }> = [
  { module: RepairModule, processors: [RepairProcessor] },
  { module: SyncModule, processors: [BackfillProcessor, CatchupProcessor] },
  { module: ShadowModule, processors: [ShadowProcessor] },
  { module: VerifyModule, processors: [VerifyProcessor] },
  { module: TrafficMoveModule, processors: [TrafficMoveProcessor] },
  { module: CleanupRunsModule, processors: [CleanupProcessor] },
];

/** The worker process: the shared providers, the processors, and only a health listener for HTTP. */
@Module({})
export class WorkerModule {
  static forRoot(config: AppConfig, queues: QueueName[], log?: Logger | LogOutput): DynamicModule {
    const processors = PROCESSOR_MODULES.flatMap((m) => m.processors);
    return {
      module: WorkerModule,
      imports: [...sharedImports(config, log), ...PROCESSOR_MODULES.map((m) => m.module), ShadowLagModule],
      providers: [
        {
          provide: WorkerHost,
          inject: [APP_CONFIG, LogContext, MetricsService, ...processors],
          useFactory: (cfg: AppConfig, log: LogContext, metrics: MetricsService, ...instances: QueueProcessor[]) =>
            new WorkerHost(queues, instances, redisForQueues(cfg.redis), log, cfg.redis.keyPrefix, metrics),
        },
        {
          provide: WorkRecovery,
          inject: [APP_CONFIG, REDIS, DATA_SOURCE, MetricsService, BackfillService, VerifyService, CleanupService, TrafficMoveProcessor],
          useFactory: (
            cfg: AppConfig,
            redis: RedisClient,
            ds: DataSource,
            metrics: MetricsService,
            backfill: BackfillService,
            verify: VerifyService,
            cleanup: CleanupService,
            traffic: TrafficMoveProcessor,
          ) =>
            new WorkRecovery(
              [
                { kind: 'backfill', recover: () => backfill.recover() },
                { kind: 'verify', recover: () => verify.recover() },
                { kind: 'cleanup', recover: () => cleanup.recover() },
                { kind: 'traffic', recover: async () => (await traffic.recover()).requeued.map((id) => `traffic change ${id}`) },
              ],
              redis,
              cfg.redis.keyPrefix,
              ds,
              cfg.workers.recoveryIntervalMs,
              metrics,
            ),
        },
        {
          provide: WorkerHealthServer,
          inject: [APP_CONFIG, DATA_SOURCE, LEGACY_DB, REDIS, WorkerHost, MetricsService],
          useFactory: (cfg: AppConfig, ds: DataSource, legacy: Db, redis: RedisClient, host: WorkerHost, metrics: MetricsService) =>
            new WorkerHealthServer(cfg.workers.healthPort > 0 ? cfg.workers.healthPort : null, {
              stores: () => checkStores(ds, legacy, redis),
              queues: () => host.states(),
              metrics: async () => ({ contentType: metrics.registry.contentType, body: await metrics.registry.metrics() }),
            }),
        },
      ],
    };
  }
}
