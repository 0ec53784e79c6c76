/**
 * Durable records of "the other store still needs this conversation from `source`".
 *
 * PostgreSQL's `repair_outbox` is the ledger: a fenced write records its follow-up there in its own
 * transaction (legacy follows the new store in deprecation; a secondary write that failed is retried), so a
 * follow-up exists exactly when the write committed, and a row stays until a repair has copied the
 * conversation, not merely until Redis took a job for it: nothing that only Redis remembers can be lost.
 * (In deprecation the row is written by the write's own statement, PostgresConversationStore.writeRecorded, so
 * legacy's follow-up costs the request no round trip of its own; the columns are the ones `addIn` writes.)
 * Redis delivers the work (the replayer hands due rows to the repair queue, again if a job went missing).
 *
 * The legacy store's `migration_repair_outbox` is the fallback for a divergence that could not be written
 * to PostgreSQL (a write that failed with PostgreSQL unreachable): its entries move to the queue and leave.
 */
import { Collection, Db, Document, MongoServerError, MongoWriteConcernError } from 'mongodb';
import { DataSource } from 'typeorm';
import type { StoreTransaction } from '../stores/conversation-store.port';
import type { StoreName } from '../model/store-name';

export interface OutboxEntry {
  conversationId: string;
  source: StoreName;
  reason: string;
  /** `repair_outbox` rows this entry stands for; the repair removes them once it is done. */
  outboxIds?: string[];
}

export interface RepairOutbox {
  readonly store: StoreName;
  add(entry: OutboxEntry): Promise<void>;
  /**
   * Hands up to `limit` due entries to `deliver`, each at most once per pass; resolves to how many it handed over.
   * Entries whose `source` is in `holdBack` stay where they are this pass (the store they copy into is down).
   */
  drain(limit: number, deliver: (entry: OutboxEntry) => Promise<void>, holdBack?: readonly StoreName[]): Promise<number>;
  count(): Promise<number>;
}

/** A row never handed over is due this long after its write (the writer's own follow-up usually clears it first). */
const FIRST_HANDOVER_AFTER = '2 seconds';
/** A row handed over this long ago and still here lost its job (Redis restarted empty) or keeps failing: again. */
const HANDOVER_AGAIN_AFTER = '60 seconds';

export interface OutboxRow {
  id: string;
  conversationId: string;
  source: StoreName;
  reason: string;
}

export class PostgresRepairOutbox implements RepairOutbox {
  readonly store = 'new' as const;
  constructor(private readonly dataSource: DataSource) {}

  async add(e: OutboxEntry): Promise<void> {
    await this.addIn(this.dataSource, e);
  }

  /** Records the entry in the caller's transaction; resolves to the row's id. */
  async addIn(tx: StoreTransaction, e: OutboxEntry): Promise<string> {
    const [row] = await tx.query<Array<{ id: string }>>(
      'INSERT INTO repair_outbox (conversation_id, source, reason) VALUES ($1, $2, $3) RETURNING id',
      [e.conversationId, e.source, e.reason],
    );
    return String(row.id);
  }

  async drain(limit: number, deliver: (entry: OutboxEntry) => Promise<void>, holdBack: readonly StoreName[] = []): Promise<number> {
    return this.dataSource.transaction(async (em) => {
      // SKIP LOCKED lets several replicas hand rows over at once without handing one over twice.
      const rows: Array<{ id: string; conversation_id: string; source: StoreName; reason: string }> = await em.query(
        `SELECT id, conversation_id, source, reason FROM repair_outbox
         WHERE ((enqueued_at IS NULL AND created_at < now() - interval '${FIRST_HANDOVER_AFTER}')
                OR enqueued_at < now() - interval '${HANDOVER_AGAIN_AFTER}')
           AND NOT (source = ANY($2::text[]))
         ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED`,
        [limit, holdBack],
      );
      // One job per conversation and source: it copies the current state, which covers all its rows.
      const groups = new Map<string, OutboxEntry & { outboxIds: string[] }>();
      for (const r of rows) {
        const key = `${r.conversation_id} ${r.source}`;
        const g = groups.get(key) ?? { conversationId: r.conversation_id, source: r.source, reason: r.reason, outboxIds: [] };
        g.outboxIds.push(String(r.id));
        groups.set(key, g);
      }
      const handed: string[] = [];
      for (const g of groups.values()) {
        await deliver(g);
        handed.push(...g.outboxIds);
      }
      if (handed.length > 0) await em.query('UPDATE repair_outbox SET enqueued_at = now() WHERE id = ANY($1::bigint[])', [handed]);
      return groups.size;
    });
  }

  /** Rows in id order after `afterId`, due or not: what a cutover settles while it holds the write fence. */
  async rowsAfter(afterId: string, limit: number, q: StoreTransaction = this.dataSource): Promise<OutboxRow[]> {
    const rows: Array<{ id: string; conversation_id: string; source: StoreName; reason: string }> = await q.query(
      'SELECT id, conversation_id, source, reason FROM repair_outbox WHERE id > $1 ORDER BY id LIMIT $2',
      [afterId, limit],
    );
    return rows.map((r) => ({ id: String(r.id), conversationId: r.conversation_id, source: r.source, reason: r.reason }));
  }

