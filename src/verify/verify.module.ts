import { Inject, Module, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import type { Collection } from 'mongodb';
import { DataSource } from 'typeorm';
import { MetricsService } from '../common/metrics/metrics.service';
import { MigrationModeService } from '../mode/migration-mode.service';
import { RepairModule } from '../repair/repair.module';
import { RepairService } from '../repair/repair.service';
import { Connections } from '../stores/connections';
import { DATA_SOURCE, LEGACY_COLLECTION } from '../stores/stores.module';
import { ChunkScanner } from './chunk-scanner';
import { MongoVerifySource } from './mongo-verify.source';
import { PostgresVerifySource } from './postgres-verify.source';
import { Rechecker } from './rechecker';
import { VerifyController } from './verify.controller';
import { registerLatestRunGauges, VerifyMetrics } from './verify.metrics';
import { VerifyProcessor } from './verify.processor';
import { VerifyQueue } from './verify-queue';
import { VerifyRepairer } from './verify-repairer';
import { VerifyRunRepository } from './verify-run.repository';
import { VerifyRunner } from './verify.runner';
import { VerifyService } from './verify.service';
import { LEGACY_VERIFY_SOURCE, LegacyVerifySource, NEW_VERIFY_SOURCE, NewVerifySource } from './verify-sources';

/** Verification: the operator endpoints, the producer, and the processor with its parts, wired here. */
@Module({
  imports: [RepairModule],
  controllers: [VerifyController],
  providers: [
    {
      provide: LEGACY_VERIFY_SOURCE,
      inject: [LEGACY_COLLECTION],
      useFactory: (collection: Collection) => new MongoVerifySource(collection),
    },
    { provide: NEW_VERIFY_SOURCE, inject: [DATA_SOURCE], useFactory: (ds: DataSource) => new PostgresVerifySource(ds) },
    { provide: VerifyRunRepository, inject: [DATA_SOURCE], useFactory: (ds: DataSource) => new VerifyRunRepository(ds) },
    {
      provide: VerifyQueue,
      inject: [Connections],
      // Fails fast when Redis is down, but waits out the first connect (a CLI enqueues right after start-up).
      useFactory: (connections: Connections) =>
        new VerifyQueue(connections.redisFailFast({ commandTimeout: undefined, enableOfflineQueue: true }), connections.keyPrefix),
    },
    VerifyMetrics,
    {
      provide: VerifyRunner,
      inject: [
        LEGACY_VERIFY_SOURCE,
        NEW_VERIFY_SOURCE,
        VerifyRunRepository,
        RepairService,
        MigrationModeService,
        VerifyMetrics,
        VerifyQueue,
      ],
      useFactory: (
        legacy: LegacyVerifySource,
        next: NewVerifySource,
        runs: VerifyRunRepository,
        repairs: RepairService,
        mode: MigrationModeService,
        metrics: VerifyMetrics,
        queue: VerifyQueue,
      ) => {
        const rechecker = new Rechecker(legacy, next, runs, metrics);
        return new VerifyRunner(
          runs,
          new ChunkScanner(legacy, next, runs, rechecker, metrics),
          rechecker,
          new VerifyRepairer(legacy, next, runs, repairs, mode, metrics),
          (run, count, round) => queue.addHelpers(run.id, run.createdAt, count, round),
        );
      },
    },
    VerifyService,
    VerifyProcessor,
  ],
  exports: [VerifyService, VerifyRunRepository, VerifyRunner, VerifyProcessor, VerifyQueue],
})
export class VerifyModule implements OnModuleInit, OnApplicationShutdown {
  constructor(
    @Inject(VerifyQueue) private readonly queue: VerifyQueue,
    private readonly metrics: MetricsService,
    private readonly runs: VerifyRunRepository,
  ) {}

  onModuleInit(): void {
    registerLatestRunGauges(this.metrics, this.runs);
  }

  async onApplicationShutdown(): Promise<void> {
    await this.queue.close();
  }
}
