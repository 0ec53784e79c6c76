import Redis, { RedisOptions } from 'ioredis';

/**
 * Connections for BullMQ need `maxRetriesPerRequest: null` (its blocking commands must wait out
 * reconnects); connections used on a request path must fail fast instead, so a Redis outage turns
 * into a fallback, not a hung request.
 */
export function redisForQueues(url: string, extra: RedisOptions = {}): Redis {
  return new Redis(url, { maxRetriesPerRequest: null, enableReadyCheck: true, ...extra });
}

export function redisFailFast(url: string, extra: RedisOptions = {}): Redis {
  return new Redis(url, {
    maxRetriesPerRequest: 1,
    enableOfflineQueue: false,
    connectTimeout: 2000,
    commandTimeout: 1000,
    retryStrategy: (attempt) => Math.min(attempt * 200, 2000),
    ...extra,
  });
}
