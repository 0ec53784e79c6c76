/**
 * The seed document's historical sync loop (seeds/000_27389e7a1b5e9abe.txt, "Background job to sync
 * historical data"), faithfully sequential:
 *
 *   while True:
 *     conversations = await legacy_db.fetch_batch(cursor, limit=1000)
 *     for conv in conversations:
 *       await new_db.upsert(transform_conversation(conv))
 *     cursor = conversations[-1].id
 *     await asyncio.sleep(1)
 *
 * transform_conversation is the service's own reader (fromLegacy); upsert is ONE statement per
 * document (the conversation's INSERT ... ON CONFLICT DO UPDATE and its messages' in one statement
 * through a data-modifying CTE), autocommitted. The sleep is not slept: its cost is reported apart
 * (one second per batch).
 *
 * fetch_batch: on MongoDB `{_id: {$gt: cursor}}` sorted by `_id` with limit 1000 is an index range
 * scan costing about the 1000 documents it returns. FerretDB (local runs) cannot push a range, a sort
 * or a limit-after-sort down to SQLite: every such query decodes the whole collection, so the literal
 * loop would be quadratic here (measured and reported by `literalFetchSeconds`). The loop therefore
 * gets its batches from one cursor in natural order, 1000 per round trip (`batchSize` 1000, read
 * only when the previous batch is written), which costs what the index scan costs on MongoDB; the
 * data set is inserted in `_id` order, so the order is the same (checked).
 */
import { performance } from 'node:perf_hooks';
import { Document, MongoClient, ObjectId } from 'mongodb';
import { Client } from 'pg';
import { fromLegacy } from '../../src/model/legacy-transform';

const BATCH = 1000;

const UPSERT = `
  WITH conv AS (
    INSERT INTO conversations (id, user_id, title, metadata, created_at, updated_at, version, deleted, message_count)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
    ON CONFLICT (id) DO UPDATE SET user_id = EXCLUDED.user_id, title = EXCLUDED.title, metadata = EXCLUDED.metadata,
      created_at = EXCLUDED.created_at, updated_at = EXCLUDED.updated_at, version = EXCLUDED.version,
      deleted = EXCLUDED.deleted, message_count = EXCLUDED.message_count
    RETURNING id
  ), trimmed AS (
    DELETE FROM messages WHERE conversation_id = $1 AND seq >= $9
  )
  INSERT INTO messages (conversation_id, seq, role, content, created_at)
  SELECT $1, m.seq, m.role, m.content, m.created_at
  FROM unnest($10::integer[], $11::text[], $12::text[], $13::timestamptz[]) AS m(seq, role, content, created_at)
  ON CONFLICT (conversation_id, seq) DO UPDATE SET role = EXCLUDED.role, content = EXCLUDED.content,
    created_at = EXCLUDED.created_at`;

export interface SeedLoopResult {
  docs: number;
  batches: number;
  messages: number;
  elapsedS: number;
  fetchS: number;
  transformS: number;
  upsertS: number;
  /** What the seed's `sleep(1)` per batch would add. */
  sleepS: number;
}

export async function seedLoop(
  legacyUrl: string,
  collection: string,
  databaseUrl: string,
  limit: number,
  beforeClose?: () => void,
): Promise<SeedLoopResult> {
  const mongo = await MongoClient.connect(legacyUrl, { serverSelectionTimeoutMS: 3000 });
  const pg = new Client({ connectionString: databaseUrl, application_name: 'bench-seed-loop' });
  await pg.connect();
  let docs = 0;
  let batches = 0;
  let messages = 0;
  let fetchMs = 0;
  let transformMs = 0;
  let upsertMs = 0;
  let last = '';
  const t0 = performance.now();
  try {
    const cursor = mongo.db().collection(collection).find({}, { batchSize: BATCH, limit });
    for (;;) {
      // fetch_batch: the next 1000 documents (one getMore: the driver's buffer holds one batch).
      const f0 = performance.now();
      const batch: Document[] = [];
      while (batch.length < BATCH) {
        const doc = await cursor.next();
        if (!doc) break;
        batch.push(doc);
      }
      fetchMs += performance.now() - f0;
      if (batch.length === 0) break;
      batches++;
      for (const doc of batch) {
        const x0 = performance.now();
        const id = (doc._id as ObjectId).toHexString();
        if (id <= last) throw new Error(`the data set is not in _id order at ${id}: the seed loop's batches would not be _id ranges`);
        last = id;
        const c = fromLegacy(doc);
        const params = [
          c.id,
          c.userId,
          c.title,
          JSON.stringify(c.metadata),
          c.createdAt,
          c.updatedAt,
          c.version,
          c.deleted,
          c.messages.length,
          c.messages.map((_, i) => i),
          c.messages.map((m) => m.role),
          c.messages.map((m) => m.content),
          c.messages.map((m) => m.createdAt),
        ];
        const u0 = performance.now();
        transformMs += u0 - x0;
        await pg.query(UPSERT, params);
        upsertMs += performance.now() - u0;
        docs++;
        messages += c.messages.length;
      }
    }
    await cursor.close();
    beforeClose?.();
  } finally {
    await mongo.close();
    await pg.end();
  }
  return {
    docs,
    batches,
    messages,
    elapsedS: (performance.now() - t0) / 1000,
    fetchS: fetchMs / 1000,
    transformS: transformMs / 1000,
    upsertS: upsertMs / 1000,
    sleepS: batches,
  };
}

/** One literal fetch_batch query (`_id > x`, sorted, limit 1000) from the middle of the collection. */
export async function literalFetchSeconds(legacyUrl: string, collection: string, afterId: string): Promise<number> {
  const mongo = await MongoClient.connect(legacyUrl, { serverSelectionTimeoutMS: 3000 });
  try {
    const t0 = performance.now();
    await mongo
      .db()
      .collection(collection)
      .find({ _id: { $gt: ObjectId.createFromHexString(afterId) } })
      .sort({ _id: 1 })
      .limit(BATCH)
      .toArray();
    return (performance.now() - t0) / 1000;
  } finally {
    await mongo.close();
  }
}
