/**
 * Documents that could not be read, in `dead_letters`. At most one open record per document (a partial
 * unique index): recording it again refreshes its reason and raw form. Writes take a QueryRunner so a
 * batch's dead letters commit (or roll back) together with the batch and its checkpoint.
 */
import { DataSource, QueryRunner } from 'typeorm';

export type DeadLetterSource = 'backfill' | 'catchup' | 'redrive';
export type DeadLetterResolution = 'written' | 'already_current' | 'gone';
export type DeadLetterStatus = 'open' | 'resolved' | 'all';

export interface NewDeadLetter {
  conversationId: string;
  source: DeadLetterSource;
  reason: string;
  /** Extended JSON of the raw document, already storable in jsonb. */
  raw: unknown;
}

export interface DeadLetter {
  id: number;
  conversationId: string;
  source: DeadLetterSource;
  reason: string;
  raw: Record<string, unknown>;
  createdAt: string;
  resolvedAt: string | null;
  resolution: DeadLetterResolution | null;
  redrives: number;
  lastRedriveAt: string | null;
}

type Runner = Pick<QueryRunner, 'query'> | DataSource;

interface Row {
  id: string;
  conversation_id: string;
  source: DeadLetterSource;
  reason: string;
  raw: Record<string, unknown>;
  created_at: Date;
  resolved_at: Date | null;
  resolution: DeadLetterResolution | null;
  redrives: number;
  last_redrive_at: Date | null;
}

const iso = (d: Date | null) => (d ? d.toISOString() : null);

function fromRow(r: Row): DeadLetter {
  return {
    id: Number(r.id),
    conversationId: r.conversation_id,
    source: r.source,
    reason: r.reason,
    raw: r.raw,
    createdAt: r.created_at.toISOString(),
    resolvedAt: iso(r.resolved_at),
    resolution: r.resolution,
    redrives: r.redrives,
    lastRedriveAt: iso(r.last_redrive_at),
  };
}

const STATUS_FILTER: Record<DeadLetterStatus, string> = {
  open: 'resolved_at IS NULL',
  resolved: 'resolved_at IS NOT NULL',
  all: 'true',
};

export class DeadLetterRepository {
  constructor(private readonly dataSource: DataSource) {}

  /** One statement for the whole batch. An open record of the same document keeps its source and gets the new reason. */
  async record(q: Runner, letters: NewDeadLetter[]): Promise<void> {
    if (letters.length === 0) return;
    await q.query(
      `INSERT INTO dead_letters (conversation_id, source, reason, raw)
       SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::jsonb[])
       ON CONFLICT (conversation_id) WHERE resolved_at IS NULL
       DO UPDATE SET reason = EXCLUDED.reason, raw = EXCLUDED.raw`,
      [
        letters.map((l) => l.conversationId),
        letters.map((l) => l.source),
        letters.map((l) => l.reason),
        letters.map((l) => JSON.stringify(l.raw)),
      ],
    );
  }

  /** Closes the open records of these documents (they have since been read and copied). */
  async resolve(q: Runner, conversationIds: string[], resolution: DeadLetterResolution): Promise<number> {
    if (conversationIds.length === 0) return 0;
    const [, count] = await q.query(
      `UPDATE dead_letters SET resolved_at = now(), resolution = $2
       WHERE resolved_at IS NULL AND conversation_id = ANY($1::text[])`,
      [conversationIds, resolution],
    );
    return count;
  }

  async resolveByIds(q: Runner, ids: number[], resolution: DeadLetterResolution): Promise<void> {
    if (ids.length === 0) return;
    await q.query(`UPDATE dead_letters SET resolved_at = now(), resolution = $2 WHERE resolved_at IS NULL AND id = ANY($1::bigint[])`, [
      ids,
      resolution,
    ]);
  }

  /** Counts a re-drive attempt on each record (resolved by it or not). */
  async markRedriven(q: Runner, ids: number[]): Promise<void> {
    if (ids.length === 0) return;
    await q.query(`UPDATE dead_letters SET redrives = redrives + 1, last_redrive_at = now() WHERE id = ANY($1::bigint[])`, [ids]);
  }

  /** A page in id order; `after` is the last id of the previous page. */
  async list(status: DeadLetterStatus, limit: number, after?: number): Promise<DeadLetter[]> {
    const rows: Row[] = await this.dataSource.query(
      `SELECT * FROM dead_letters WHERE ${STATUS_FILTER[status]} AND id > $1 ORDER BY id LIMIT $2`,
      [after ?? 0, limit],
    );
    return rows.map(fromRow);
  }

  /** Open records, in id order, optionally only those with the given ids. */
  async open(limit: number, after = 0, ids?: number[]): Promise<DeadLetter[]> {
    const rows: Row[] = await this.dataSource.query(
      `SELECT * FROM dead_letters WHERE resolved_at IS NULL AND id > $1 AND ($3::bigint[] IS NULL OR id = ANY($3::bigint[]))
       ORDER BY id LIMIT $2`,
      [after, limit, ids ?? null],
    );
    return rows.map(fromRow);
  }

  async counts(): Promise<{ open: number; resolved: number }> {
    const [row] = await this.dataSource.query(
      `SELECT count(*) FILTER (WHERE resolved_at IS NULL)::int AS open, count(*) FILTER (WHERE resolved_at IS NOT NULL)::int AS resolved
       FROM dead_letters`,
    );
    return { open: row.open, resolved: row.resolved };
  }
}
