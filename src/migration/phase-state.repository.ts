/**
 * The phase machine's persistence. Every change is a compare-and-set on `revision`, so two operators
 * or two replicas cannot both move the migration: the second finds the revision changed and gets 409.
 * A move first records itself as `pending_move` (claiming the row), then applies its traffic change,
 * then commits the new position; a crash in between leaves the pending move visible.
 */
import { Inject, Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { AdvisoryLock, tryLock, tryTransactionLock, unlock } from '../common/advisory-lock';
import type { StoreTransaction } from '../stores/conversation-store.port';
import { DATA_SOURCE } from '../stores/stores.module';
import type { Phase } from '../model/phases';
import type { AuditEntry } from './domain/audit-entry';

export type { AuditEntry } from './domain/audit-entry';

export interface PhaseState {
  phase: Phase;
  step: number;
  revision: number;
  enteredAt: Date;
  paused: boolean;
  autoFailures: number;
  pendingMove: Record<string, unknown> | null;
  flippedAt: Date | null;
  legacyDrainedSince: Date | null;
  updatedAt: Date;
}

/** The `migration_state` row as the driver returns it. */
interface StateRow {
  phase: Phase;
  step: number;
  revision: number;
  entered_at: Date;
  paused: boolean;
  auto_failures: number;
  pending_move: Record<string, unknown> | null;
  flipped_at: Date | null;
  legacy_drained_since: Date | null;
  updated_at: Date;
}

/** A `migration_audit` row as the driver returns it (`id` is a bigint: a string). */
interface AuditRow {
  id: string;
  at: Date;
  actor: string;
  action: string;
  reason: string | null;
  forced: boolean;
  before: unknown;
  after: unknown;
  details: unknown;
}

@Injectable()
export class PhaseStateRepository {
  constructor(@Inject(DATA_SOURCE) private readonly dataSource: DataSource) {}

  /** `q`: read inside that transaction (a commit reads the row it is about to change under the write fence). */
  async read(q: StoreTransaction = this.dataSource): Promise<PhaseState> {
    const [r] = await q.query<StateRow[]>('SELECT * FROM migration_state WHERE id = 1');
    return {
      phase: r.phase,
      step: r.step,
      revision: r.revision,
      enteredAt: r.entered_at,
      paused: r.paused,
      autoFailures: r.auto_failures,
      pendingMove: r.pending_move,
      flippedAt: r.flipped_at,
      legacyDrainedSince: r.legacy_drained_since,
      updatedAt: r.updated_at,
    };
  }

  /**
   * The process making a move holds this session lock from before its claim until it is done with the move,
   * so a claim whose process died (its connection, and with it the lock, gone) is told from one still being
   * worked on, at once and whatever the move takes, instead of after a timeout. Null when another process
   * holds it (a move is being made).
   */
  async holdMoveLock(): Promise<{ release(): Promise<void> } | null> {
    const q = this.dataSource.createQueryRunner();
    await q.connect();
    try {
      if (!(await tryLock(q, AdvisoryLock.MoveInProgress))) {
        await q.release();
        return null;
      }
    } catch (err) {
      await q.release();
      throw err;
    }
    return {
      release: async () => {
        await unlock(q, AdvisoryLock.MoveInProgress).catch(() => undefined);
        await q.release();
      },
    };
  }

  /** True when no process holds the move lock: a pending move's own process is gone. */
  async moveClaimerGone(): Promise<boolean> {
    return this.dataSource.transaction((em) => tryTransactionLock(em, AdvisoryLock.MoveInProgress));
  }

  /** Claims the row for a move; false when the revision moved or another move is pending. */
  async claim(expectedRevision: number, move: Record<string, unknown>): Promise<boolean> {
    const [, n] = await this.dataSource.query(
      `UPDATE migration_state SET pending_move = $2, revision = revision + 1, updated_at = now()
       WHERE id = 1 AND revision = $1 AND pending_move IS NULL`,
      [expectedRevision, JSON.stringify(move)],
    );
    return n === 1;
  }

  /** Drops the claim of a move that did not happen; false when the move was no longer pending. */
  async release(claimedRevision: number): Promise<boolean> {
    const [, n] = await this.dataSource.query(
      `UPDATE migration_state SET pending_move = NULL, revision = revision + 1, updated_at = now() WHERE id = 1 AND revision = $1`,
      [claimedRevision],
    );
    return n === 1;
  }

  /** Moves the phase. Run it in a transaction holding the write fence exclusively (MoveCompleter does). */
  async commit(
    claimedRevision: number,
    to: { phase: Phase; step: number },
    fields: { flippedAt: Date | null; legacyDrainedSince: Date | null },
    q: StoreTransaction,
  ): Promise<boolean> {
    const [, n] = await q.query<[unknown, number]>(
      `UPDATE migration_state SET phase = $2, step = $3, entered_at = now(), pending_move = NULL, auto_failures = 0,
              flipped_at = $4, legacy_drained_since = $5, revision = revision + 1, updated_at = now()
       WHERE id = 1 AND revision = $1`,
      [claimedRevision, to.phase, to.step, fields.flippedAt, fields.legacyDrainedSince],
    );
    return n === 1;
  }

  async setPaused(paused: boolean): Promise<void> {
    await this.dataSource.query(
      'UPDATE migration_state SET paused = $1, auto_failures = 0, revision = revision + 1, updated_at = now() WHERE id = 1',
      [paused],
    );
  }

  async setAutoFailures(n: number): Promise<void> {
    await this.dataSource.query('UPDATE migration_state SET auto_failures = $1 WHERE id = 1', [n]);
  }

  async audit(e: Omit<AuditEntry, 'id' | 'at'>): Promise<void> {
    await this.dataSource.query(
      `INSERT INTO migration_audit (actor, action, reason, forced, before, after, details) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
      [
        e.actor,
        e.action,
        e.reason,
        e.forced,
        JSON.stringify(e.before ?? null),
        JSON.stringify(e.after ?? null),
        JSON.stringify(e.details ?? null),
      ],
    );
  }

  /** The last committed move that changed the source of truth, with the pause its commit imposed on writes. */
  async lastFlip(): Promise<{
    at: string;
    action: string;
    to: string;
    sourceOfTruth: string;
    writePause: { waitedMs: number; heldMs: number } | null;
    cutover: unknown;
  } | null> {
    const rows = await this.dataSource.query(
      `SELECT at, action, after, details FROM migration_audit
       WHERE before ? 'sourceOfTruth' AND after ? 'sourceOfTruth' AND before->>'sourceOfTruth' <> after->>'sourceOfTruth'
       ORDER BY id DESC LIMIT 1`,
    );
    if (rows.length === 0) return null;
    const r = rows[0];
    return {
      at: r.at.toISOString(),
      action: r.action,
      to: r.after.step,
      sourceOfTruth: r.after.sourceOfTruth,
      writePause: r.details?.writePause ?? null,
      cutover: r.details?.cutover ?? null,
    };
  }

  async history(limit: number, offset: number): Promise<{ total: number; items: AuditEntry[] }> {
    const [{ n }] = await this.dataSource.query('SELECT count(*)::int AS n FROM migration_audit');
    const rows: AuditRow[] = await this.dataSource.query('SELECT * FROM migration_audit ORDER BY id DESC LIMIT $1 OFFSET $2', [
      limit,
      offset,
    ]);
    return {
      total: n,
      items: rows.map((r) => ({
        id: Number(r.id),
        at: r.at.toISOString(),
        actor: r.actor,
        action: r.action,
        reason: r.reason,
        forced: r.forced,
        before: r.before,
        after: r.after,
        details: r.details,
      })),
    };
  }
}
