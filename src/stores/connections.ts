/**
 * The connections a wing opens for itself (its own Redis clients, a small PostgreSQL pool), to the servers
 * the stores' sections name: a wing asks for a connection, never for another wing's configuration.
 */
import type { RedisOptions } from 'ioredis';
import { Pool, PoolConfig } from 'pg';
import { RedisClient, redisFailFast, redisForQueues } from './redis';
import { ListenedClient } from './postgres/pg-client';
import type { DatabaseConfig, RedisConfig } from './stores.config';

export class Connections {
  constructor(
    private readonly redis: RedisConfig,
    private readonly database: DatabaseConfig,
  ) {}

  /** A Redis client that fails fast (see redis.ts); `extra` loosens it for producers that may wait. */
  redisFailFast(extra: RedisOptions = {}, name?: string): RedisClient {
    return redisFailFast(this.redis, extra, name);
  }

  /** A Redis client for BullMQ workers (blocking commands wait out reconnects). */
  redisForQueues(extra: RedisOptions = {}, name?: string): RedisClient {
    return redisForQueues(this.redis, extra, name);
  }

  /** What every Redis key of the service starts with (REDIS_KEY_PREFIX); queues add their hash tag (queuePrefix). */
  get keyPrefix(): string {
    return this.redis.keyPrefix;
  }

  /** A pool of the wing's own on the new store's database (outside TypeORM's pool). */
  postgresPool(options: Omit<PoolConfig, 'connectionString'>): Pool {
    return new Pool({ connectionString: this.database.url, ...options, Client: ListenedClient });
  }
}
