/**
 * Archive runs for the cleanup phase: the operator endpoints, the service the phase machine calls, and
 * the `cleanup` queue's processor, on top of the archiver of CleanupModule.
 */
import { Inject, Module, OnApplicationShutdown } from '@nestjs/common';
import type { RedisClient } from '../stores/redis';
import { DataSource } from 'typeorm';
import { MigrationStateRepository } from '../mode/migration-state.repository';
import { Connections } from '../stores/connections';
import { DATA_SOURCE } from '../stores/stores.module';
import { ArchiveRunRepository } from './archive-run.repository';
import { CleanupModule } from './cleanup.module';
import { CleanupController } from './cleanup.controller';
import { CleanupProcessor } from './cleanup.processor';
import { CleanupQueue } from './cleanup-queue';
import { CleanupService } from './cleanup.service';
import { LegacyArchiver } from './legacy-archiver';

const CLEANUP_QUEUE_REDIS = Symbol('CLEANUP_QUEUE_REDIS');

@Module({
  imports: [CleanupModule.forRoot()],
  controllers: [CleanupController],
  providers: [
    { provide: ArchiveRunRepository, inject: [DATA_SOURCE], useFactory: (ds: DataSource) => new ArchiveRunRepository(ds) },
    {
      provide: CLEANUP_QUEUE_REDIS,
      inject: [Connections],
      useFactory: (connections: Connections) =>
        connections.redisFailFast({ commandTimeout: undefined, enableOfflineQueue: true, maxRetriesPerRequest: 2 }),
    },
    {
      provide: CleanupQueue,
      inject: [CLEANUP_QUEUE_REDIS, Connections],
      useFactory: (r: RedisClient, c: Connections) => new CleanupQueue(r, c.keyPrefix),
    },
    {
      provide: CleanupService,
      inject: [LegacyArchiver, ArchiveRunRepository, CleanupQueue, MigrationStateRepository],
      useFactory: (...parts: [LegacyArchiver, ArchiveRunRepository, CleanupQueue, MigrationStateRepository]) =>
        new CleanupService(...parts),
    },
    CleanupProcessor,
  ],
  exports: [CleanupService, CleanupProcessor],
})
export class CleanupRunsModule implements OnApplicationShutdown {
  constructor(
    @Inject(CLEANUP_QUEUE_REDIS) private readonly redis: RedisClient,
    @Inject(CleanupQueue) private readonly queue: CleanupQueue,
  ) {}

  async onApplicationShutdown(): Promise<void> {
    await this.queue.close();
    this.redis.disconnect();
  }
}
