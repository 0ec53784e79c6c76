/**
 * Reads the legacy collection for the archive with ONE cursor, `find({}).sort({_id: 1})`, streamed to
 * the end: a server that cannot seek by `_id` (FerretDB v1) would make paged `$gt` queries quadratic,
 * and on MongoDB one cursor walks the `_id` index once. The cursor is not resumed after a failure: ids
 * of mixed BSON types have no single `$gt` that continues the sort order, so a failed archive is rerun.
 */
import type { Collection, Db, Document } from 'mongodb';
import { RAW_READ_OPTIONS } from './archive-format';
import type { ArchiveSource } from './archive-source.port';

export class MongoArchiveSource implements ArchiveSource {
  readonly database: string;
  private readonly col: Collection<Document>;

  constructor(
    db: Db,
    readonly collection: string,
    private readonly batchSize = 1000,
  ) {
    this.col = db.collection(collection);
    this.database = db.databaseName;
  }

  estimatedCount(): Promise<number> {
    return this.col.estimatedDocumentCount();
  }

  count(): Promise<number> {
    return this.col.countDocuments({});
  }

  async *documents(): AsyncIterable<Document> {
    const cursor = this.col.find({}, { ...RAW_READ_OPTIONS, sort: { _id: 1 }, batchSize: this.batchSize });
    try {
      for await (const doc of cursor) yield doc;
    } finally {
      await cursor.close().catch(() => undefined);
    }
  }
}
