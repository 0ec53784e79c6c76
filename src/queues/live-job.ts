import type { Job, Queue } from 'bullmq';

/**
 * A job here is the reminder that state kept in PostgreSQL needs a worker. This makes sure the reminder
 * with `jobId` is live: a failed one is retried (its attempts reset), a missing or finished one is added
 * again with `add`; a waiting, delayed or running one is left alone. True when it (re)queued the job.
 */
export async function ensureLiveJob(queue: Queue, jobId: string, add: () => Promise<Job>): Promise<boolean> {
  const job = await queue.getJob(jobId);
  const state = job ? await job.getState() : 'missing';
  if (state === 'failed') {
    await job!.retry('failed', { resetAttemptsMade: true, resetAttemptsStarted: true });
    return true;
  }
  if (state !== 'completed' && state !== 'missing' && state !== 'unknown') return false;
  // BullMQ ignores an add whose id it still holds, so a finished job must go first.
  if (job) await job.remove().catch(() => undefined);
  await add();
  return true;
}
