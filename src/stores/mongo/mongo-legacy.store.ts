/**
 * The legacy store on the official MongoDB driver. Documents are written in the current legacy format
 * (see toLegacy) so the legacy application keeps reading what it expects.
 *
 * Version guard without transactions: every write is a single-document replace whose filter carries
 * the version condition, so it is atomic on the server. A guarded upsert that finds a newer document
 * does not match, tries to insert, and hits the `_id` unique index (E11000): that is read as "stale".
 * `update` writes only the change under the same version filter: an append is a `$push` of one message
 * (and `$set` of the version and `updated`), a header change a `$set`, and the rest of the document stays as it
 * is. That keeps the promise that a document this service wrote is in the current format only when the rest
 * already is: the store remembers, per conversation, the version at which it last saw or wrote the document
 * in the current format (a bounded map, in this process), and a change from any other version (an old-format
 * document never written since, a version this process has not seen) is written whole, as compareAndSet does.
 */
import { Logger } from '@nestjs/common';
import {
  AnyBulkWriteOperation,
  BSON,
  BulkWriteResult,
  Collection,
  Db,
  Document,
  Filter,
  FindCursor,
  MongoBulkWriteError,
  MongoClient,
  MongoServerError,
  MongoWriteConcernError,
  ObjectId,
} from 'mongodb';
import { concernRisks, legacyConcerns } from './legacy-concerns';
import { MonitorWatchdog } from './monitor-watchdog';
import type { Conversation } from '../../model/conversation.model';
import type { LegacyDocument } from '../../model/legacy-document';
import { fromLegacy, toLegacy } from '../../model/legacy-transform';
import { firstNestedArrayPath } from '../../model/json-value';
import { StoreRefusedError } from '../../common/errors';
import type { ListPosition, PutResult, StoreRefusal, WriteShape } from '../conversation-store.port';
import type { LegacyRangeScan, LegacyStore, LegacyWrite, SoftDeleteResult, UpdatedPosition } from '../legacy-store.port';

const DUPLICATE_KEY = 11000;
/**
 * Server errors that refuse a document rather than fail a command: BadValue (FerretDB's "nested arrays are
 * not supported"), BSONObjectTooLarge, DollarPrefixedFieldName, KeyTooLong. The write did not happen.
 */
const REFUSALS = new Set([2, 10334, 52, 17280]);
/** Conversations whose current-format version this process remembers (see the header). */
const FORMAT_MEMORY = 20_000;
const CURSOR_NOT_FOUND = 43;
/** Bound on old string-created documents read for one listing (see listByUser). */
const MAX_STRING_CREATED_PER_USER = 10_000;

function isBefore(c: Conversation, p: ListPosition): boolean {
  const t = c.createdAt.getTime() - p.createdAt.getTime();
  return t < 0 || (t === 0 && c.id < p.id);
}

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

/** A refused document as the API's 4xx (naming the field where it can be found), anything else as it is. */
function classified(err: unknown, c: Conversation): unknown {
  // A write concern error carries the concern's code, and refuses nothing (dependency-errors.ts: legacy unavailable).
  if (!(err instanceof MongoServerError) || err instanceof MongoWriteConcernError) return err;
  if (typeof err.code !== 'number' || !REFUSALS.has(err.code)) return err;
  const nested = /nested arrays/.test(err.message) ? firstNestedArrayPath(c.metadata, 'metadata') : null;
  return new StoreRefusedError(
    'legacy',
    nested ?? 'body',
    nested ? 'cannot hold arrays of arrays' : `refused it: ${err.message.slice(0, 200)}`,
  );
}

export class MongoLegacyStore implements LegacyStore {
  readonly name = 'legacy' as const;
  private readonly collection: Collection<Document>;
  /** id -> a version at which the document is known to be in the current format (insertion order: oldest first). */
  private readonly currentFormat = new Map<string, number>();

  constructor(
    private readonly db: Db,
    collectionName: string,
  ) {
    this.collection = db.collection(collectionName);
  }

  /** The indexes the service's queries need; createIndex is a no-op when an index exists. */
  async ensureIndexes(): Promise<void> {
    await this.collection.createIndex({ updated: 1, _id: 1 }, { name: 'updated_id' });
    await this.collection.createIndex({ user_id: 1, created: -1, _id: -1 }, { name: 'user_created_id' });
    await this.collection.createIndex({ userId: 1, created: -1, _id: -1 }, { name: 'legacy_userId_created_id' });
  }

