/**
 * The producer side of the shadow queue, bounded. A sample is admitted only through one Lua script that
 * counts what BullMQ holds for the queue (waiting, prioritized, delayed, running) plus admissions still
 * being added, and reserves a place if that is under the bound; the reservation is released once the job
 * is added (or the add failed), and a reservation left by a process that died expires after a few seconds.
 * So the bound holds across every replica without a counter that could drift. A recheck does not take a
 * new place: the processor moves the same job to the delayed set.
 *
 * Nothing here may slow a request: the connection fails fast (no offline queue), a queue found full is
 * remembered for a moment so a burst is dropped locally, and the number of admissions in flight from this
 * process is capped. Every refusal is returned as a drop reason for the caller to count.
 */
import { randomUUID } from 'node:crypto';
import type { RedisClient } from '../stores/redis';
import { withTimeout } from '../common/timeout';
import { QueueName } from '../queues/queue-names';
import type { JobPayloads } from '../queues/queue-processor';
import { QueueProducer } from '../queues/queue-producer';

export type ShadowPayload = JobPayloads[QueueName.Shadow];
export type DropReason = 'full' | 'unavailable' | 'busy';

const ADD_TIMEOUT_MS = 500;
/** A reservation older than this belongs to a process that died between reserving and adding. */
const RESERVATION_TTL_MS = 10_000;
/** After the queue was seen full, samples are dropped without asking Redis for this long. */
const FULL_BACKOFF_MS = 50;
/** Admissions in flight from one process; beyond this Redis is slower than the sampled traffic. */
const MAX_IN_FLIGHT = 64;

const RESERVE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[6], '-inf', now - tonumber(ARGV[3]))
local depth = redis.call('LLEN', KEYS[1]) + redis.call('LLEN', KEYS[2]) + redis.call('LLEN', KEYS[3])
  + redis.call('ZCARD', KEYS[4]) + redis.call('ZCARD', KEYS[5]) + redis.call('ZCARD', KEYS[6])
if depth >= tonumber(ARGV[1]) then return {0, depth} end
redis.call('ZADD', KEYS[6], now, ARGV[2])
return {1, depth + 1}`;

type ReservingRedis = RedisClient & { shadowReserve(...args: Array<string | number>): Promise<[number, number]> };

export class ShadowQueue extends QueueProducer<QueueName.Shadow> {
  private readonly reservations: string;
  private fullUntil = 0;
  private inFlight = 0;
  /** Depth seen by the last admission (including it), for the gauge. */
  lastDepth = 0;

  /** The queue owns `connection` and closes it with itself. */
  constructor(
    connection: RedisClient,
    keyPrefix: string,
    readonly max: number,
  ) {
    super(QueueName.Shadow, connection, {
      keyPrefix,
      ownsConnection: true,
      defaultJobOptions: { attempts: 1, removeOnComplete: true, removeOnFail: { count: 1000 } },
    });
    this.reservations = `${this.prefix}:${QueueName.Shadow}:reservations`;
    connection.defineCommand('shadowReserve', { numberOfKeys: 6, lua: RESERVE });
  }

  /** Adds the sample if the queue has room; otherwise says why it was dropped. Never waits long. */
  async offer(payload: ShadowPayload): Promise<'enqueued' | DropReason> {
    if (this.connection.status !== 'ready') return 'unavailable';
    if (Date.now() < this.fullUntil) return 'full';
    if (this.inFlight >= MAX_IN_FLIGHT) return 'busy';
    this.inFlight++;
    const token = randomUUID();
    try {
      const k = this.queue.keys;
      const reserve = (this.connection as ReservingRedis).shadowReserve(
        k.wait,
        k.paused,
        k.active,
        k.prioritized,
        k.delayed,
        this.reservations,
        this.max,
        token,
        RESERVATION_TTL_MS,
      );
      const [admitted, depth] = await withTimeout(
        reserve,
        ADD_TIMEOUT_MS,
        `shadow queue reservation did not answer within ${ADD_TIMEOUT_MS} ms`,
      );
      this.lastDepth = depth;
      if (admitted !== 1) {
        this.fullUntil = Date.now() + FULL_BACKOFF_MS;
        return 'full';
      }
      try {
        await withTimeout(
          this.queue.add(payload.endpoint, payload),
          ADD_TIMEOUT_MS,
          `shadow queue add did not answer within ${ADD_TIMEOUT_MS} ms`,
        );
        return 'enqueued';
      } finally {
        this.connection.zrem(this.reservations, token).catch(() => undefined);
      }
    } catch {
      return 'unavailable';
    } finally {
      this.inFlight--;
    }
  }

  /** Jobs the bound counts right now (waiting, prioritized, delayed, running). */
  async depth(): Promise<number> {
    // BullMQ would wait for a connection that is down; a status page must answer.
    if (this.connection.status !== 'ready') throw new Error(`shadow queue unavailable (Redis connection ${this.connection.status})`);
    const c = await withTimeout(
      this.queue.getJobCounts('waiting', 'prioritized', 'delayed', 'active'),
      ADD_TIMEOUT_MS,
      `shadow queue counts did not answer within ${ADD_TIMEOUT_MS} ms`,
    );
    return c.waiting + c.prioritized + c.delayed + c.active;
  }
}