  /** Removes rows a repair has settled. */
  async remove(ids: readonly string[], q: StoreTransaction = this.dataSource): Promise<void> {
    if (ids.length > 0) await q.query('DELETE FROM repair_outbox WHERE id = ANY($1::bigint[])', [ids]);
  }

  /**
   * Rows whose repair can never succeed as things are (the record cannot be read): never handed over again by
   * the replayer (`enqueued_at` infinity), where every 60 s would add one more dead job for the same record.
   * They stay, and count in the lag, until their dead job is re-driven after a fix, or until a later repair
   * of the conversation from the same store succeeds (removeSettled).
   */
  async park(ids: readonly string[]): Promise<void> {
    if (ids.length > 0)
      await this.dataSource.query(`UPDATE repair_outbox SET enqueued_at = 'infinity' WHERE id = ANY($1::bigint[])`, [ids]);
  }

  /**
   * A repair of the conversation from `source` is done: its rows go, and so do the conversation's parked rows
   * from that store (the repair copied the current state, which covers them). One statement.
   */
  async removeSettled(
    ids: readonly string[],
    conversationId: string,
    source: StoreName,
    q: StoreTransaction = this.dataSource,
  ): Promise<void> {
    await q.query(
      `DELETE FROM repair_outbox
       WHERE id = ANY($1::bigint[]) OR (conversation_id = $2 AND source = $3 AND enqueued_at = 'infinity')`,
      [ids, conversationId, source],
    );
  }

  /** Of `conversationIds`, those with a follow-up not yet settled, with the store each copies from. */
  async pendingFor(conversationIds: readonly string[]): Promise<Array<{ conversationId: string; source: StoreName }>> {
    if (conversationIds.length === 0) return [];
    const rows: Array<{ conversation_id: string; source: StoreName }> = await this.dataSource.query(
      'SELECT DISTINCT conversation_id, source FROM repair_outbox WHERE conversation_id = ANY($1::char(24)[])',
      [conversationIds],
    );
    return rows.map((r) => ({ conversationId: r.conversation_id, source: r.source }));
  }

  async count(): Promise<number> {
    const [{ n }] = await this.dataSource.query('SELECT count(*)::int AS n FROM repair_outbox');
    return n;
  }

  /**
   * Follow-ups not yet settled, and the oldest one's age in seconds (0 when none): how far behind the other
   * store is at worst (in deprecation, how far legacy lags the source of truth).
   */
  async lag(): Promise<{ pending: number; oldestAgeSeconds: number }> {
    const [row] = await this.dataSource.query(
      'SELECT count(*)::int AS pending, COALESCE(EXTRACT(EPOCH FROM now() - min(created_at)), 0)::float8 AS age FROM repair_outbox',
    );
    return { pending: row.pending, oldestAgeSeconds: Math.round(row.age * 1000) / 1000 };
  }
}

export class MongoRepairOutbox implements RepairOutbox {
  readonly store = 'legacy' as const;
  private readonly collection: Collection<Document>;
  constructor(db: Db, name = 'migration_repair_outbox') {
    this.collection = db.collection(name);
  }

  async add(e: OutboxEntry): Promise<void> {
    await this.collection.insertOne({ conversationId: e.conversationId, source: e.source, reason: e.reason, createdAt: new Date() });
  }

  async drain(limit: number, deliver: (entry: OutboxEntry) => Promise<void>, holdBack: readonly StoreName[] = []): Promise<number> {
    let delivered = 0;
    for (; delivered < limit; delivered++) {
      // Take one entry out atomically; put it back if it could not be delivered.
      const doc = await this.takeOne(holdBack);
      if (!doc) break;
      const entry = { conversationId: doc.conversationId, source: doc.source, reason: doc.reason } as OutboxEntry;
      try {
        await deliver(entry);
      } catch (err) {
        await this.putBack(doc, err);
        throw err;
      }
    }
    return delivered;
  }

  async count(): Promise<number> {
    return this.collection.countDocuments();
  }

  /**
   * Puts back an entry whose delivery failed (`deliveryError`). If it is there already (a delete its majority did not
   * confirm was rolled back), there is nothing to put back, and the delivery's error is the one to report. If the
   * put-back itself fails, the entry may be gone: the error says so and carries both.
   */
  private async putBack(doc: Document, deliveryError: unknown): Promise<void> {
    try {
      await this.collection.insertOne(doc);
    } catch (err) {
      if (err instanceof MongoServerError && err.code === 11000) return;
      throw new Error(
        `legacy outbox entry for ${String(doc.conversationId)} could not be delivered (${(deliveryError as Error).message}) nor put back ` +
          `(${(err as Error).message}); the next verification finds what it stood for`,
        { cause: err },
      );
    }
  }

  /**
   * The oldest entry, deleted. When legacy's majority does not confirm the delete in time (a write concern error,
   * stores/mongo/legacy-concerns.ts) the delete may stick all the same: the entry, which the answer still carries, is
   * delivered as if it had been confirmed. Delivered twice is a repair that finds nothing to do; lost is a divergence
   * left to the next verification.
   */
  private async takeOne(holdBack: readonly StoreName[]): Promise<Document | null> {
    try {
      return await this.collection.findOneAndDelete({ source: { $nin: [...holdBack] } }, { sort: { _id: 1 } });
    } catch (err) {
      const taken = err instanceof MongoWriteConcernError ? (err.result as { value?: Document | null }).value : undefined;
      if (taken === undefined) throw err;
      return taken;
    }
  }
}