  async ping(): Promise<void> {
    await this.db.command({ ping: 1 });
  }

  async get(id: string): Promise<Conversation | null> {
    const doc = await this.collection.findOne({ _id: objectId(id) });
    if (!doc) return null;
    const c = fromLegacy(doc);
    if (isCurrentFormat(doc)) this.remember(id, c.version);
    else this.currentFormat.delete(id);
    return c;
  }

  async getRaw(id: string): Promise<LegacyDocument | null> {
    return (await this.collection.findOne({ _id: objectId(id) })) as unknown as LegacyDocument | null;
  }

  /**
   * The dev server (FerretDB v1, see README "The dev server is not MongoDB") cannot store arrays of arrays;
   * MongoDB can. Which one this is, is asked once (buildInfo names FerretDB).
   */
  async refusal(c: Pick<Conversation, 'metadata'>): Promise<StoreRefusal | null> {
    if (!(await this.refusesNestedArrays())) return null;
    const field = firstNestedArrayPath(c.metadata, 'metadata');
    return field ? { field, reason: 'cannot hold arrays of arrays (the dev server, FerretDB v1)' } : null;
  }

  private nestedArrays?: Promise<boolean>;

  private refusesNestedArrays(): Promise<boolean> {
    this.nestedArrays ??= this.db
      .admin()
      .command({ buildInfo: 1 })
      .then((info) => 'ferretdbVersion' in info)
      .catch((err) => {
        // Asked again next time; the write itself meets the outage (or the refusal) and says so.
        this.nestedArrays = undefined;
        throw err;
      });
    return this.nestedArrays;
  }

  async insertNew(c: Conversation): Promise<boolean> {
    try {
      await this.collection.insertOne(this.document(c));
      this.remember(c.id, c.version);
      return true;
    } catch (err) {
      if (isDuplicateKey(err)) return false;
      throw classified(err, c);
    }
  }

  async compareAndSet(c: Conversation, expectedVersion: number): Promise<boolean> {
    const doc = this.document(c);
    try {
      const result = await this.collection.replaceOne(versionEquals(doc._id, expectedVersion), doc);
      return this.wrote(c, result.matchedCount === 1);
    } catch (err) {
      throw classified(err, c);
    }
  }

  /**
   * `appended`: how many messages at the end of `c` are new (several changes applied as one, by a follower,
   * guarded by the version the first was made from); by default one for an append, none for a header change.
   */
  async update(c: Conversation, expectedVersion: number, shape: WriteShape, appended = shape === 'append' ? 1 : 0): Promise<boolean> {
    if (shape === 'replace' || this.currentFormat.get(c.id) !== expectedVersion) return this.compareAndSet(c, expectedVersion);
    try {
      const result = await this.collection.updateOne(versionEquals(objectId(c.id), expectedVersion), changeOf(c, shape, appended));
      return this.wrote(c, result.matchedCount === 1);
    } catch (err) {
      throw classified(err, c);
    }
  }

  /**
   * One `bulkWrite`, unordered. The driver's work per write is most of a small write's cost in this process, and
   * one request carries them all (a follower's batch). A bulk write counts the matched updates but does not say
   * which: when fewer matched than were sent, versions are read back, and an update landed if its document is at
   * its version and time (one state of the source of truth, whoever wrote it there); if not, false, and a repair
   * compares the whole conversation.
   *
   * A write concern error (a majority did not confirm in time, see legacy-concerns.ts) leaves every write
   * that met no error of its own unconfirmed: each is answered with an Error, never as written, so that what
   * follows legacy keeps its record of it until a later attempt confirms it.
   */
  async writeMany(writes: readonly LegacyWrite[]): Promise<Array<boolean | Error>> {
    // A partial update that would have to be a replace is not sent: answered false, as one whose version moved on.
    const sent = writes.flatMap((w, i) => (w.kind === 'update' && w.partial && this.currentFormat.get(w.c.id) !== w.from ? [] : [i]));
    const answers = await this.bulk(sent.map((i) => writes[i]));
    const out: Array<boolean | Error> = writes.map(() => false);
    sent.forEach((i, k) => (out[i] = answers[k]));
    return out;
  }

