import { Global, Inject, Logger, Module, OnApplicationShutdown } from '@nestjs/common';
import type Redis from 'ioredis';
import { Db, MongoClient } from 'mongodb';
import { DataSource } from 'typeorm';
import { APP_CONFIG } from '../app-config.module';
import type { AppConfig } from '../app-config';
import { redactUrl } from '../common/logger';
import { LEGACY_STORE, NEW_STORE } from './conversation-store.port';
import { connectLegacy, MongoLegacyStore } from './mongo/mongo-legacy.store';
import { createDataSource } from './postgres/data-source';
import { runMigrationsLocked } from './postgres/migration-runner';
import { PostgresConversationStore } from './postgres/postgres-conversation.store';
import { redisFailFast } from './redis';

export const DATA_SOURCE = Symbol('DATA_SOURCE');
export const MONGO_CLIENT = Symbol('MONGO_CLIENT');
export const LEGACY_DB = Symbol('LEGACY_DB');
export const REDIS = Symbol('REDIS');

const logger = new Logger('Stores');

/**
 * Connections to both stores and Redis, opened once per process. Start-up applies migrations when
 * configured and creates the legacy indexes; shutdown closes everything it opened.
 */
@Global()
@Module({
  providers: [
    {
      provide: DATA_SOURCE,
      inject: [APP_CONFIG],
      useFactory: async (config: AppConfig) => {
        const ds = createDataSource(config.database);
        await ds.initialize();
        if (config.database.runMigrationsOnStart) {
          // Under an advisory lock: replicas starting together (and the migration Job) never race.
          const applied = await runMigrationsLocked(ds, { waiting: () => logger.log({ msg: 'another process is applying migrations; waiting for it' }) });
          logger.log({ msg: 'migrations applied at start-up', count: applied.length, names: applied.map((m) => m.name) });
        }
        return ds;
      },
    },
    {
      provide: MONGO_CLIENT,
      inject: [APP_CONFIG],
      useFactory: async (config: AppConfig) => {
        logger.log({ msg: 'connecting to legacy store', url: redactUrl(config.legacy.url) });
        return connectLegacy(config.legacy.url, config.legacy.slowCommandMs);
      },
    },
    {
      provide: LEGACY_DB,
      inject: [MONGO_CLIENT, APP_CONFIG],
      useFactory: (client: MongoClient, config: AppConfig) => client.db(config.legacy.database),
    },
    {
      provide: LEGACY_STORE,
      inject: [LEGACY_DB, APP_CONFIG],
      useFactory: async (db: Db, config: AppConfig) => {
        const store = new MongoLegacyStore(db, config.legacy.collection);
        await store.ensureIndexes();
        return store;
      },
    },
    {
      provide: NEW_STORE,
      inject: [DATA_SOURCE],
      useFactory: (ds: DataSource) => new PostgresConversationStore(ds),
    },
    {
      provide: REDIS,
      inject: [APP_CONFIG],
      useFactory: (config: AppConfig) => redisFailFast(config.redis.url),
    },
  ],
  exports: [DATA_SOURCE, MONGO_CLIENT, LEGACY_DB, LEGACY_STORE, NEW_STORE, REDIS],
})
export class StoresModule implements OnApplicationShutdown {
  constructor(
    @Inject(DATA_SOURCE) private readonly dataSource: DataSource,
    @Inject(MONGO_CLIENT) private readonly mongo: MongoClient,
    @Inject(REDIS) private readonly redis: Redis,
  ) {}

  async onApplicationShutdown(): Promise<void> {
    // quit() waits for Redis to answer; a client that cannot reach it would hold the process open.
    await Promise.allSettled([this.dataSource.destroy(), this.mongo.close(), this.redis.quit().catch(() => this.redis.disconnect())]);
  }
}
