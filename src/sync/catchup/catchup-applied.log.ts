/**
 * `catchup_applied`: one row per document catch-up wrote into PostgreSQL (the version guard let it
 * through), with when the legacy application changed it. Written in the batch's own transaction.
 *
 * Before the flip these rows are the legacy application's own writes arriving. After it, the new store
 * is the source of truth and makes every write itself, so a document catch-up still has to copy is one
 * the new store did not make: a stray legacy write. Catch-up keeps copying them (the write is not lost)
 * and the gate into cleanup counts them here, at the cost of one indexed query rather than a scan of
 * the legacy collection per evaluation.
 */
import { DataSource, QueryRunner } from 'typeorm';
import type { LegacyDocument } from '../../model/legacy-document';
import { hexOf } from './object-id-time';

/** Rows older than this are pruned; longer than any deprecation phase is expected to last. */
export const CATCHUP_APPLIED_RETENTION_MS = 30 * 24 * 3600_000;

export interface StrayWrites {
  /** Documents catch-up copied that the legacy application changed at or after the instant asked about. */
  copied: number;
  /** Documents catch-up could not read (dead-lettered) since that instant. */
  unreadable: number;
  count: number;
  /** The first 100 conversation ids, oldest change first. */
  ids: string[];
}

/** When the legacy application changed a document: its `updated`, or for an insert its ObjectId's second. */
export function changedAt(doc: LegacyDocument): Date | null {
  const updated = (doc as { updated?: unknown }).updated;
  if (updated instanceof Date && !Number.isNaN(updated.getTime())) return updated;
  const hex = hexOf(doc._id);
  return hex ? new Date(parseInt(hex.slice(0, 8), 16) * 1000) : null;
}

export class CatchupAppliedLog {
  constructor(private readonly dataSource: DataSource) {}

  async record(q: Pick<QueryRunner, 'query'>, rows: Array<{ id: string; changedAt: Date | null }>): Promise<void> {
    if (rows.length === 0) return;
    await q.query(`INSERT INTO catchup_applied (conversation_id, changed_at) SELECT * FROM unnest($1::text[], $2::timestamptz[])`, [
      rows.map((r) => r.id),
      rows.map((r) => r.changedAt?.toISOString() ?? null),
    ]);
  }

  async prune(now = Date.now()): Promise<void> {
    await this.dataSource.query('DELETE FROM catchup_applied WHERE applied_at < $1', [new Date(now - CATCHUP_APPLIED_RETENTION_MS)]);
  }

  /**
   * What catch-up, from `since` on, had to copy or could not read among legacy changes made at or after
   * `since`. Both conditions: a change from before (caught up late) or a copy from before (a document
   * dated in the future by a bad clock) is not a write made since.
   */
  async changedSince(since: Date): Promise<StrayWrites> {
    const [row] = await this.dataSource.query(
      `SELECT (SELECT count(DISTINCT conversation_id) FROM catchup_applied WHERE changed_at >= $1 AND applied_at >= $1)::int AS copied,
              (SELECT count(*) FROM dead_letters WHERE source = 'catchup' AND created_at >= $1)::int AS unreadable,
              ARRAY(SELECT conversation_id FROM (
                      SELECT conversation_id, min(changed_at) AS first FROM catchup_applied WHERE changed_at >= $1 AND applied_at >= $1 GROUP BY conversation_id
                      UNION ALL
                      SELECT conversation_id, created_at FROM dead_letters WHERE source = 'catchup' AND created_at >= $1
                    ) s ORDER BY first, conversation_id LIMIT 100) AS ids`,
      [since],
    );
    return { copied: row.copied, unreadable: row.unreadable, count: row.copied + row.unreadable, ids: row.ids };
  }
}
