import { Inject, Module, OnApplicationShutdown } from '@nestjs/common';
import { Db } from 'mongodb';
import { DataSource } from 'typeorm';
import { MetricsService } from '../common/metrics/metrics.service';
import { Connections } from '../stores/connections';
import { DATA_SOURCE, LEGACY_DB } from '../stores/stores.module';
import { DATABASE_CONFIG, DatabaseConfig } from '../stores/stores.config';
import { createDataSource } from '../stores/postgres/data-source';
import { LEGACY_STORE, NEW_STORE, TransactionalStore } from '../stores/conversation-store.port';
import type { LegacyStore } from '../stores/legacy-store.port';
import { DUAL_WRITE_CONFIG, DualWriteConfig } from '../mode/dual-write.config';
import { FollowUpRepairs } from './follow-up-repairs';
import { OutboxReplayer } from './outbox-replayer';
import { MongoRepairOutbox, PostgresRepairOutbox } from './repair-outbox';
import { RepairQueue } from './repair-queue';
import { REPAIR_CONFIG, RepairConfig } from './repair.config';
import { RepairRecorder } from './repair-recorder';
import { RepairController } from './repair.controller';
import { RepairProcessor } from './repair.processor';
import { POSTGRES_OUTBOX, RepairService } from './repair.service';
import { OutboxFollower } from './outbox-follower';
import { registerFollowUpGauges } from './repair-metrics';

export const REPAIR_OUTBOXES = Symbol('REPAIR_OUTBOXES');

@Module({
  controllers: [RepairController],
  providers: [
    {
      provide: RepairQueue,
      inject: [Connections, REPAIR_CONFIG],
      useFactory: (connections: Connections, repair: RepairConfig) =>
        new RepairQueue(connections.redisFailFast({ commandTimeout: undefined }), connections.keyPrefix, repair),
    },
    {
      provide: REPAIR_OUTBOXES,
      inject: [DATA_SOURCE, LEGACY_DB],
      useFactory: (ds: DataSource, db: Db) => ({ new: new PostgresRepairOutbox(ds), legacy: new MongoRepairOutbox(db) }),
    },
    {
      provide: RepairRecorder,
      inject: [RepairQueue, REPAIR_OUTBOXES, MetricsService],
      useFactory: (queue: RepairQueue, outboxes: ConstructorParameters<typeof RepairRecorder>[1], metrics: MetricsService) =>
        new RepairRecorder(queue, outboxes, metrics),
    },
    {
      provide: OutboxReplayer,
      inject: [REPAIR_OUTBOXES, RepairQueue, LEGACY_DB],
      useFactory: (outboxes: ConstructorParameters<typeof RepairRecorder>[1], queue: RepairQueue, legacy: Db) =>
        // Only legacy is probed: with PostgreSQL down, its outbox cannot be drained anyway.
        new OutboxReplayer([outboxes.new, outboxes.legacy], queue, 2000, {
          legacy: async () => {
            await legacy.command({ ping: 1 });
          },
        }),
    },
    { provide: POSTGRES_OUTBOX, inject: [REPAIR_OUTBOXES], useFactory: (outboxes: { new: PostgresRepairOutbox }) => outboxes.new },
    RepairService,
    RepairProcessor,
    {
      provide: FollowUpRepairs,
      inject: [DATABASE_CONFIG, LEGACY_STORE, NEW_STORE, DUAL_WRITE_CONFIG, MetricsService],
      useFactory: (database: DatabaseConfig, legacy: LegacyStore, newStore: TransactionalStore, dw: DualWriteConfig, m: MetricsService) =>
        new FollowUpRepairs(
          () =>
            createDataSource({ ...database, poolSize: database.followPoolSize, applicationName: 'legacy-migration-service/follow-ups' }),
          legacy,
          newStore,
          dw.fenceWaitMs,
          m,
        ),
    },
    {
      provide: OutboxFollower,
      inject: [FollowUpRepairs, REPAIR_CONFIG, DATABASE_CONFIG],
      useFactory: (repairs: FollowUpRepairs, repair: RepairConfig, database: DatabaseConfig) =>
        new OutboxFollower(repairs, { followUpDelayMs: repair.followUpDelayMs, followConnections: database.followPoolSize }),
    },
  ],
  exports: [RepairQueue, RepairRecorder, RepairService, RepairProcessor, OutboxReplayer, OutboxFollower, REPAIR_OUTBOXES, POSTGRES_OUTBOX],
})
export class RepairModule implements OnApplicationShutdown {
  constructor(
    @Inject(RepairQueue) private readonly queue: RepairQueue,
    @Inject(POSTGRES_OUTBOX) outbox: PostgresRepairOutbox,
    metrics: MetricsService,
  ) {
    registerFollowUpGauges(metrics, outbox);
  }

  async onApplicationShutdown(): Promise<void> {
    await this.queue.close().catch(() => undefined);
  }
}