  private async bulk(writes: readonly LegacyWrite[]): Promise<Array<boolean | Error>> {
    if (writes.length === 0) return [];
    const ops = writes.map((w) => this.operation(w));
    const failed = new Map<number, { code?: number; errmsg?: string }>();
    let result: BulkWriteResult;
    let unconfirmed: string | null = null;
    try {
      result = await this.collection.bulkWrite(ops, { ordered: false });
    } catch (err) {
      if (!(err instanceof MongoBulkWriteError)) throw err;
      result = err.result;
      const errors = Array.isArray(err.writeErrors) ? err.writeErrors : [err.writeErrors];
      for (const e of errors) if (e) failed.set(e.index, { code: e.code, errmsg: e.errmsg });
      const concern = result.getWriteConcernError();
      if (concern) unconfirmed = `${concern.errmsg ?? 'write concern not satisfied'} (code ${concern.code})`;
    }
    const out: Array<boolean | Error> = writes.map((w, i) => {
      const e = failed.get(i);
      if (!e && unconfirmed) return new Error(`legacy did not confirm the write of ${w.c.id}: ${unconfirmed.slice(0, 200)}`);
      if (!e) return true;
      if (w.kind === 'insert' && e.code === DUPLICATE_KEY) return false;
      return new Error(`legacy refused the write of ${w.c.id} (code ${e.code}): ${String(e.errmsg).slice(0, 200)}`);
    });
    const updates = writes.flatMap((w, i) => (w.kind === 'update' && out[i] === true ? [i] : []));
    if (updates.length > 0 && result.matchedCount < updates.length) {
      const docs = await this.collection
        .find({ _id: { $in: updates.map((i) => objectId(writes[i].c.id)) } }, { projection: { v: 1, updated: 1 } })
        .toArray();
      const at = new Map(docs.map((d) => [d._id.toHexString(), d]));
      for (const i of updates) {
        const d = at.get(writes[i].c.id);
        out[i] = d?.v === writes[i].c.version && d.updated instanceof Date && d.updated.getTime() === writes[i].c.updatedAt.getTime();
      }
    }
    writes.forEach((w, i) => this.wrote(w.c, out[i] === true));
    return out;
  }

  /** A write of `writeMany` as a bulk operation, shaped as insertNew and update write it alone. */
  private operation(w: LegacyWrite): AnyBulkWriteOperation<Document> {
    if (w.kind === 'insert') return { insertOne: { document: this.document(w.c) } };
    if (this.currentFormat.get(w.c.id) !== w.from) {
      const doc = this.document(w.c);
      return { replaceOne: { filter: versionEquals(doc._id, w.from), replacement: doc } };
    }
    return { updateOne: { filter: versionEquals(objectId(w.c.id), w.from), update: changeOf(w.c, w.shape, w.appended) } };
  }

  async putIfNewer(c: Conversation): Promise<PutResult> {
    // Nothing is below version 0: the write can only be the first one.
    if (c.version === 0) return (await this.insertNew(c)) ? 'written' : 'stale';
    const doc = this.document(c);
    try {
      const result = await this.collection.replaceOne(versionBelow(doc._id, c.version), doc, { upsert: true });
      return this.wrote(c, result.matchedCount === 1 || result.upsertedCount === 1) ? 'written' : 'stale';
    } catch (err) {
      if (isDuplicateKey(err)) return 'stale';
      throw classified(err, c);
    }
  }

  async removeExact(id: string, expectedVersion: number): Promise<boolean> {
    const result = await this.collection.deleteOne(versionEquals(objectId(id), expectedVersion));
    return result.deletedCount === 1;
  }

  async softDelete(id: string, version: number, at: Date): Promise<SoftDeleteResult> {
    const _id = objectId(id);
    if (version < 1) throw new RangeError('a soft delete is a write: its version is at least 1');
    const result = await this.collection.updateOne(versionBelow(_id, version), { $set: { deleted: true, v: version, updated: at } });
    if (result.matchedCount === 1) return 'written';
    return (await this.collection.countDocuments({ _id }, { limit: 1 })) === 1 ? 'stale' : 'absent';
  }

