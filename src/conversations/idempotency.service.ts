/**
 * Idempotency-Key for POST endpoints, kept 24 h in PostgreSQL (`idempotency_keys`), so a key holds across
 * replicas and across the loss of Redis's data.
 *
 * - The first request with a key claims it (a `pending` row with a fingerprint of who sent what, a random
 *   claim token and a short lease). A repeat with the same fingerprint gets the stored response without
 *   writing again, one with another body is 422, one that arrives while the claim's lease runs is 409.
 * - The write and the key's completion commit together: the response is stored by the fenced write's own
 *   transaction (`completeIn`), which first locks the key row (`holdIn`, FOR KEY SHARE) and checks the
 *   claim is still its own. A request that would take over an abandoned claim must lock the row FOR UPDATE
 *   NOWAIT first, which fails while an attempt holds it (409): two attempts of one key never overlap.
 * - A write whose source of truth is legacy cannot commit with PostgreSQL: before the legacy write, the
 *   attempt (what it is about to write) is recorded outside the fence's transaction (`recordAttempt`), so a
 *   request that takes over after a crash can tell from the conversation whether that write landed, and
 *   then answers with it instead of writing again.
 * Bookkeeping outside a fenced write uses a small pool of its own: a fenced write already holds one
 *   connection of the main pool, and waiting for a second one there could deadlock a busy pool.
 * Expired rows are ignored by every query and deleted in batches by their `expires_at` index.
 */
import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { createHash, randomUUID } from 'node:crypto';
import { Pool } from 'pg';
import { Connections } from '../stores/connections';
import { isLockTimeout } from '../common/advisory-lock';
import { DomainError } from '../common/errors';
import type { JsonObject } from '../model/conversation.model';
import type { StoreTransaction } from '../stores/conversation-store.port';

export const IDEMPOTENCY_TTL_SECONDS = 24 * 60 * 60;
/** How long a claim's first attempt has before a retry may take the key over (the retry then checks what landed). */
const LEASE_SECONDS = 5;
const KEY_PATTERN = /^[A-Za-z0-9._:-]{1,200}$/;
const SWEEP_INTERVAL_MS = 10 * 60_000;
const SWEEP_BATCH = 1000;

/**
 * A keyed write's response, stored with the write. A keyed append stores `landed`, the write it made, instead of
 * its body (the whole conversation, which grows with every message: at 1,000 messages of 500 B, 600 KB a write);
 * a replay rebuilds the body from the source of truth (ConversationService.answerOf). That form has no `status`:
 * a replica of an earlier release, which knows only the first form, then fails the replay (a 5xx, which a keyed
 * client retries, on another replica) instead of answering it with an empty body.
 */
export type StoredResponse =
  | { status: number; etag?: string; body: unknown }
  /** `minimal`: answered with the message added (Prefer: return=minimal), not the conversation. */
  | { landedStatus: number; etag: string; landed: AppendAttempt; minimal?: boolean };

/**
 * What an attempt of a keyed write is about to do, so that a later attempt can tell whether it happened, and if it
 * did, answer with the conversation as that attempt wrote it (its first response), whatever was written after it.
 * An append records the header it was based on for that (`title`, `metadata`; absent from records made before them).
 */
export type Attempt =
  | { kind: 'create'; id: string }
  | {
      kind: 'append';
      id: string;
      baseVersion: number;
      index: number;
      role: string;
      contentSha256: string;
      at: string;
      title?: string | null;
      metadata?: JsonObject;
    };

export type AppendAttempt = Extract<Attempt, { kind: 'append' }>;

/** A claimed key, handed to the write it guards. */
export interface ClaimedKey {
  /** The attempt of an earlier claim of this key that never completed (its process died or its write failed), if any. */
  readonly previous: Attempt | null;
  /** Outside the fence's transaction, before a legacy write: records the attempt (fails if the claim was lost). */
  recordAttempt(attempt: Attempt): Promise<void>;
  /** In the fence's transaction, first: locks the key and checks the claim is still this one. */
  holdIn(tx: StoreTransaction): Promise<void>;
  /** In the fence's transaction, last: stores the response; it commits with the write. */
  completeIn(tx: StoreTransaction, response: StoredResponse): Promise<void>;
  /** The write did not happen (or may have, and `previous` will tell the next attempt): the key is free to retry now. */
  release(): Promise<void>;
  /** The request was refused and nothing of it was written: the key is left as if never used. */
  discard(): Promise<void>;
}

