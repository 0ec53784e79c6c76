/**
 * Every Redis client of a process is made here, and watched by one outage log.
 *
 * One Redis (REDIS_URL) or a Redis Cluster (REDIS_CLUSTER_NODES): with a cluster every client is an ioredis
 * Cluster, which follows the slots to the node that holds each key. Keys that BullMQ's scripts use together
 * must share a slot, so every queue's keys carry one hash tag (queuePrefix in queues/queue-names.ts); the
 * service's other keys are used one at a time.
 *
 * Connections for BullMQ need `maxRetriesPerRequest: null` (its blocking commands must wait out
 * reconnects); connections used on a request path must fail fast instead, so a Redis outage turns
 * into a fallback, not a hung request.
 *
 * An outage is one warning when the first client loses Redis and one line when the last one has it back,
 * whatever the number of clients and reconnect attempts in between: ioredis emits an error for every failed
 * attempt (an unhandled one is printed with its stack), and a process has a dozen clients.
 */
import { Logger } from '@nestjs/common';
import Redis, { Cluster, ClusterOptions, RedisOptions } from 'ioredis';
import type { RedisConfig } from './stores.config';

/** A client of one Redis or of a Redis Cluster: both speak the same commands. */
export type RedisClient = Redis | Cluster;

class RedisOutageLog {
  private readonly logger = new Logger('Redis');
  private readonly failing = new Set<string>();
  private since = 0;
  private seq = 0;

  get down(): boolean {
    return this.failing.size > 0;
  }

  /** Listens to `client`'s errors and recoveries under a name unique in this process. */
  watch<C extends RedisClient>(name: string, client: C): C {
    const id = `${name}#${++this.seq}`;
    client.on('error', (err: Error) => this.failed(id, err));
    client.on('ready', () => this.recovered(id));
    // A client closed on purpose (shutdown, a board nobody looks at) no longer counts either way.
    client.on('end', () => this.failing.delete(id));
    return client;
  }

  /**
   * An error from something built on these clients (a BullMQ worker): a lost connection is the watched
   * clients' outage line already; anything else goes to `log`.
   */
  report(err: Error, log: (err: Error) => void): void {
    if (!this.down && !isConnectionError(err)) log(err);
  }

  private failed(id: string, err: Error): void {
    if (this.failing.has(id)) return;
    if (this.failing.size === 0) {
      this.since = Date.now();
      this.logger.warn({ msg: 'Redis unreachable; every client retries (one line again when it is back)', client: id, error: err.message });
    }
    this.failing.add(id);
  }

  private recovered(id: string): void {
    if (!this.failing.delete(id) || this.failing.size > 0) return;
    this.logger.log({ msg: 'Redis reachable again', downForMs: Date.now() - this.since });
  }
}

function isConnectionError(err: Error): boolean {
  const code = (err as { code?: unknown }).code;
  return (
    (typeof code === 'string' && /^(ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|EHOSTUNREACH|ENOTFOUND|EAI_AGAIN)$/.test(code)) ||
    /Connection is closed|connect ETIMEDOUT|ECONNREFUSED|ClusterAllFailedError|Failed to refresh slots cache|None of startup nodes is available/.test(
      err.message,
    )
  );
}

export const redisOutages = new RedisOutageLog();

/**
 * A client with `options`: one Redis at `config.url`, or a Cluster whose node connections get `options`
 * (what ioredis keeps for the cluster as a whole, the offline queue and the retry strategy, goes there).
 */
function connect(config: RedisConfig, options: RedisOptions): RedisClient {
  if (!config.cluster) return new Redis(config.url, options);
  const { enableOfflineQueue, retryStrategy, enableReadyCheck, ...nodeOptions } = options;
  const { nodes, username, password, tls } = config.cluster;
  const clusterOptions: ClusterOptions = {
    enableReadyCheck: enableReadyCheck ?? true,
    ...(enableOfflineQueue === undefined ? {} : { enableOfflineQueue }),
    ...(retryStrategy ? { clusterRetryStrategy: (times: number) => retryStrategy(times) ?? null } : {}),
    redisOptions: { ...nodeOptions, ...(username ? { username } : {}), ...(password ? { password } : {}), ...(tls ? { tls: {} } : {}) },
  };
  return new Cluster(nodes, clusterOptions);
}

export function redisForQueues(config: RedisConfig, extra: RedisOptions = {}, name = 'queues'): RedisClient {
  return redisOutages.watch(name, connect(config, { maxRetriesPerRequest: null, enableReadyCheck: true, ...extra }));
}

export function redisFailFast(config: RedisConfig, extra: RedisOptions = {}, name = 'requests'): RedisClient {
  return redisOutages.watch(
    name,
    connect(config, {
      maxRetriesPerRequest: 1,
      enableOfflineQueue: false,
      connectTimeout: 2000,
      commandTimeout: 1000,
      retryStrategy: (attempt) => Math.min(attempt * 200, 2000),
      ...extra,
    }),
  );
}

/** Every master's client (one Redis: itself), for what must reach every node (a flush in a test, INFO). */
export function everyMaster(client: RedisClient): Array<Redis> {
  return client instanceof Cluster ? client.nodes('master') : [client];
}
