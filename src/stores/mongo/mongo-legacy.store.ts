/**
 * The legacy store on the official MongoDB driver. Documents are written in the current legacy format
 * (see toLegacy) so the legacy application keeps reading what it expects.
 *
 * Version guard without transactions: every write is a single-document replace whose filter carries
 * the version condition, so it is atomic on the server. A guarded upsert that finds a newer document
 * does not match, tries to insert, and hits the `_id` unique index (E11000): that is read as "stale".
 */
import { Collection, Db, Document, Filter, MongoClient, MongoServerError, ObjectId } from 'mongodb';
import type { Conversation } from '../../conversations/domain/conversation.model';
import type { LegacyDocument } from '../../conversations/domain/legacy-document';
import { fromLegacy, toLegacy } from '../../conversations/domain/legacy-transform';
import type { ListPosition, PutResult } from '../conversation-store.port';
import type { LegacyStore, SoftDeleteResult, UpdatedPosition } from '../legacy-store.port';

const DUPLICATE_KEY = 11000;

export function objectId(id: string): ObjectId {
  return ObjectId.createFromHexString(id);
}

/*
 * Filters keep `_id` as a top-level equality next to the version condition: an upsert takes the new
 * document's `_id` from there (FerretDB does not look inside `$and`, and would invent an id).
 */

/** Documents with this id whose version (missing means 0) equals `v`. */
function versionEquals(_id: ObjectId, v: number): Filter<Document> {
  return v === 0 ? { _id, $or: [{ v: 0 }, { v: { $exists: false } }] } : { _id, v };
}

/** Documents with this id whose version (missing means 0) is below `v` (v > 0). */
function versionBelow(_id: ObjectId, v: number): Filter<Document> {
  return { _id, $or: [{ v: { $lt: v } }, { v: { $exists: false } }] };
}

function isDuplicateKey(err: unknown): boolean {
  return err instanceof MongoServerError && err.code === DUPLICATE_KEY;
}

/**
 * MongoDB applies a filtered single-document write atomically; FerretDB v1 (local runs and tests)
 * reads the matching document and writes it back in two steps, so two concurrent compare-and-sets
 * can both succeed. Against FerretDB, writes to one document are therefore serialised per process.
 */
class KeyedLock {
  private readonly tails = new Map<string, Promise<unknown>>();

  run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    const next = previous.then(fn, fn);
    const tail = next.catch(() => undefined);
    this.tails.set(key, tail);
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return next;
  }
}

export class MongoLegacyStore implements LegacyStore {
  readonly name = 'legacy' as const;
  private readonly collection: Collection<Document>;
  private lock?: KeyedLock;

  constructor(private readonly db: Db, collectionName: string) {
    this.collection = db.collection(collectionName);
  }

  /** The indexes the service's queries need; createIndex is a no-op when an index exists. */
  async ensureIndexes(): Promise<void> {
    await this.collection.createIndex({ updated: 1, _id: 1 }, { name: 'updated_id' });
    await this.collection.createIndex({ user_id: 1, created: -1, _id: -1 }, { name: 'user_created_id' });
    await this.collection.createIndex({ userId: 1, created: -1, _id: -1 }, { name: 'legacy_userId_created_id' });
  }

  /** Detects a server without atomic filtered writes (FerretDB) and serialises writes per document for it. */
  async detectServer(): Promise<'mongodb' | 'ferretdb'> {
    const info = await this.db.admin().command({ buildInfo: 1 });
    const ferret = 'ferretdbVersion' in info;
    this.lock = ferret ? new KeyedLock() : undefined;
    return ferret ? 'ferretdb' : 'mongodb';
  }

  private serial<T>(id: string, fn: () => Promise<T>): Promise<T> {
    return this.lock ? this.lock.run(id, fn) : fn();
  }

  async ping(): Promise<void> {
    await this.db.command({ ping: 1 });
  }

  async get(id: string): Promise<Conversation | null> {
    const doc = await this.collection.findOne({ _id: objectId(id) });
    return doc ? fromLegacy(doc as unknown as LegacyDocument) : null;
  }

  async getRaw(id: string): Promise<LegacyDocument | null> {
    return (await this.collection.findOne({ _id: objectId(id) })) as unknown as LegacyDocument | null;
  }

  async insertNew(c: Conversation): Promise<boolean> {
    return this.serial(c.id, () => this.insertUnlocked(c));
  }

  private async insertUnlocked(c: Conversation): Promise<boolean> {
    try {
      await this.collection.insertOne(this.document(c));
      return true;
    } catch (err) {
      if (isDuplicateKey(err)) return false;
      throw err;
    }
  }