  /**
   * Newest first by creation. Documents the legacy application wrote long ago hold `created` as an ISO
   * string, which the server neither orders nor compares with Dates (every string sorts after every
   * Date). So Date-created documents are paged by the server, string-created ones (old, and few per
   * user) are read whole and ordered here, and the two are merged.
   */
  async listByUser(userId: string, limit: number, after?: ListPosition): Promise<Conversation[]> {
    const owner: Filter<Document> = { $or: [{ user_id: userId }, { user_id: { $exists: false }, userId }] };
    const live: Filter<Document> = { deleted: { $ne: true } };
    const dated: Filter<Document>[] = [owner, live, { created: { $type: 'date' } }];
    if (after) {
      dated.push({
        $or: [{ created: { $lt: after.createdAt } }, { created: after.createdAt, _id: { $lt: objectId(after.id) } }],
      });
    }
    const [datedDocs, stringDocs] = await Promise.all([
      this.collection.find({ $and: dated }).sort({ created: -1, _id: -1 }).limit(limit).toArray(),
      this.collection
        .find({ $and: [owner, live, { created: { $type: 'string' } }] })
        .limit(MAX_STRING_CREATED_PER_USER)
        .toArray(),
    ]);
    const older = stringDocs.map((d) => fromLegacy(d as unknown as LegacyDocument)).filter((c) => !after || isBefore(c, after));
    return [...datedDocs.map((d) => fromLegacy(d as unknown as LegacyDocument)), ...older]
      .sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime() || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0))
      .slice(0, limit);
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

  async scanChangedOrInserted(limit: number, updatedAfter: Date, idAfter: string): Promise<LegacyDocument[]> {
    const filter: Filter<Document> = { $or: [{ updated: { $gt: updatedAfter } }, { _id: { $gt: objectId(idAfter) } }] };
    return (await this.collection.find(filter).limit(limit).toArray()) as unknown as LegacyDocument[];
  }

  rawJson(doc: LegacyDocument): Record<string, unknown> {
    return BSON.EJSON.serialize(doc, { relaxed: false });
  }

  async findRawByJsonIds(ids: unknown[]): Promise<LegacyDocument[]> {
    if (ids.length === 0) return [];
    const values = ids.map((id) => (BSON.EJSON.deserialize({ id }, { relaxed: false }) as { id: unknown }).id);
    const docs = await this.collection.find({ _id: { $in: values } } as Filter<Document>).toArray();
    return docs as unknown as LegacyDocument[];
  }

  /**
   * From the collection's statistics: MongoDB keeps the count in its metadata, and FerretDB answers
   * collStats from table statistics where its `count` command would decode every document.
   */
  async estimatedCount(): Promise<number> {
    try {
      const stats = await this.db.command({ collStats: this.collection.collectionName });
      const count = Number(stats.count);
      if (Number.isSafeInteger(count) && count >= 0) return count;
    } catch {
      /* a server without collStats: ask for the estimate instead */
    }
    return this.collection.estimatedDocumentCount();
  }

  async averageDocumentBytes(): Promise<number | null> {
    try {
      const stats = await this.db.command({ collStats: this.collection.collectionName });
      const avg = Number(stats.avgObjSize ?? (Number(stats.count) > 0 ? Number(stats.size) / Number(stats.count) : NaN));
      return Number.isFinite(avg) && avg > 0 ? avg : null;
    } catch {
      return null;
    }
  }

  async *scanIdSpace(batchSize: number, afterId?: string): AsyncIterable<Array<string | null>> {
    // No sort: a server without an `_id` index range scan would sort whole documents in memory to
    // honour it. The hint walks the `_id` index where there is one (MongoDB: a covered index scan).
    const filter: Filter<Document> = afterId ? { _id: { $gt: objectId(afterId) } } : {};
    const cursor = this.collection.find(filter, { projection: { _id: 1 }, hint: { _id: 1 }, batchSize });
    try {
      while (await cursor.hasNext()) {
        yield cursor.readBufferedDocuments().map((d) => (d._id instanceof ObjectId ? d._id.toHexString() : null));
      }
    } finally {
      await cursor.close().catch(() => undefined);
    }
  }

  openRangeScan(afterId: string | null, untilId: string | null, batchSize: number): LegacyRangeScan {
    const until = untilId ? objectId(untilId) : null;
    return new MongoRangeScan((position) => {
      const after = position.lastId instanceof ObjectId ? position.lastId : afterId ? objectId(afterId) : null;
      const range: Record<string, unknown> = after ? { $gt: after } : { $type: 'objectId' };
      if (until) range.$lte = until;
      return this.collection
        .find({ _id: range } as Filter<Document>, { raw: true })
        .sort({ _id: 1 })
        .batchSize(batchSize);
    });
  }

  openOtherIdsScan(skip: number, batchSize: number): LegacyRangeScan {
    // Few documents and no order key shared with ObjectIds: the position is how many were taken.
    return new MongoRangeScan((position) =>
      this.collection
        .find({ _id: { $not: { $type: 'objectId' } } }, { raw: true })
        .sort({ _id: 1 })
        .skip(skip + position.taken)
        .batchSize(batchSize),
    );
  }

  /** After a write of `c` (whole, or a change on a current-format document): it is current at c.version. */
  private wrote(c: Conversation, landed: boolean): boolean {
    if (landed) this.remember(c.id, c.version);
    return landed;
  }

  private remember(id: string, version: number): void {
    this.currentFormat.delete(id);
    this.currentFormat.set(id, version);
    if (this.currentFormat.size > FORMAT_MEMORY) this.currentFormat.delete(this.currentFormat.keys().next().value!);
  }

  private document(c: Conversation): Document & { _id: ObjectId } {
    const out = toLegacy(c);
    return { ...out, _id: objectId(out._id) };
  }
}

