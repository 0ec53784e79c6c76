/**
 * Verification's reads of the legacy collection. A segment's walk is ONE cursor over its `_id` range in `_id`
 * order, not a query per page: on MongoDB one cursor is the cheapest way through the `_id` index, and a server
 * that seeks by `_id` poorly costs one seek per segment instead of one per page. Point reads (rechecks) are
 * `findOne` by `_id`, which every server answers from its index; `$in` is avoided for the same reason as paging.
 */
import { BSON, Collection, Document, Filter, FindCursor, MongoServerError, ObjectId } from 'mongodb';
import type { LegacyDocument } from '../model/legacy-document';
import { deadLetterKey } from '../model/raw-json';
import { legacyRecord, VerifyRecord } from './domain/verify-record';
import { HEX_ID, LegacyBatch, LegacyScan, LegacyVerifySource } from './verify-sources';

const CURSOR_NOT_FOUND = 43;

/** The record of a document whose `_id` is not an ObjectId, under its dead-letter key. */
function otherRecord(doc: Document): VerifyRecord {
  const key =
    typeof doc._id === 'string' && HEX_ID.test(doc._id)
      ? doc._id
      : deadLetterKey(BSON.EJSON.serialize({ _id: doc._id }, { relaxed: false })._id);
  return legacyRecord(key, doc as unknown as LegacyDocument);
}

class MongoScan implements LegacyScan {
  private cursor: FindCursor<Document>;
  private lastId: ObjectId | null;
  private readonly untilId: ObjectId | null;

  constructor(
    private readonly collection: Collection<Document>,
    afterId: string | null,
    untilId: string | null,
    private readonly batchSize: number,
  ) {
    this.lastId = afterId ? ObjectId.createFromHexString(afterId) : null;
    this.untilId = untilId ? ObjectId.createFromHexString(untilId) : null;
    this.cursor = this.open();
  }

  async next(max: number): Promise<LegacyBatch> {
    const out: LegacyBatch = { records: [], exhausted: false };
    while (out.records.length < max) {
      if (!(await this.hasNext())) {
        out.exhausted = true;
        break;
      }
      for (const doc of this.cursor.readBufferedDocuments(max - out.records.length)) {
        const id = doc._id as ObjectId;
        this.lastId = id;
        out.records.push(legacyRecord(id.toHexString(), doc as unknown as LegacyDocument, false));
      }
    }
    return out;
  }

  async close(): Promise<void> {
    await this.cursor.close().catch(() => undefined);
  }

  /** ObjectIds only (MongoDB compares values of one type, and `$type` says which when there is no lower bound). */
  private open(): FindCursor<Document> {
    const range: Record<string, unknown> = this.lastId ? { $gt: this.lastId } : { $type: 'objectId' };
    if (this.untilId) range.$lte = this.untilId;
    return this.collection
      .find({ _id: range } as Filter<Document>)
      .sort({ _id: 1 })
      .batchSize(this.batchSize);
  }

  /** A cursor the server dropped (idle too long while the run paused) is reopened where it stopped. */
  private async hasNext(): Promise<boolean> {
    try {
      return await this.cursor.hasNext();
    } catch (err) {
      if (!(err instanceof MongoServerError && err.code === CURSOR_NOT_FOUND)) throw err;
      await this.close();
      this.cursor = this.open();
      return this.cursor.hasNext();
    }
  }
}

export class MongoVerifySource implements LegacyVerifySource {
  constructor(private readonly collection: Collection<Document>) {}

  openScan(afterId: string | null, untilId: string | null, batchSize: number): LegacyScan {
    return new MongoScan(this.collection, afterId, untilId, batchSize);
  }

  async *otherIdRecords(): AsyncIterable<VerifyRecord> {
    const cursor = this.collection.find({ _id: { $not: { $type: 'objectId' } } }).sort({ _id: 1 });
    try {
      for await (const doc of cursor) yield otherRecord(doc);
    } finally {
      await cursor.close();
    }
  }

  async byId(id: string): Promise<VerifyRecord | null> {
    const doc =
      (await this.collection.findOne({ _id: ObjectId.createFromHexString(id) })) ?? (await this.collection.findOne({ _id: id as never }));
    if (doc === null) return null;
    return doc._id instanceof ObjectId ? legacyRecord(id, doc as unknown as LegacyDocument) : otherRecord(doc);
  }

  async hasStringId(id: string): Promise<boolean> {
    // findOne, not countDocuments: an aggregation is not answered from the `_id` index by every server.
    return (await this.collection.findOne({ _id: id as never }, { projection: { _id: 1 } })) !== null;
  }
}
