/**
 * The sync engine: backfill, catch-up, dead letters, throttling and their operator endpoints. The API
 * process uses the controller and producers; worker processes use the processors (see worker.module.ts).
 * Parts are plain classes wired here explicitly, so each can be built on its own in a test or a bench.
 */
import {
  Inject,
  MiddlewareConsumer,
  Module,
  NestModule,
  OnApplicationBootstrap,
  OnApplicationShutdown,
  OnModuleDestroy,
  RequestMethod,
} from '@nestjs/common';
import type { RedisClient } from '../stores/redis';
import { DataSource } from 'typeorm';
import { MetricsService } from '../common/metrics/metrics.service';
import { LEGACY_STORE } from '../stores/conversation-store.port';
import type { LegacyStore } from '../stores/legacy-store.port';
import { PostgresConversationStore } from '../stores/postgres/postgres-conversation.store';
import { Connections } from '../stores/connections';
import { DATA_SOURCE, REDIS } from '../stores/stores.module';
import { BackfillProcessor } from './backfill/backfill.processor';
import { BackfillQueue } from './backfill/backfill.queue';
import { BackfillService } from './backfill/backfill.service';
import { RangeCopier } from './backfill/range-copier';
import { RangeSplitter } from './backfill/range-splitter';
import { RangeStateTracker } from './backfill/range-state.tracker';
import { RunRepository } from './backfill/run.repository';
import { BatchWriter } from './batch-writer';
import { CatchupProcessor } from './catchup/catchup.processor';
import { CatchupQueue } from './catchup/catchup.queue';
import { CatchupAppliedLog } from './catchup/catchup-applied.log';
import { CatchupService } from './catchup/catchup.service';
import { DeadLetterRepository } from './dead-letters/dead-letter.repository';
import { DeadLetterService } from './dead-letters/dead-letter.service';
import { SyncStateRepository } from './state/sync-state.repository';
import { SyncControlService } from './sync-control.service';
import { SyncMetrics } from './sync-metrics';
import { SyncStatusService } from './sync-status.service';
import { SYNC_CONFIG, SyncConfig } from './sync.config';
import { SyncController } from './sync.controller';
import { ApiLatencyMiddleware } from './throttle/api-latency.middleware';
import { SyncThrottler, THROTTLER } from './throttle/throttler';

/** The producers' Redis connection (both queues share it). */
const SYNC_QUEUE_REDIS = Symbol('SYNC_QUEUE_REDIS');