const CURRENT_KEYS = new Set(['_id', 'user_id', 'title', 'messages', 'meta', 'created', 'updated', 'v', 'deleted']);
const ROLES = new Set(['user', 'assistant', 'system', 'tool']);

/** Exactly what toLegacy writes: the current field names, Dates, lower-case roles, every field present. */
function isCurrentFormat(doc: Document): boolean {
  for (const k of Object.keys(doc)) if (!CURRENT_KEYS.has(k)) return false;
  if (typeof doc.user_id !== 'string' || !('title' in doc) || !(doc.created instanceof Date) || !(doc.updated instanceof Date))
    return false;
  if (typeof doc.v !== 'number' || doc.meta === null || typeof doc.meta !== 'object' || !Array.isArray(doc.messages)) return false;
  if ('deleted' in doc && doc.deleted !== true) return false;
  for (const m of doc.messages as Document[]) {
    if (
      m === null ||
      typeof m !== 'object' ||
      !ROLES.has(m.role) ||
      typeof m.text !== 'string' ||
      !(m.ts instanceof Date) ||
      Object.keys(m).length !== 3
    )
      return false;
  }
  return true;
}

/** The update operators of a change (see update): `appended` messages at the end of `c` are pushed. */
function changeOf(c: Conversation, shape: 'append' | 'header', appended: number): Document {
  if (appended > c.messages.length || appended < 0)
    throw new RangeError(`${appended} appended messages, but the conversation has ${c.messages.length}`);
  // Only the new messages are converted: the rest of the conversation is not this write's business.
  const out = toLegacy({ ...c, messages: c.messages.slice(c.messages.length - appended) });
  const set: Document = { v: out.v, updated: out.updated };
  if (shape === 'header') {
    set.title = out.title;
    set.meta = out.meta;
    if (out.deleted) set.deleted = true;
  }
  const update: Document = { $set: set };
  if (appended > 0) update.$push = { messages: appended === 1 ? out.messages[0] : { $each: out.messages } };
  return update;
}

interface ScanPosition {
  /** `_id` of the last document taken (returned or skipped); undefined before the first. */
  lastId: unknown;
  taken: number;
}

/**
 * One cursor, read batch by batch, so that a read can stop at a bound (`endAt`, a number of bytes) and the next
 * read continue from the same place. The cursor is raw: a server batch stays as the bytes it came in, and each
 * document is decoded when it is next in line (one at a time, the size known exactly), so memory holds one raw
 * server batch and the documents handed out, not a whole decoded batch besides. A cursor the server dropped
 * (idle too long while a run was throttled) is reopened where it stopped.
 */
class MongoRangeScan implements LegacyRangeScan {
  private cursor: FindCursor<Document> | null = null;
  /** The next document, decoded, with its size; null when none is decoded yet. */
  private head: { doc: Document; bytes: number } | null = null;
  private exhausted = false;
  private closed = false;
  private readonly position: ScanPosition = { lastId: undefined, taken: 0 };
  stoppedAtBytes = false;
  lastBytes = 0;
  lastFetches = { count: 0, ms: 0 };

  constructor(private readonly openCursor: (from: ScanPosition) => FindCursor<Document>) {}

  async next(max: number, endAt?: string, maxBytes = Number.POSITIVE_INFINITY): Promise<LegacyDocument[]> {
    const end = endAt ? objectId(endAt) : null;
    const out: LegacyDocument[] = [];
    let bytes = 0;
    this.stoppedAtBytes = false;
    this.lastFetches = { count: 0, ms: 0 };
    while (out.length < max) {
      if (out.length > 0 && bytes >= maxBytes) {
        this.stoppedAtBytes = true;
        break;
      }
      const next = await this.peek();
      if (next === undefined || (end && !(next.doc._id instanceof ObjectId && Buffer.compare(next.doc._id.id, end.id) <= 0))) break;
      bytes += next.bytes;
      out.push(this.take() as unknown as LegacyDocument);
    }
    this.lastBytes = bytes;
    return out;
  }

