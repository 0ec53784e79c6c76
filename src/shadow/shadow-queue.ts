/**
 * The producer side of the shadow queue, bounded in samples. A job carries the samples one API process took
 * within a short window (ShadowSampler). Samples are admitted only through one Lua script that counts what
 * BullMQ holds for the queue (waiting, prioritized, delayed, running: each job as the samples it carries,
 * which its id says, `s<count>-<uuid>`) plus admissions still being added, and reserves places for as many of
 * the offered samples as there is room for; the reservation is released once the job is added (or the add
 * failed), and a reservation left by a process that died expires after a few seconds. So the bound holds
 * across every replica without a counter that could drift. A recheck does not take a new place: the
 * processor moves the same job, with the samples still undecided, to the delayed set.
 *
 * Nothing here may slow a request: the connection fails fast (no offline queue), a queue found full is
 * remembered for a moment so a burst is dropped locally, and the number of admissions in flight from this
 * process is capped. Every refusal is returned as a drop reason for the caller to count.
 */
import { randomUUID } from 'node:crypto';
import type { RedisClient } from '../stores/redis';
import { withTimeout } from '../common/timeout';
import { QueueName } from '../queues/queue-names';
import type { ShadowSample } from '../queues/queue-processor';
import { QueueProducer } from '../queues/queue-producer';

export type ShadowPayload = ShadowSample;
export type DropReason = 'full' | 'unavailable' | 'busy';

const ADD_TIMEOUT_MS = 500;
/** A reservation older than this belongs to a process that died between reserving and adding. */
const RESERVATION_TTL_MS = 10_000;
/** After the queue was seen full, samples are dropped without asking Redis for this long. */
const FULL_BACKOFF_MS = 50;
/** Admissions in flight from one process; beyond this Redis is slower than the sampled traffic. */
const MAX_IN_FLIGHT = 64;

/**
 * KEYS: wait, paused, active, prioritized, delayed, reservations. ARGV: bound, reservation token, its TTL,
 * samples offered. Returns {places reserved, samples held or reserved after it}; with 0 samples offered,
 * {0, samples held in jobs} (a job just added still has its reservation for a moment: counted twice by an
 * admission, which errs on the safe side, but not by a count). A job id or a reservation that does not say
 * its count (a job queued before batching) counts as one sample.
 */
const RESERVE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[6], '-inf', now - tonumber(ARGV[3]))
local depth = 0
local function add(ids)
  for _, id in ipairs(ids) do depth = depth + (tonumber(string.match(id, '^s(%d+)%-')) or 1) end
end
for i = 1, 3 do add(redis.call('LRANGE', KEYS[i], 0, -1)) end
for i = 4, 5 do add(redis.call('ZRANGE', KEYS[i], 0, -1)) end
local n = tonumber(ARGV[4])
if n <= 0 then return {0, depth} end
add(redis.call('ZRANGE', KEYS[6], 0, -1))
local room = tonumber(ARGV[1]) - depth
if room <= 0 then return {0, depth} end
if n > room then n = room end
redis.call('ZADD', KEYS[6], now, 's' .. n .. '-' .. ARGV[2])
return {n, depth + n}`;

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

  /** Adds one sample if the queue has room; otherwise says why it was dropped. Never waits long. */
  async offer(sample: ShadowPayload): Promise<'enqueued' | DropReason> {
    const { enqueued, reason } = await this.offerBatch([sample]);
    return enqueued === 1 ? 'enqueued' : (reason ?? 'unavailable');
  }

  /**
   * Adds the first samples of `samples` the queue has room for, as one job; says how many, and why the
   * rest were dropped. Never waits long.
   */
  async offerBatch(samples: readonly ShadowPayload[]): Promise<{ enqueued: number; reason?: DropReason }> {
    if (samples.length === 0) return { enqueued: 0 };
    if (this.connection.status !== 'ready') return { enqueued: 0, reason: 'unavailable' };
    if (Date.now() < this.fullUntil) return { enqueued: 0, reason: 'full' };
    if (this.inFlight >= MAX_IN_FLIGHT) return { enqueued: 0, reason: 'busy' };
    this.inFlight++;
    const token = randomUUID();
    try {
      const [admitted, depth] = await withTimeout(
        this.reserve(token, samples.length),
        ADD_TIMEOUT_MS,
        `shadow queue reservation did not answer within ${ADD_TIMEOUT_MS} ms`,
      );
      this.lastDepth = depth;
      if (admitted < samples.length) this.fullUntil = Date.now() + FULL_BACKOFF_MS;
      if (admitted === 0) return { enqueued: 0, reason: 'full' };
      const batch = samples.slice(0, admitted);
      try {
        await withTimeout(
          this.queue.add(batch.length === 1 ? batch[0].endpoint : 'samples', { samples: batch }, { jobId: `s${admitted}-${token}` }),
          ADD_TIMEOUT_MS,
          `shadow queue add did not answer within ${ADD_TIMEOUT_MS} ms`,
        );
        return admitted === samples.length ? { enqueued: admitted } : { enqueued: admitted, reason: 'full' };
      } finally {
        this.connection.zrem(this.reservations, `s${admitted}-${token}`).catch(() => undefined);
      }
    } catch {
      return { enqueued: 0, reason: 'unavailable' };
    } finally {
      this.inFlight--;
    }
  }

  /** Samples in the queue's jobs right now (waiting, prioritized, delayed, running). */
  async depth(): Promise<number> {
    // A status page must answer, not wait for a connection that is down.
    if (this.connection.status !== 'ready') throw new Error(`shadow queue unavailable (Redis connection ${this.connection.status})`);
    const [, depth] = await withTimeout(
      this.reserve(randomUUID(), 0),
      ADD_TIMEOUT_MS,
      `shadow queue counts did not answer within ${ADD_TIMEOUT_MS} ms`,
    );
    return depth;
  }

  private reserve(token: string, samples: number): Promise<[number, number]> {
    const k = this.queue.keys;
    return (this.connection as ReservingRedis).shadowReserve(
      k.wait,
      k.paused,
      k.active,
      k.prioritized,
      k.delayed,
      this.reservations,
      this.max,
      token,
      RESERVATION_TTL_MS,
      samples,
    );
  }
}