@Module({
  controllers: [SyncController],
  providers: [
    {
      provide: SYNC_QUEUE_REDIS,
      inject: [Connections],
      useFactory: (connections: Connections) =>
        connections.redisFailFast({ commandTimeout: undefined, enableOfflineQueue: true, maxRetriesPerRequest: 2 }),
    },
    { provide: SyncStateRepository, inject: [DATA_SOURCE], useFactory: (ds: DataSource) => new SyncStateRepository(ds) },
    { provide: CatchupAppliedLog, inject: [DATA_SOURCE], useFactory: (ds: DataSource) => new CatchupAppliedLog(ds) },
    { provide: DeadLetterRepository, inject: [DATA_SOURCE], useFactory: (ds: DataSource) => new DeadLetterRepository(ds) },
    { provide: RunRepository, inject: [DATA_SOURCE], useFactory: (ds: DataSource) => new RunRepository(ds) },
    { provide: RangeStateTracker, inject: [DATA_SOURCE], useFactory: (ds: DataSource) => new RangeStateTracker(ds) },
    { provide: SyncMetrics, inject: [MetricsService], useFactory: (m: MetricsService) => new SyncMetrics(m) },
    {
      provide: BatchWriter,
      inject: [DATA_SOURCE, LEGACY_STORE, DeadLetterRepository],
      useFactory: (ds: DataSource, legacy: LegacyStore, dl: DeadLetterRepository) =>
        new BatchWriter(new PostgresConversationStore(ds), legacy, dl),
    },
    {
      provide: SyncThrottler,
      inject: [SYNC_CONFIG, SyncStateRepository, REDIS, Connections],
      useFactory: (c: SyncConfig, state: SyncStateRepository, redis: RedisClient, connections: Connections) =>
        new SyncThrottler(c, state, redis, connections.keyPrefix),
    },
    { provide: THROTTLER, useExisting: SyncThrottler },
    {
      provide: BackfillQueue,
      inject: [SYNC_QUEUE_REDIS, Connections],
      useFactory: (r: RedisClient, c: Connections) => new BackfillQueue(r, c.keyPrefix),
    },
    {
      provide: CatchupQueue,
      inject: [SYNC_QUEUE_REDIS, Connections],
      useFactory: (r: RedisClient, c: Connections) => new CatchupQueue(r, c.keyPrefix),
    },
    {
      provide: RangeSplitter,
      inject: [SYNC_CONFIG, LEGACY_STORE, RunRepository],
      useFactory: (c: SyncConfig, legacy: LegacyStore, runs: RunRepository) => new RangeSplitter(legacy, runs, c.rangeSize),
    },
    {
      provide: RangeCopier,
      inject: [SYNC_CONFIG, LEGACY_STORE, RangeStateTracker, RunRepository, BatchWriter, THROTTLER, SyncMetrics],
      useFactory: (c: SyncConfig, ...parts: [LegacyStore, RangeStateTracker, RunRepository, BatchWriter, SyncThrottler, SyncMetrics]) =>
        new RangeCopier(c, ...parts),
    },
    {
      provide: BackfillService,
      inject: [SYNC_CONFIG, RunRepository, RangeSplitter, BackfillQueue, CatchupQueue, SyncStateRepository],
      useFactory: (c: SyncConfig, ...parts: [RunRepository, RangeSplitter, BackfillQueue, CatchupQueue, SyncStateRepository]) =>
        new BackfillService(c, ...parts),
    },
    {
      provide: CatchupService,
      inject: [SYNC_CONFIG, DATA_SOURCE, LEGACY_STORE, SyncStateRepository, BatchWriter, THROTTLER, SyncMetrics, CatchupAppliedLog],
      useFactory: (
        c: SyncConfig,
        ...parts: [DataSource, LegacyStore, SyncStateRepository, BatchWriter, SyncThrottler, SyncMetrics, CatchupAppliedLog]
      ) => new CatchupService(c, ...parts),
    },
    {
      provide: DeadLetterService,
      inject: [DeadLetterRepository, LEGACY_STORE, BatchWriter, SyncMetrics],
      useFactory: (...parts: [DeadLetterRepository, LegacyStore, BatchWriter, SyncMetrics]) => new DeadLetterService(...parts),
    },
    {
      provide: SyncStatusService,
      inject: [SYNC_CONFIG, RunRepository, SyncStateRepository, DeadLetterRepository, BackfillQueue],
      useFactory: (c: SyncConfig, ...parts: [RunRepository, SyncStateRepository, DeadLetterRepository, BackfillQueue]) =>
        new SyncStatusService(c, ...parts),
    },
    {
      provide: SyncControlService,
      inject: [SyncStateRepository, SyncThrottler, BackfillService],
      useFactory: (...parts: [SyncStateRepository, SyncThrottler, BackfillService]) => new SyncControlService(...parts),
    },
    ApiLatencyMiddleware,
    BackfillProcessor,
    CatchupProcessor,
  ],
  exports: [
    THROTTLER,
    SyncThrottler,
    BackfillService,
    CatchupService,
    CatchupAppliedLog,
    SyncControlService,
    SyncStatusService,
    DeadLetterService,
    BackfillQueue,
    CatchupQueue,
    BackfillProcessor,
    CatchupProcessor,
  ],
})
export class SyncModule implements NestModule, OnApplicationBootstrap, OnModuleDestroy, OnApplicationShutdown {
  constructor(
    @Inject(SYNC_QUEUE_REDIS) private readonly redis: RedisClient,
    @Inject(BackfillQueue) private readonly backfillQueue: BackfillQueue,
    @Inject(CatchupQueue) private readonly catchupQueue: CatchupQueue,
    @Inject(SyncMetrics) private readonly metrics: SyncMetrics,
    @Inject(SyncStatusService) private readonly status: SyncStatusService,
    @Inject(RangeCopier) private readonly copier: RangeCopier,
    @Inject(CatchupService) private readonly catchup: CatchupService,
  ) {}

  configure(consumer: MiddlewareConsumer): void {
    consumer.apply(ApiLatencyMiddleware).forRoutes({ path: '{*path}', method: RequestMethod.ALL });
  }

  onApplicationBootstrap(): void {
    this.metrics.registerGauges(this.status);
  }

  /** Before the queue workers close (they wait for running jobs): copy loops stop between batches. */
  onModuleDestroy(): void {
    this.copier.stop();
    this.catchup.stop();
  }

  async onApplicationShutdown(): Promise<void> {
    await Promise.allSettled([this.backfillQueue.close(), this.catchupQueue.close()]);
    this.redis.disconnect();
  }
}
