/**
 * Small named values of the sync engine in PostgreSQL (`sync_state`), shared by every process:
 * - `pause`: set by operators; workers stop between batches while it is on;
 * - `throttle`: an operator's override of the docs-per-second ceiling;
 * - `catchup`: the catch-up watermark. Its fields only move forward (each update is guarded in SQL), so two
 *   overlapping passes, or a pass racing a backfill start, can never move it back.
 * Watermark updates take a QueryRunner so they commit in the same transaction as the batch they describe.
 */
import { DataSource, QueryRunner } from 'typeorm';

export interface PauseState {
  paused: boolean;
  by?: string;
  reason?: string;
  at?: string;
}

export interface ThrottleOverride {
  /** null: the configured ceiling applies. 0: no ceiling. */
  maxDocsPerSecond: number | null;
  by?: string;
  at?: string;
}

export interface CatchupState {
  /** Every change with `updated` at or before this instant (epoch ms) has been applied. */
  updatedMs: number;
  /** The last document applied at `updatedMs`, informational (passes re-read an overlap window anyway). */
  id: string | null;
  /**
   * Documents with a larger ObjectId were inserted after the backfill's split, or, before any backfill, after the
   * catch-up began: catch-up copies them.
   */
  newIdsAfter: string | null;
  lastPass?: CatchupPassSummary;
}

export interface CatchupPassSummary {
  at: string;
  trigger: string;
  read: number;
  written: number;
  skipped: number;
  dead: number;
  batches: number;
  exhausted: boolean;
}

type Runner = Pick<QueryRunner, 'query'> | DataSource;

/** The `catchup` row's JSON as this class writes it (older rows may lack fields; `updatedMs` may be a string). */
interface StoredCatchup {
  updatedMs?: number | string | null;
  id?: string | null;
  newIdsAfter?: string | null;
  lastPass?: CatchupPassSummary;
}

export class SyncStateRepository {
  constructor(private readonly dataSource: DataSource) {}

  async readAll(): Promise<{ pause: PauseState; throttle: ThrottleOverride; catchup: CatchupState | null }> {
    const rows: Array<{ key: string; value: unknown }> = await this.dataSource.query(
      `SELECT key, value FROM sync_state WHERE key IN ('pause', 'throttle', 'catchup')`,
    );
    const by = new Map(rows.map((r) => [r.key, r.value]));
    // Each key's JSON is what this class's own setter wrote.
    return {
      pause: (by.get('pause') as PauseState | undefined) ?? { paused: false },
      throttle: (by.get('throttle') as ThrottleOverride | undefined) ?? { maxDocsPerSecond: null },
      catchup: by.has('catchup') ? normaliseCatchup(by.get('catchup') as StoredCatchup) : null,
    };
  }

  async setPause(state: PauseState): Promise<void> {
    await this.put('pause', state);
  }

  async setThrottle(override: ThrottleOverride): Promise<void> {
    await this.put('throttle', override);
  }

  async catchup(q: Runner = this.dataSource): Promise<CatchupState | null> {
    const rows: Array<{ value: StoredCatchup }> = await q.query(`SELECT value FROM sync_state WHERE key = 'catchup'`);
    return rows.length > 0 ? normaliseCatchup(rows[0].value) : null;
  }

  /** Starts the watermark at `updatedMs` unless one exists (an existing watermark is never moved back). */
  async initCatchup(updatedMs: number, q: Runner = this.dataSource): Promise<void> {
    await q.query(
      `INSERT INTO sync_state (key, value) VALUES ('catchup', jsonb_build_object('updatedMs', $1::bigint, 'id', NULL, 'newIdsAfter', NULL))
       ON CONFLICT (key) DO NOTHING`,
      [updatedMs],
    );
  }

  async advanceUpdated(updatedMs: number, id: string | null, q: Runner = this.dataSource): Promise<void> {
    await q.query(
      `UPDATE sync_state SET value = value || jsonb_build_object('updatedMs', $1::bigint, 'id', $2::text), updated_at = now()
       WHERE key = 'catchup' AND coalesce((value->>'updatedMs')::bigint, 0) <= $1::bigint`,
      [updatedMs, id],
    );
  }

  /**
   * Sets the insert watermark while no backfill was ever started (once one is, its split sets it where its ranges
   * end, and what lies below is the backfill's); false if there was one, or a backfill.
   */
  async startNewIds(afterId: string): Promise<boolean> {
    const [, updated] = await this.dataSource.query(
      `UPDATE sync_state SET value = value || jsonb_build_object('newIdsAfter', $1::text), updated_at = now()
       WHERE key = 'catchup' AND value->>'newIdsAfter' IS NULL AND NOT EXISTS (SELECT 1 FROM sync_runs)`,
      [afterId],
    );
    return updated > 0;
  }

  async advanceNewIds(afterId: string, q: Runner = this.dataSource): Promise<void> {
    await q.query(
      `UPDATE sync_state SET value = value || jsonb_build_object('newIdsAfter', $1::text), updated_at = now()
       WHERE key = 'catchup' AND coalesce(value->>'newIdsAfter', '') < $1::text`,
      [afterId],
    );
  }

  async recordPass(summary: CatchupPassSummary): Promise<void> {
    await this.dataSource.query(
      `UPDATE sync_state SET value = value || jsonb_build_object('lastPass', $1::jsonb), updated_at = now() WHERE key = 'catchup'`,
      [JSON.stringify(summary)],
    );
  }

  private async put(key: string, value: unknown): Promise<void> {
    await this.dataSource.query(
      `INSERT INTO sync_state (key, value, updated_at) VALUES ($1, $2::jsonb, now())
       ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, updated_at = now()`,
      [key, JSON.stringify(value)],
    );
  }
}

function normaliseCatchup(v: StoredCatchup): CatchupState {
  return { updatedMs: Number(v.updatedMs ?? 0), id: v.id ?? null, newIdsAfter: v.newIdsAfter ?? null, lastPass: v.lastPass };
}
