import type { Job, WorkerOptions } from 'bullmq';
import type { QueueName } from './queue-names';

/** Each queue's job payload, tied to its name so a producer cannot send the wrong data. */
export interface JobPayloads {
  /** `outboxIds`: the repair_outbox rows the job settles (removed once the repair is done). */
  [QueueName.Repair]: { id: string; reason: string; source: 'legacy' | 'new'; outboxIds?: string[] };
  /** Copy one range of a backfill run; the range's state (checkpoint, lease) lives in PostgreSQL. */
  [QueueName.Backfill]: { runId: number; rangeNo: number } | { runId: number; split: true };
  /** One catch-up pass from the stored watermark. */
  [QueueName.Catchup]: { trigger: 'schedule' | 'manual' };
  /**
   * Run one verification run to the end (its state lives in PostgreSQL); with `helper`, walk free segments of its
   * scan beside the worker that runs it.
   */
  [QueueName.Verify]: { runId: number; helper?: number };
  /** Carry one traffic change of the intent log to done (or undo it); its state lives in PostgreSQL. */
  [QueueName.Traffic]: { changeId: number };
  /** Archive the legacy collection and check the archive against the store (cleanup); state in PostgreSQL. */
  [QueueName.Cleanup]: { archiveId: number };
  /**
   * Sampled reads to compare off the request path, taken within a short window by one API process (one job
   * for several samples: the queue's and the worker's cost is per job). A job of one sample alone (no
   * `samples`) is what replicas before batching queued; workers still take it.
   */
  [QueueName.Shadow]: { samples: ShadowSample[] } | ShadowSample;
}

/** One sampled read, as the shadow queue carries it. */
export interface ShadowSample {
  endpoint: 'get' | 'list';
  id?: string;
  userId?: string;
  limit?: number;
  cursor?: string;
  sampledAt: number;
  calibration: boolean;
  /** Rechecks done so far (0 or absent on the first look). */
  attempt?: number;
  /** Comparisons still undecided on a recheck; absent on the first look (all that apply). */
  pending?: Array<'stores' | 'http'>;
  /** The reply the client got and the store it was read from (body left out beyond SHADOW_MAX_REPLY_BYTES). */
  served?: { store: 'legacy' | 'new'; status: number; body?: unknown };
}

/** A processor is thin: it pulls what it needs out of the job and calls a service. */
export interface QueueProcessor<Q extends QueueName = QueueName> {
  readonly queue: Q;
  readonly concurrency: number;
  /** Lock and stalled-job settings for this queue's BullMQ worker, when the defaults do not fit. */
  readonly workerOptions?: Pick<WorkerOptions, 'lockDuration' | 'stalledInterval' | 'maxStalledCount'>;
  /** `token` is the job's lock token, which moving the job back to `delayed` needs. */
  process(job: Job<JobPayloads[Q]>, token?: string): Promise<unknown>;
}

/** Thrown for errors a retry cannot fix (bad payload, unreadable record): BullMQ fails the job at once. */
export { UnrecoverableError as PermanentJobError } from 'bullmq';