export type Claim = { kind: 'claimed'; key: ClaimedKey } | { kind: 'replay'; response: StoredResponse };

interface Row {
  fingerprint: string;
  state: 'pending' | 'done';
  claim_token: string;
  lease_until: Date;
  attempt: Attempt | null;
  response: StoredResponse | null;
}

export function messageSha256(content: string): string {
  return createHash('sha256').update(content).digest('hex');
}

const inProgress = () =>
  new DomainError('IDEMPOTENT_REQUEST_IN_PROGRESS', 409, 'A request with this Idempotency-Key is still being processed; retry shortly');
const lostClaim = () =>
  new DomainError(
    'IDEMPOTENT_REQUEST_IN_PROGRESS',
    409,
    'Another request with this Idempotency-Key took it over; retry to get its response',
  );

@Injectable()
export class IdempotencyService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('Idempotency');
  private readonly pool: Pool;
  private sweeper?: NodeJS.Timeout;

  constructor(@Inject(Connections) connections: Connections) {
    this.pool = connections.postgresPool({
      max: 4,
      connectionTimeoutMillis: 5000,
      statement_timeout: 10_000,
      application_name: 'lms-idempotency',
    });
    // An idle client's error (server restart) must not crash the process; the next query reconnects.
    this.pool.on('error', () => undefined);
  }

  static validKey(key: string): boolean {
    return KEY_PATTERN.test(key);
  }

  onApplicationBootstrap(): void {
    this.sweeper = setInterval(
      () => void this.sweepExpired().catch((err: Error) => this.logger.warn({ msg: 'expired keys not swept', error: err.message })),
      SWEEP_INTERVAL_MS,
    );
    this.sweeper.unref();
  }

  async onApplicationShutdown(): Promise<void> {
    clearInterval(this.sweeper);
    await this.pool.end().catch(() => undefined);
  }

  async claim(key: string, scope: string, body: unknown): Promise<Claim> {
    const keyHash = createHash('sha256').update(`${scope}\n${key}`).digest('hex');
    const fingerprint = createHash('sha256')
      .update(JSON.stringify(body ?? null))
      .digest('hex');
    const token = randomUUID();
    // A new key: this request owns it. (DO NOTHING takes no lock on an existing row, so it never waits.)
    const inserted = await this.pool.query(
      `INSERT INTO idempotency_keys (key_hash, fingerprint, state, claim_token, lease_until, expires_at)
       VALUES ($1, $2, 'pending', $3, now() + make_interval(secs => $4), now() + make_interval(secs => $5))
       ON CONFLICT (key_hash) DO NOTHING`,
      [keyHash, fingerprint, token, LEASE_SECONDS, IDEMPOTENCY_TTL_SECONDS],
    );
    if (inserted.rowCount === 1) return { kind: 'claimed', key: this.claimed(keyHash, token, null) };
    // Someone has it; if its row is gone by the time it is locked (swept), start again, with no connection held.
    return (await this.claimExisting(keyHash, fingerprint, token)) ?? this.claim(key, scope, body);
  }

  /** The answer for a key someone has claimed: null when its row was gone (expired and swept) by the time it was locked. */
  private async claimExisting(keyHash: string, fingerprint: string, token: string): Promise<Claim | null> {
    // NOWAIT: an attempt holding the key in its fenced write is in progress (never wait for it here, holding a
    // connection of this small pool that its own bookkeeping may need).
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      let row: (Row & { expired: boolean; lease_over: boolean }) | undefined;
      try {
        ({
          rows: [row],
        } = await client.query<Row & { expired: boolean; lease_over: boolean }>(
          `SELECT fingerprint, state, claim_token, lease_until, attempt, response, expires_at <= now() AS expired, lease_until <= now() AS lease_over
           FROM idempotency_keys WHERE key_hash = $1 FOR UPDATE NOWAIT`,
          [keyHash],
        ));
      } catch (err) {
        if (isLockTimeout(err)) throw inProgress();
        throw err;
      }
      if (!row) {
        await client.query('ROLLBACK');
        return null;
      }
      if (row.expired) {
        // Expired, not swept yet: start afresh.
        await client.query(
          `UPDATE idempotency_keys SET fingerprint = $2, state = 'pending', claim_token = $3, lease_until = now() + make_interval(secs => $4),
             attempt = NULL, response = NULL, created_at = now(), expires_at = now() + make_interval(secs => $5) WHERE key_hash = $1`,
          [keyHash, fingerprint, token, LEASE_SECONDS, IDEMPOTENCY_TTL_SECONDS],
        );
        await client.query('COMMIT');
        return { kind: 'claimed', key: this.claimed(keyHash, token, null) };
      }
      if (row.fingerprint !== fingerprint) {
        throw new DomainError('IDEMPOTENCY_KEY_REUSED', 422, 'This Idempotency-Key was used with a different request body');
      }
      if (row.state === 'done') {
        await client.query('COMMIT');
        return { kind: 'replay', response: row.response! };
      }
      if (!row.lease_over) throw inProgress();
      // The earlier attempt's lease ran out and it holds no lock: it died or failed. Take the key over.
      await client.query(
        `UPDATE idempotency_keys SET claim_token = $2, lease_until = now() + make_interval(secs => $3) WHERE key_hash = $1`,
        [keyHash, token, LEASE_SECONDS],
      );
      await client.query('COMMIT');
      return { kind: 'claimed', key: this.claimed(keyHash, token, row.attempt) };
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      client.release();
    }
  }

  /** Deletes expired keys, a batch at a time, by index (never a scan of the table). */
  async sweepExpired(): Promise<number> {
    let total = 0;
    for (;;) {
      const { rowCount } = await this.pool.query(
        `DELETE FROM idempotency_keys WHERE key_hash IN (
           SELECT key_hash FROM idempotency_keys WHERE expires_at <= now() ORDER BY expires_at LIMIT $1)`,
        [SWEEP_BATCH],
      );
      total += rowCount ?? 0;
      if ((rowCount ?? 0) < SWEEP_BATCH) return total;
    }
  }

  private claimed(keyHash: string, token: string, previous: Attempt | null): ClaimedKey {
    return {
      previous,
      recordAttempt: async (attempt) => {
        // A plain UPDATE (FOR NO KEY UPDATE) does not wait for this request's own FOR KEY SHARE in its fence.
        const r = await this.pool.query(
          `UPDATE idempotency_keys SET attempt = $3 WHERE key_hash = $1 AND claim_token = $2 AND state = 'pending'`,
          [keyHash, token, JSON.stringify(attempt)],
        );
        if (r.rowCount !== 1) throw lostClaim();
      },
      holdIn: async (tx) => {
        const rows = await tx.query<unknown[]>(
          `SELECT 1 FROM idempotency_keys WHERE key_hash = $1 AND claim_token = $2 AND state = 'pending' FOR KEY SHARE`,
          [keyHash, token],
        );
        if (rows.length !== 1) throw lostClaim();
      },
      completeIn: async (tx, response) => {
        await tx.query(`UPDATE idempotency_keys SET state = 'done', response = $3 WHERE key_hash = $1 AND claim_token = $2`, [
          keyHash,
          token,
          JSON.stringify(response),
        ]);
      },
      release: async () => {
        await this.pool.query(
          `UPDATE idempotency_keys SET lease_until = now() WHERE key_hash = $1 AND claim_token = $2 AND state = 'pending'`,
          [keyHash, token],
        );
      },
      discard: async () => {
        await this.pool.query(`DELETE FROM idempotency_keys WHERE key_hash = $1 AND claim_token = $2 AND state = 'pending'`, [
          keyHash,
          token,
        ]);
      },
    };
  }
}
