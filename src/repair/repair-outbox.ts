/**
 * Where a divergence is written down when Redis cannot take the repair job. It goes to the store that
 * just acknowledged the write (the source of truth), which is up by definition; the replayer moves
 * entries to the queue once Redis answers again. Entries are idempotent: a repair copies current state.
 */
import { Collection, Db, Document } from 'mongodb';
import { DataSource } from 'typeorm';
import type { StoreName } from '../stores/conversation-store.port';

export interface OutboxEntry {
  conversationId: string;
  source: StoreName;
  reason: string;
}

export interface RepairOutbox {
  readonly store: StoreName;
  add(entry: OutboxEntry): Promise<void>;
  /** Hands up to `limit` entries to `deliver`; each is removed only when `deliver` resolved for it. */
  drain(limit: number, deliver: (entry: OutboxEntry) => Promise<void>): Promise<number>;
  count(): Promise<number>;
}

export class PostgresRepairOutbox implements RepairOutbox {
  readonly store = 'new' as const;
  constructor(private readonly dataSource: DataSource) {}

  async add(e: OutboxEntry): Promise<void> {
    await this.dataSource.query('INSERT INTO repair_outbox (conversation_id, source, reason) VALUES ($1, $2, $3)', [e.conversationId, e.source, e.reason]);
  }

  async drain(limit: number, deliver: (entry: OutboxEntry) => Promise<void>): Promise<number> {
    return this.dataSource.transaction(async (em) => {
      // SKIP LOCKED lets several replicas drain at once without handing out one entry twice.
      const rows: Array<{ id: string; conversation_id: string; source: StoreName; reason: string }> = await em.query(
        'SELECT id, conversation_id, source, reason FROM repair_outbox ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED',
        [limit],
      );
      const delivered: string[] = [];
      for (const r of rows) {
        await deliver({ conversationId: r.conversation_id, source: r.source, reason: r.reason });
        delivered.push(r.id);
      }
      if (delivered.length > 0) await em.query('DELETE FROM repair_outbox WHERE id = ANY($1::bigint[])', [delivered]);
      return delivered.length;
    });
  }

  async count(): Promise<number> {
    const [{ n }] = await this.dataSource.query('SELECT count(*)::int AS n FROM repair_outbox');
    return n;
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

  async drain(limit: number, deliver: (entry: OutboxEntry) => Promise<void>): Promise<number> {
    let delivered = 0;
    for (; delivered < limit; delivered++) {
      // Take one entry out atomically; put it back if it could not be delivered.
      const doc = await this.collection.findOneAndDelete({}, { sort: { _id: 1 } });
      if (!doc) break;
      const entry = { conversationId: doc.conversationId, source: doc.source, reason: doc.reason } as OutboxEntry;
      try {
        await deliver(entry);
      } catch (err) {
        await this.collection.insertOne(doc);
        throw err;
      }
    }
    return delivered;
  }

  async count(): Promise<number> {
    return this.collection.countDocuments();
  }
}
