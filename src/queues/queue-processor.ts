import type { Job } from 'bullmq';
import type { QueueName } from './queue-names';

/** Each queue's job payload, tied to its name so a producer cannot send the wrong data. */
export interface JobPayloads {
  [QueueName.Repair]: { id: string; reason: string; source: 'legacy' | 'new' };
  /** Copy one range of a backfill run; the range's state (checkpoint, lease) lives in PostgreSQL. */
  [QueueName.Backfill]: { runId: number; rangeNo: number };
  /** One catch-up pass from the stored watermark. */
  [QueueName.Catchup]: { trigger: 'schedule' | 'manual' };
  /** Run one verification run to the end (its state lives in PostgreSQL). */
  [QueueName.Verify]: { runId: number };
  /** One sampled read to compare off the request path. */
  [QueueName.Shadow]: { endpoint: string; id?: string; userId?: string; sampledAt: number; calibration: boolean; attempt?: number };
}

/** A processor is thin: it pulls what it needs out of the job and calls a service. */
export interface QueueProcessor<Q extends QueueName = QueueName> {
  readonly queue: Q;
  readonly concurrency: number;
  process(job: Job<JobPayloads[Q]>): Promise<unknown>;
}

/** Thrown for errors a retry cannot fix (bad payload, unreadable record): BullMQ fails the job at once. */
export { UnrecoverableError as PermanentJobError } from 'bullmq';
