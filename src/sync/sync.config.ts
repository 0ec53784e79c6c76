/**
 * The sync engine's settings (backfill, catch-up, throttling). Production defaults; tests shorten the
 * lease and stall intervals so a killed worker's range is picked up in seconds.
 */
import type { EnvReader } from '../config/env-reader';

export const SYNC_CONFIG = Symbol('SYNC_CONFIG');

export interface SyncConfig {
  /** Documents per read and per bulk write, at most ... */
  batchSize: number;
  /**
   * ... and at most about this many bytes of legacy BSON: what bounds a worker's memory whatever the documents'
   * size (a batch is read while the one before is written, each held decoded, then as COPY text). 2 MiB by default:
   * a worker's peak RSS over 1M documents was 252 MB with it and 292.6 MB with 4 MiB, at the same rate (bench runs
   * 38 and 37).
   */
  batchBytes: number;
  /** Documents per backfill range (one BullMQ job each); ranges are what workers share. */
  rangeSize: number;
  /**
   * Lanes (one legacy cursor each) one worker process runs at once; lanes share the ranges. More than
   * one pays where the legacy store serves `_id` range scans from its index (MongoDB); on a store where
   * every cursor decodes and sorts the whole collection (FerretDB on SQLite) each extra lane costs a full
   * pass, so the default is one per process and scaling out is by processes.
   */
  backfillConcurrency: number;
  /**
   * At least this many lanes per run (0: one per job slot serving the queue when the run is split). With an
   * autoscaler adding workers on queue depth, set it to the autoscaler's maximum: the lanes no worker serves yet
   * wait in the queue, which is what makes it scale out, and the workers it adds find them there.
   */
  backfillLanes: number;
  /** A range's lease in PostgreSQL: renewed by every batch; an expired lease lets another worker resume it. */
  leaseMs: number;
  /** BullMQ job lock of sync jobs; a dead worker's job is noticed after this (plus a stalled check). */
  jobLockMs: number;
  stalledIntervalMs: number;
  /** How often a job may be recovered from a dead worker before BullMQ fails it (POST backfill re-enqueues). */
  maxStalledCount: number;
  /** How often a paused worker's job comes back to look at the pause flag. */
  pausePollMs: number;
  /** Documents per second over all workers; 0 means no ceiling. An operator can override it at run time. */
  maxDocsPerSecond: number;
  /** Back off when a store's (or the API's) latency exceeds its baseline by this factor ... */
  latencyBackoffFactor: number;
  /** ... and by at least this many milliseconds (small latencies are noise). */
  latencyBackoffMinDeltaMs: number;
  /** Longest pause between batches the latency back-off imposes. */
  maxBackoffMs: number;
  /** Catch-up schedule; 0 leaves it unscheduled (manual passes only). */
  catchupIntervalMs: number;
  /** Each catch-up pass re-reads this far behind its watermark (late commits, clock skew). */
  catchupOverlapMs: number;
  /** Batches one catch-up pass copies at most; the next pass continues from the watermark. */
  catchupMaxBatches: number;
  /** How long `POST /migration/sync/catchup?wait=true` waits for its pass before answering 202 with the pass's state. */
  catchupWaitMs: number;
}

export function readSyncConfig(r: EnvReader): SyncConfig {
  return {
    batchSize: r.int('SYNC_BATCH_SIZE', 1000, 1, 10_000),
    batchBytes: r.int('SYNC_BATCH_BYTES', 2 * 1024 * 1024, 64 * 1024, 256 * 1024 * 1024),
    rangeSize: r.int('SYNC_RANGE_SIZE', 20_000, 1, 100_000_000),
    backfillConcurrency: r.int('SYNC_BACKFILL_CONCURRENCY', 1, 1, 64),
    backfillLanes: r.int('SYNC_BACKFILL_LANES', 0, 0, 1024),
    leaseMs: r.int('SYNC_LEASE_MS', 30_000, 100, 3_600_000),
    jobLockMs: r.int('SYNC_JOB_LOCK_MS', 30_000, 100, 3_600_000),
    stalledIntervalMs: r.int('SYNC_STALLED_INTERVAL_MS', 30_000, 100, 3_600_000),
    maxStalledCount: r.int('SYNC_MAX_STALLED', 20, 1, 100_000),
    pausePollMs: r.int('SYNC_PAUSE_POLL_MS', 5_000, 50, 3_600_000),
    maxDocsPerSecond: r.int('SYNC_MAX_DOCS_PER_SECOND', 0, 0, 100_000_000),
    latencyBackoffFactor: r.number('SYNC_LATENCY_BACKOFF_FACTOR', 3, 1.1, 1000),
    latencyBackoffMinDeltaMs: r.int('SYNC_LATENCY_BACKOFF_MIN_DELTA_MS', 50, 0, 60_000),
    maxBackoffMs: r.int('SYNC_MAX_BACKOFF_MS', 5_000, 0, 600_000),
    catchupIntervalMs: r.int('CATCHUP_INTERVAL_MS', 5_000, 0, 86_400_000),
    catchupOverlapMs: r.int('CATCHUP_OVERLAP_MS', 5_000, 0, 86_400_000),
    catchupMaxBatches: r.int('CATCHUP_MAX_BATCHES', 100, 1, 1_000_000),
    catchupWaitMs: r.int('CATCHUP_WAIT_MS', 30_000, 0, 600_000),
  };
}
