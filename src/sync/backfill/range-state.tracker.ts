/**
 * StateTracker of the backfill: who holds each range and how far it got, in `sync_ranges`.
 *
 * Invariants:
 * - a range is worked on only under a lease: `claim` succeeds only when the range is free or its lease
 *   has expired, and stamps a fresh token (`claimed_by`) unique to that claim;
 * - every batch's transaction begins by renewing the lease *for that token* (`holdLease`), which also
 *   takes the range row's lock; a worker whose token has been replaced finds no row, and its
 *   transaction (data and checkpoint together) rolls back. So no two workers ever commit batches of one
 *   range, whatever BullMQ redelivers, and a claim that waits on the row lock sees the renewed lease;
 *   a batch transaction that outlives its lease is ended by the next claim, so a frozen worker cannot hold a range;
 * - the checkpoint (last `_id` copied, or the offset for the non-ObjectId range) and the counters move
 *   in the same transaction as the batch they describe.
 * - between batches (a first read can take long: a server may sort the whole interval before it answers)
 *   a heartbeat renews the lease for the same token, so a slow read is not mistaken for a dead worker;
 *   it is stopped, and its last renewal awaited, before the range is finished or released.
 * Lease times are PostgreSQL's clock, so workers' clocks never matter.
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { DataSource, QueryRunner } from 'typeorm';
import { isLockTimeout } from '../../common/advisory-lock';
import type { BatchResult } from '../batch-writer';

/** This process, as `claimed_by` names it (before the `/claim` part). */
export const WORKER_ID = `${hostname()}:${process.pid}`;

/** A token unique to one claim (or one lane's claims) of this process. */
export const newClaimToken = (): string => `${WORKER_ID}/${randomUUID()}`;

export interface LeaseHeartbeat {
  /** Set once a renewal found the lease taken over. */
  readonly lost: boolean;
  /** Stops renewing; resolves when no renewal is in flight any more. */
  stop(): Promise<void>;
}

export type RangeKind = 'ids' | 'other_ids';

export interface ClaimedRange {
  runId: number;
  rangeNo: number;
  kind: RangeKind;
  startAfter: string | null;
  endAt: string | null;
  checkpoint: string | null;
  docsRead: number;
  batchSize: number;
}

export type Claim =
  | { outcome: 'claimed'; range: ClaimedRange }
  | { outcome: 'done' }
  /** Another worker holds a live lease; try again after `retryInMs`. */
  | { outcome: 'held'; retryInMs: number }
  /** The range or its run no longer exists, or the run is not running. */
  | { outcome: 'gone' };

export class LeaseLostError extends Error {
  readonly code = 'LEASE_LOST';
  constructor(runId: number, rangeNo: number) {
    super(`the lease of range ${rangeNo} of run ${runId} was taken over by another worker`);
  }
}

type Runner = Pick<QueryRunner, 'query'>;

/** What a claim returns of the range and its run (`docs_read` is a bigint: a string). */
interface ClaimedRow {
  kind: RangeKind;
  start_after: string | null;
  end_at: string | null;
  checkpoint: string | null;
  docs_read: string;
  batch_size: number;
}

/** Why a claim found nothing to take. */
interface RangeStatusRow {
  status: string;
  run_status: string;
  retry_in_ms: number | null;
}

export class RangeStateTracker {
  constructor(private readonly dataSource: DataSource) {}

  /**
   * Takes the range if it is free or its lease has lapsed. A batch transaction holds the range's row while it runs,
   * and the claim must wait for it; a batch that has outlived its lease (its holder frozen in it, or on a host gone
   * silent, whose PostgreSQL session lives on) is ended first (pg_terminate_backend: its batch rolls back, and its
   * holder finds the lease taken when it runs again). A claim waits at most `leaseMs` for a batch still within its
   * lease, and answers `held` after that: by the next attempt, that batch has outlived its lease too.
   */
  async claim(runId: number, rangeNo: number, token: string, leaseMs: number): Promise<Claim> {
    let rows: ClaimedRow[];
    try {
      rows = await this.dataSource.transaction(async (em) => {
        await em.query(`SET LOCAL lock_timeout = ${Math.max(1, Math.floor(leaseMs))}`);
        await em.query(
          `SELECT pg_terminate_backend(a.pid)
             FROM sync_ranges r JOIN pg_stat_activity a ON a.backend_xid = r.xmax
            WHERE r.run_id = $1 AND r.range_no = $2 AND a.pid <> pg_backend_pid() AND a.usename = current_user
              AND a.xact_start < clock_timestamp() - $3 * interval '1 millisecond'`,
          [runId, rangeNo, leaseMs],
        );
        // TypeORM answers an UPDATE with [rows, affected count], RETURNING or not.
        const [claimed]: [ClaimedRow[], number] = await em.query(
          `UPDATE sync_ranges r
              SET claimed_by = $3, lease_until = clock_timestamp() + $4 * interval '1 millisecond',
                  claims = claims + 1, status = 'running', updated_at = now()
             FROM sync_runs u
            WHERE r.run_id = $1 AND r.range_no = $2 AND u.id = r.run_id AND u.status = 'running'
              AND r.status <> 'done' AND (r.lease_until IS NULL OR r.lease_until < clock_timestamp())
            RETURNING r.kind, r.start_after, r.end_at, r.checkpoint, r.docs_read, u.batch_size`,
          [runId, rangeNo, token, leaseMs],
        );
        return claimed;
      });
    } catch (err) {
      if (isLockTimeout(err)) return { outcome: 'held', retryInMs: 0 };
      throw err;
    }
    if (rows.length === 1) {
      const r = rows[0];
      return {
        outcome: 'claimed',
        range: {
          runId,
          rangeNo,
          kind: r.kind,
          startAfter: r.start_after,
          endAt: r.end_at,
          checkpoint: r.checkpoint,
          docsRead: Number(r.docs_read),
          batchSize: r.batch_size,
        },
      };
    }
    const state: RangeStatusRow[] = await this.dataSource.query(
      `SELECT r.status, u.status AS run_status,
              greatest(0, ceil(extract(epoch FROM (r.lease_until - clock_timestamp())) * 1000))::int AS retry_in_ms
         FROM sync_ranges r JOIN sync_runs u ON u.id = r.run_id
        WHERE r.run_id = $1 AND r.range_no = $2`,
      [runId, rangeNo],
    );
    if (state.length === 0 || state[0].run_status !== 'running') return { outcome: 'gone' };
    if (state[0].status === 'done') return { outcome: 'done' };
    return { outcome: 'held', retryInMs: state[0].retry_in_ms ?? 0 };
  }

