import { Global, Inject, Logger, Module, OnApplicationShutdown } from '@nestjs/common';
import { Db, MongoClient } from 'mongodb';
import { DataSource } from 'typeorm';
import { redactUrl } from '../common/logging/redact';
import { LEGACY_STORE, NEW_STORE } from './conversation-store.port';
import { closeLegacy, connectLegacy, MongoLegacyStore } from './mongo/mongo-legacy.store';
import { createDataSource } from './postgres/data-source';
import { durabilityRisks, readDurabilitySettings } from './postgres/durability';
import { runMigrationsLocked } from './postgres/migration-runner';
import { PostgresConversationStore } from './postgres/postgres-conversation.store';
import { Connections } from './connections';
import { RedisClient, redisFailFast } from './redis';
import { DATABASE_CONFIG, DatabaseConfig, LEGACY_CONFIG, LegacyConfig, REDIS_CONFIG, RedisConfig } from './stores.config';

export const DATA_SOURCE = Symbol('DATA_SOURCE');
export const MONGO_CLIENT = Symbol('MONGO_CLIENT');
export const LEGACY_DB = Symbol('LEGACY_DB');
export const REDIS = Symbol('REDIS');
/** The legacy collection (LEGACY_COLLECTION of the legacy section) on LEGACY_DB. */
export const LEGACY_COLLECTION = Symbol('LEGACY_COLLECTION');

const logger = new Logger('Stores');

/** Logs what PostgreSQL's settings let a crash take back (postgres/durability.ts); the check itself never stops a start. */
async function warnOfDurabilityRisks(ds: DataSource): Promise<void> {
  try {
    for (const risk of durabilityRisks(await readDurabilitySettings(ds))) logger.warn({ msg: `PostgreSQL: ${risk}` });
  } catch (err) {
    logger.warn({ msg: "PostgreSQL's durability settings could not be read", error: (err as Error).message });
  }
}

/**
 * Connections to both stores and Redis, opened once per process. Start-up applies migrations when
 * configured and creates the legacy indexes; shutdown closes everything it opened.
 */
@Global()
@Module({
  providers: [
    {
      provide: DATA_SOURCE,
      inject: [DATABASE_CONFIG],
      useFactory: async (database: DatabaseConfig) => {
        const ds = createDataSource(database);
        await ds.initialize();
        await warnOfDurabilityRisks(ds);
        if (database.runMigrationsOnStart) {
          // Under an advisory lock: replicas starting together (and the migration Job) never race.
          const applied = await runMigrationsLocked(ds, {
            waiting: () => logger.log({ msg: 'another process is applying migrations; waiting for it' }),
          });
          logger.log({ msg: 'migrations applied at start-up', count: applied.length, names: applied.map((m) => m.name) });
        }
        return ds;
      },
    },
    {
      provide: MONGO_CLIENT,
      inject: [LEGACY_CONFIG],
      useFactory: async (legacy: LegacyConfig) => {
        logger.log({ msg: 'connecting to legacy store', url: redactUrl(legacy.url) });
        return connectLegacy(legacy.url, legacy.slowCommandMs);
      },
    },
    {
      provide: LEGACY_DB,
      inject: [MONGO_CLIENT, LEGACY_CONFIG],
      useFactory: (client: MongoClient, legacy: LegacyConfig) => client.db(legacy.database),
    },
    {
      provide: LEGACY_COLLECTION,
      inject: [LEGACY_DB, LEGACY_CONFIG],
      useFactory: (db: Db, legacy: LegacyConfig) => db.collection(legacy.collection),
    },
    {
      provide: LEGACY_STORE,
      inject: [LEGACY_DB, LEGACY_CONFIG],
      useFactory: async (db: Db, legacy: LegacyConfig) => {
        const store = new MongoLegacyStore(db, legacy.collection);
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
      inject: [REDIS_CONFIG],
      useFactory: (redis: RedisConfig) => redisFailFast(redis),
    },
    {
      provide: Connections,
      inject: [REDIS_CONFIG, DATABASE_CONFIG],
      useFactory: (redis: RedisConfig, database: DatabaseConfig) => new Connections(redis, database),
    },
  ],
  exports: [DATA_SOURCE, MONGO_CLIENT, LEGACY_DB, LEGACY_COLLECTION, LEGACY_STORE, NEW_STORE, REDIS, Connections],
})
export class StoresModule implements OnApplicationShutdown {
  constructor(
    @Inject(DATA_SOURCE) private readonly dataSource: DataSource,
    @Inject(MONGO_CLIENT) private readonly mongo: MongoClient,
    @Inject(REDIS) private readonly redis: RedisClient,
  ) {}

  async onApplicationShutdown(): Promise<void> {
    // quit() waits for Redis to answer; a client that cannot reach it would hold the process open.
    await Promise.allSettled([this.dataSource.destroy(), closeLegacy(this.mongo), this.redis.quit().catch(() => this.redis.disconnect())]);
  }
}
