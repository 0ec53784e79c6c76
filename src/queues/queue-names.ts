/**
 * Every queue the workers can serve. A worker process serves all of them, or the ones named in
 * WORKER_QUEUES; a name not in this list stops the process at boot with the valid ones.
 */
/** Every BullMQ key of the service starts with this (queues, the recovery marker, the throttle's bucket). */
export const QUEUE_PREFIX = 'lms';

export enum QueueName {
  Repair = 'repair',
  Backfill = 'backfill',
  Catchup = 'catchup',
  Verify = 'verify',
  Shadow = 'shadow',
  Traffic = 'traffic',
  Cleanup = 'cleanup',
}

export const ALL_QUEUES: readonly QueueName[] = Object.values(QueueName);

export class UnknownQueueError extends Error {
  readonly code = 'UNKNOWN_QUEUE';
  constructor(unknown: string[]) {
    super(`Unknown queue name(s) in WORKER_QUEUES: ${unknown.join(', ')}. Valid queues: ${ALL_QUEUES.join(', ')}`);
  }
}

export function resolveQueues(requested: readonly string[]): QueueName[] {
  if (requested.length === 0) return [...ALL_QUEUES];
  const unknown = requested.filter((q) => !(ALL_QUEUES as readonly string[]).includes(q));
  if (unknown.length > 0) throw new UnknownQueueError(unknown);
  return [...new Set(requested)] as QueueName[];
}