  /** First statement of a batch transaction: renews the lease for `token` or throws LeaseLostError. */
  async holdLease(q: Runner, runId: number, rangeNo: number, token: string, leaseMs: number): Promise<void> {
    const [rows]: [unknown[], number] = await q.query(
      `UPDATE sync_ranges SET lease_until = clock_timestamp() + $4 * interval '1 millisecond'
        WHERE run_id = $1 AND range_no = $2 AND claimed_by = $3 AND status = 'running'
        RETURNING range_no`,
      [runId, rangeNo, token, leaseMs],
    );
    if (rows.length !== 1) throw new LeaseLostError(runId, rangeNo);
  }

  /** Last statements of a batch transaction: the new position, the counters, and a progress sample. */
  async checkpoint(q: Runner, runId: number, rangeNo: number, token: string, position: string | null, result: BatchResult): Promise<void> {
    await q.query(
      `WITH sample AS (INSERT INTO sync_progress (run_id, docs) VALUES ($1, $5))
       UPDATE sync_ranges
          SET checkpoint = coalesce($4, checkpoint), docs_read = docs_read + $5, docs_written = docs_written + $6,
              docs_skipped = docs_skipped + $7, docs_dead = docs_dead + $8, batches = batches + 1, updated_at = now()
        WHERE run_id = $1 AND range_no = $2 AND claimed_by = $3`,
      [runId, rangeNo, token, position, result.read, result.written, result.skipped, result.dead],
    );
  }

  /** Renews the lease for `token` outside a batch; false when the lease is no longer this token's. */
  async renew(runId: number, rangeNo: number, token: string, leaseMs: number): Promise<boolean> {
    const [rows]: [unknown[], number] = await this.dataSource.query(
      `UPDATE sync_ranges SET lease_until = clock_timestamp() + $4 * interval '1 millisecond'
        WHERE run_id = $1 AND range_no = $2 AND claimed_by = $3 AND status = 'running'
        RETURNING range_no`,
      [runId, rangeNo, token, leaseMs],
    );
    return rows.length === 1;
  }

  /** Renews the lease every third of its length until stopped (see the header). */
  heartbeat(runId: number, rangeNo: number, token: string, leaseMs: number): LeaseHeartbeat {
    let lost = false;
    let inFlight: Promise<void> | null = null;
    const timer = setInterval(
      () => {
        if (inFlight) return;
        inFlight = this.renew(runId, rangeNo, token, leaseMs)
          .then((held) => {
            if (!held) lost = true;
          })
          .catch(() => undefined) // a failed renewal is retried at the next tick; the batch transaction renews too
          .finally(() => {
            inFlight = null;
          });
      },
      Math.max(50, Math.floor(leaseMs / 3)),
    );
    timer.unref();
    return {
      get lost() {
        return lost;
      },
      stop: async () => {
        clearInterval(timer);
        await inFlight;
      },
    };
  }

  /** The range is copied. Keeps `claimed_by` (who finished it) and clears the lease. */
  async finish(runId: number, rangeNo: number, token: string): Promise<boolean> {
    const [, count] = await this.dataSource.query(
      `UPDATE sync_ranges SET status = 'done', lease_until = NULL, finished_at = now(), updated_at = now()
        WHERE run_id = $1 AND range_no = $2 AND claimed_by = $3 AND status = 'running'`,
      [runId, rangeNo, token],
    );
    return count === 1;
  }

  /** Gives the range up (paused): it keeps its checkpoint, and any worker may claim it at once. */
  async release(runId: number, rangeNo: number, token: string): Promise<void> {
    await this.dataSource.query(
      `UPDATE sync_ranges SET lease_until = NULL, updated_at = now()
        WHERE run_id = $1 AND range_no = $2 AND claimed_by = $3 AND status = 'running'`,
      [runId, rangeNo, token],
    );
  }
}
