/**
 * Every queue the workers can serve. A worker process serves all of them, or the ones named in
 * WORKER_QUEUES; a name not in this list stops the process at boot with the valid ones.
 */

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

/**
 * The BullMQ prefix of one queue: the key prefix and the queue's name as one hash tag, so that every key of the
 * queue (which BullMQ's scripts use together) lies in one slot of a Redis Cluster, and the queues spread over
 * its nodes. On one Redis the braces are only characters.
 */
export function queuePrefix(keyPrefix: string, queue: QueueName): string {
  return `{${keyPrefix}:${queue}}`;
}

export function resolveQueues(requested: readonly string[]): QueueName[] {
  if (requested.length === 0) return [...ALL_QUEUES];
  const unknown = requested.filter((q) => !(ALL_QUEUES as readonly string[]).includes(q));
  if (unknown.length > 0) throw new UnknownQueueError(unknown);
  return [...new Set(requested)] as QueueName[];
}
