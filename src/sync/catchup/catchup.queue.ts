/**
 * The producer side of the `catchup` queue: a job scheduler (BullMQ's repeatable jobs) that adds a pass
 * every `catchupIntervalMs`, and manual passes. The schedule lives in Redis, so it survives restarts;
 * it is (re)set whenever a backfill starts or resumes, which also applies a changed interval.
 */
import { randomUUID } from 'node:crypto';
import type { Job } from 'bullmq';
import type { RedisClient } from '../../stores/redis';
import { QueueName } from '../../queues/queue-names';
import type { JobPayloads } from '../../queues/queue-processor';
import { QueueProducer } from '../../queues/queue-producer';

export type CatchupPayload = JobPayloads[QueueName.Catchup];

const SCHEDULER_ID = 'catchup';
const KEEP = { removeOnComplete: { count: 200 }, removeOnFail: { count: 200 } };
/** Waiting jobs looked at for a manual pass to join (scheduled passes come at most one per interval). */
const MANUAL_LOOKUP = 20;
/**
 * The lock that makes a manual request's look-up and add one step across API processes. It is held for two Redis calls;
 * its expiry only matters if its holder dies holding it, and a request waits for it at most MANUAL_LOCK_WAIT_MS, then
 * adds without it (two passes, the second finding nothing new, rather than no answer).
 */
const MANUAL_LOCK_TTL_MS = 5_000;
const MANUAL_LOCK_WAIT_MS = 3_000;
/** Deletes the lock only if it is still this holder's (not one taken after it expired). */
const UNLOCK_LUA = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;

export class CatchupQueue extends QueueProducer<QueueName.Catchup> {
  /** `connection` is shared; the owner closes it. */
  constructor(connection: RedisClient, keyPrefix: string) {
    super(QueueName.Catchup, connection, {
      keyPrefix,
      ownsConnection: false,
      defaultJobOptions: { attempts: 1, ...KEEP },
    });
  }

  async schedule(everyMs: number): Promise<void> {
    if (everyMs <= 0) {
      await this.queue.removeJobScheduler(SCHEDULER_ID);
      return;
    }
    await this.queue.upsertJobScheduler(SCHEDULER_ID, { every: everyMs }, { name: 'pass', data: { trigger: 'schedule' }, opts: KEEP });
  }

  async scheduled(): Promise<boolean> {
    return (await this.queue.getJobScheduler(SCHEDULER_ID)) !== undefined;
  }

  /**
   * A manual pass. One asked for while another is still waiting (not started) is that one: a pass reads every change
   * made before it starts, this request's included, so a second would find nothing new, and requests in a loop
   * would queue passes without bound. A pass already running is not joined: it may have started before the caller's
   * change. Requests at the same moment, from one API process or several, look up and add one at a time under a
   * Redis lock, so they too get one pass.
   */
  async runNow(): Promise<Job<CatchupPayload>> {
    const unlock = await this.manualLock();
    try {
      const waiting = await this.queue.getJobs(['waiting', 'prioritized'], 0, MANUAL_LOOKUP - 1);
      const queued = waiting.find((job) => job?.name === 'pass' && job.data.trigger === 'manual');
      return queued ?? (await this.queue.add('pass', { trigger: 'manual' }));
    } finally {
      await unlock();
    }
  }

  /** Takes the manual-request lock, waiting for it at most MANUAL_LOCK_WAIT_MS; what gives it back. */
  private async manualLock(): Promise<() => Promise<void>> {
    const key = `${this.prefix}:manual:lock`;
    const token = randomUUID();
    for (const deadline = Date.now() + MANUAL_LOCK_WAIT_MS; ;) {
      if ((await this.connection.set(key, token, 'PX', MANUAL_LOCK_TTL_MS, 'NX')) === 'OK') break;
      if (Date.now() >= deadline) return async () => undefined;
      await new Promise((resolve) => setTimeout(resolve, 10 + Math.random() * 20));
    }
    return async () => {
      await this.connection.eval(UNLOCK_LUA, 1, key, token).catch(() => undefined);
    };
  }

  /** Polls the job until it finishes or `timeoutMs` passes; its result, or undefined when still running. */
  async waitFor(job: Job<CatchupPayload>, timeoutMs: number): Promise<{ state: string; result?: unknown; failedReason?: string }> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      // The state first, then the job: a job read before its state was looked at may be one that
      // completed in between, read without its result (BullMQ writes both in one step).
      const state = await this.queue.getJobState(job.id!);
      if (state === 'completed' || state === 'failed') {
        const done = await this.queue.getJob(job.id!);
        if (state === 'completed') return { state, result: done?.returnvalue };
        return { state, failedReason: done?.failedReason };
      }
      if (Date.now() > deadline) return { state };
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}