  async compareAndSet(c: Conversation, expectedVersion: number): Promise<boolean> {
    return this.serial(c.id, () => this.compareAndSetUnlocked(c, expectedVersion));
  }

  private async compareAndSetUnlocked(c: Conversation, expectedVersion: number): Promise<boolean> {
    const doc = this.document(c);
    const result = await this.collection.replaceOne(versionEquals(doc._id, expectedVersion), doc);
    return result.matchedCount === 1;
  }

  async putIfNewer(c: Conversation): Promise<PutResult> {
    return this.serial(c.id, () => this.putIfNewerUnlocked(c));
  }

  private async putIfNewerUnlocked(c: Conversation): Promise<PutResult> {
    // Nothing is below version 0: the write can only be the first one.
    if (c.version === 0) return (await this.insertUnlocked(c)) ? 'written' : 'stale';
    const doc = this.document(c);
    try {
      const result = await this.collection.replaceOne(versionBelow(doc._id, c.version), doc, { upsert: true });
      return result.matchedCount === 1 || result.upsertedCount === 1 ? 'written' : 'stale';
    } catch (err) {
      if (isDuplicateKey(err)) return 'stale';
      throw err;
    }
  }

  async removeExact(id: string, expectedVersion: number): Promise<boolean> {
    return this.serial(id, async () => {
        const result = await this.collection.deleteOne(versionEquals(objectId(id), expectedVersion));
      return result.deletedCount === 1;
    });
  }

  async softDelete(id: string, version: number, at: Date): Promise<SoftDeleteResult> {
    return this.serial(id, () => this.softDeleteUnlocked(id, version, at));
  }

  private async softDeleteUnlocked(id: string, version: number, at: Date): Promise<SoftDeleteResult> {
    const _id = objectId(id);
    if (version < 1) throw new RangeError('a soft delete is a write: its version is at least 1');
    const result = await this.collection.updateOne(
      versionBelow(_id, version),
      { $set: { deleted: true, v: version, updated: at } },
    );
    if (result.matchedCount === 1) return 'written';
    return (await this.collection.countDocuments({ _id }, { limit: 1 })) === 1 ? 'stale' : 'absent';
  }

  async listByUser(userId: string, limit: number, after?: ListPosition): Promise<Conversation[]> {
    const clauses: Filter<Document>[] = [
      { $or: [{ user_id: userId }, { user_id: { $exists: false }, userId }] },
      { deleted: { $ne: true } },
    ];
    if (after) {
      clauses.push({
        $or: [{ created: { $lt: after.createdAt } }, { created: after.createdAt, _id: { $lt: objectId(after.id) } }],
      });
    }
    const docs = await this.collection.find({ $and: clauses }).sort({ created: -1, _id: -1 }).limit(limit).toArray();
    return docs.map((d) => fromLegacy(d as unknown as LegacyDocument));
  }

  async scanById(limit: number, afterId?: string, untilId?: string): Promise<LegacyDocument[]> {
    const range: Record<string, ObjectId> = {};
    if (afterId) range.$gt = objectId(afterId);
    if (untilId) range.$lte = objectId(untilId);
    const filter = Object.keys(range).length > 0 ? { _id: range } : {};
    const docs = await this.collection.find(filter).sort({ _id: 1 }).limit(limit).toArray();
    return docs as unknown as LegacyDocument[];
  }

  async scanByUpdated(limit: number, since: UpdatedPosition): Promise<LegacyDocument[]> {
    const filter: Filter<Document> = since.id
      ? { $or: [{ updated: { $gt: since.updated } }, { updated: since.updated, _id: { $gt: objectId(since.id) } }] }
      : { updated: { $gt: since.updated } };
    const docs = await this.collection.find(filter).sort({ updated: 1, _id: 1 }).limit(limit).toArray();
    return docs as unknown as LegacyDocument[];
  }

  async estimatedCount(): Promise<number> {
    return this.collection.estimatedDocumentCount();
  }

  private document(c: Conversation): Document & { _id: ObjectId } {
    const out = toLegacy(c);
    return { ...out, _id: objectId(out._id) };
  }
}

export async function connectLegacy(url: string): Promise<MongoClient> {
  const client = new MongoClient(url, {
    serverSelectionTimeoutMS: 3000,
    connectTimeoutMS: 3000,
    maxPoolSize: 50,
    appName: 'legacy-migration-service',
  });
  await client.connect();
  return client;
}