  async skipThrough(id: string): Promise<void> {
    const bound = objectId(id);
    for (;;) {
      const doc = (await this.peek())?.doc;
      if (doc === undefined || !(doc._id instanceof ObjectId) || Buffer.compare(doc._id.id, bound.id) > 0) return;
      this.take();
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    this.head = null;
    await this.cursor?.close().catch(() => undefined);
  }

  private take(): Document {
    const { doc } = this.head!;
    this.head = null;
    this.position.lastId = doc._id;
    this.position.taken++;
    return doc;
  }

  private async peek(): Promise<{ doc: Document; bytes: number } | undefined> {
    while (this.head === null) {
      if (this.exhausted || this.closed) return undefined;
      if (this.cursor && this.cursor.bufferedCount() > 0) {
        const [raw] = this.cursor.readBufferedDocuments(1) as unknown as Uint8Array[];
        this.head = { doc: BSON.deserialize(raw), bytes: raw.byteLength };
      } else if (!(await this.hasNext())) this.exhausted = true;
    }
    return this.head;
  }

  private async hasNext(): Promise<boolean> {
    // With the cursor open and its batch read, `hasNext` waits for the server's next batch (getMore).
    const getMore = this.cursor !== null;
    this.cursor ??= this.openCursor(this.position);
    const t0 = performance.now();
    try {
      const more = await this.cursor.hasNext();
      if (getMore && more) {
        this.lastFetches.count++;
        this.lastFetches.ms += performance.now() - t0;
      }
      return more;
    } catch (err) {
      if (!(err instanceof MongoServerError && err.code === CURSOR_NOT_FOUND) || this.closed) throw err;
      await this.cursor.close().catch(() => undefined);
      this.cursor = this.openCursor(this.position);
      return this.cursor.hasNext();
    }
  }
}

/**
 * `slowCommandMs` > 0 logs every legacy command that took longer, with its shape (the filter, sort and
 * limit, not the documents): where the legacy store's time goes when it is the bottleneck.
 */
export async function connectLegacy(url: string, slowCommandMs = 0): Promise<MongoClient> {
  const timeouts = { connectTimeoutMS: 3000, heartbeatFrequencyMS: 10_000 };
  const client = new MongoClient(url, {
    serverSelectionTimeoutMS: 3000,
    ...timeouts,
    maxPoolSize: 50,
    appName: 'legacy-migration-service',
    monitorCommands: slowCommandMs > 0,
    ...legacyConcerns(url),
  });
  for (const risk of concernRisks(client.options)) new Logger('LegacyStore').warn(`the legacy connection string: ${risk}`);
  if (slowCommandMs > 0) logSlowCommands(client, slowCommandMs);
  await client.connect();
  const watchdog = new MonitorWatchdog(client, timeouts);
  monitorWatchdogs.set(client, watchdog);
  return client;
}

const monitorWatchdogs = new WeakMap<MongoClient, MonitorWatchdog>();

/** Closes a client from `connectLegacy` for good (its watchdog stops too). */
export async function closeLegacy(client: MongoClient): Promise<void> {
  monitorWatchdogs.get(client)?.stop();
  await client.close();
}

function logSlowCommands(client: MongoClient, thresholdMs: number): void {
  const logger = new Logger('LegacySlowCommands');
  const started = new Map<number, Record<string, unknown>>();
  client.on('commandStarted', (e) => {
    const c = e.command as Record<string, unknown>;
    const shape: Record<string, unknown> = { command: e.commandName };
    for (const k of ['filter', 'sort', 'limit', 'batchSize', 'q', 'updates', 'deletes'])
      if (k in c) shape[k] = k === 'updates' || k === 'deletes' ? (c[k] as unknown[]).length : c[k];
    started.set(e.requestId, shape);
  });
  const done = (e: { requestId: number; duration: number; commandName: string }, failed: boolean) => {
    const shape = started.get(e.requestId);
    started.delete(e.requestId);
    if (e.duration < thresholdMs) return;
    logger.warn({ msg: 'slow legacy command', ms: Math.round(e.duration), failed, ...(shape ?? { command: e.commandName }) });
  };
  client.on('commandSucceeded', (e) => done(e, false));
  client.on('commandFailed', (e) => done(e, true));
}
