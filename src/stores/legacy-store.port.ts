import type { LegacyDocument } from '../model/legacy-document';
import type { Conversation } from '../model/conversation.model';
import type { ConversationStore, WriteShape } from './conversation-store.port';

/**
 * One guarded write in a `writeMany`: insert `c` (it must not exist yet), or `update` (as LegacyStore.update: the
 * change to `c`, on exactly version `from`, with `appended` new messages at its end).
 */
export type LegacyWrite =
  | { kind: 'insert'; c: Conversation }
  | {
      kind: 'update';
      c: Conversation;
      from: number;
      shape: 'append' | 'header';
      appended: number;
      /**
       * `c` holds only the header and the `appended` messages (appends made on the head, see follow-plan.ts): never
       * written whole, so not written at all where the update would have to replace a document not known to be in the
       * current format (writeMany answers false, and a repair copies the conversation).
       */
      partial?: boolean;
    };

/**
 * The legacy store: the conversation operations plus the raw scans the sync engine needs. Scans
 * return documents as stored (not transformed) so that an unreadable one can be dead-lettered with
 * its raw form instead of being lost in a transform error.
 */
export interface LegacyStore extends ConversationStore {
  readonly name: 'legacy';
  /**
   * ConversationStore.update; `appended` messages at the end of `c` are new (by default one for an append,
   * none for a header change): several changes applied as one by a follower, on the version the first was made from.
   */
  update(c: Conversation, expectedVersion: number, shape: WriteShape, appended?: number): Promise<boolean>;
  /**
   * Several guarded writes (to different conversations) in one request, unordered: one that fails does not stop
   * the others. Per write, in order: true it landed, false its guard did not hold (the document exists, or is not
   * at that version), or the error that failed it. Rejects when the request itself failed: then any of them may
   * have landed, as after a timeout.
   */
  writeMany(writes: readonly LegacyWrite[]): Promise<Array<boolean | Error>>;
  /** Up to `limit` raw documents with `_id` > `afterId` (all when undefined) and <= `untilId`, in `_id` order. */
  scanById(limit: number, afterId?: string, untilId?: string): Promise<LegacyDocument[]>;
  /**
   * Up to `limit` raw documents whose `updated` is after the watermark, ordered by (`updated`, `_id`).
   * The watermark is a position (time and id) so that many documents with one timestamp page correctly.
   */
  scanByUpdated(limit: number, since: UpdatedPosition): Promise<LegacyDocument[]>;
  /**
   * Up to `limit` raw documents changed after `updatedAfter` or with an ObjectId `_id` above `idAfter`, in
   * no particular order: catch-up's one query for a short tail (an index union on MongoDB; one pass over
   * the collection on a server that cannot use indexes). Fewer than `limit` means that is all of them.
   */
  scanChangedOrInserted(limit: number, updatedAfter: Date, idAfter: string): Promise<LegacyDocument[]>;
  /** The raw document as JSON that keeps every type (Extended JSON, canonical), for dead letters. */
  rawJson(doc: LegacyDocument): Record<string, unknown>;
  /** Raw documents whose `_id` is one of `ids`, each given as `rawJson(doc)._id`. */
  findRawByJsonIds(ids: unknown[]): Promise<LegacyDocument[]>;
  /** Soft delete: the record stays with `deleted: true` at the given version, if that is newer. */
  softDelete(id: string, version: number, at: Date): Promise<SoftDeleteResult>;
  /** Raw document count, for progress reporting. */
  estimatedCount(): Promise<number>;
  /** The collection's mean document size in bytes (from its statistics), or null when the server cannot say. */
  averageDocumentBytes(): Promise<number | null>;
  ping(): Promise<void>;
  /**
   * Every `_id` once, in whatever order the server reads them cheapest (the `_id` index on MongoDB, the
   * table on servers without one), projected, as batches: hex for an ObjectId, null for any other type.
   * Only ObjectIds above `afterId` when it is given. The backfill's split counts ids from it.
   */
  scanIdSpace(batchSize: number, afterId?: string): AsyncIterable<Array<string | null>>;
  /**
   * ONE cursor over the ObjectId documents in (`afterId`, `untilId`], in `_id` order, read batch by batch
   * (`batchSize` documents per server batch). A server may do all its work (a sort) when the cursor opens, so a
   * reader keeps one open for as long as it reads the interval rather than querying per batch.
   */
  openRangeScan(afterId: string | null, untilId: string | null, batchSize: number): LegacyRangeScan;
  /** ONE cursor over the documents whose `_id` is not an ObjectId, in `_id` order, after skipping `skip`. */
  openOtherIdsScan(skip: number, batchSize: number): LegacyRangeScan;
}

/** An open, ordered read of the legacy store (see openRangeScan). Not safe for concurrent `next` calls. */
export interface LegacyRangeScan {
  /**
   * Up to `max` raw documents, in order. With `endAt` (an ObjectId as hex) it stops before the first
   * document above it, which the next call returns. Fewer than `max` means the end (of `endAt` or of
   * the scan) was reached, unless `maxBytes` stopped it first: then `full` is set (more may follow).
   * Documents are decoded only as they are returned, so a server batch costs its raw size until read.
   */
  next(max: number, endAt?: string, maxBytes?: number): Promise<LegacyDocument[]>;
  /** Whether the last `next` stopped at `maxBytes` rather than at `max` or the end. */
  readonly stoppedAtBytes: boolean;
  /** BSON bytes of the documents the last `next` returned. */
  readonly lastBytes: number;
  /**
   * The server round trips (getMore) the last `next` waited for and their time: none when every document came
   * from the batch the cursor already held. The query that opens the cursor (or reopens it) is not counted: its
   * time is the server's setup (a sort on some servers), not the latency of reading on. This, not the time of a
   * `next`, is the legacy store's read latency: a page served from the buffer takes milliseconds, one that waits
   * for the server may take a second, and the same server gives both.
   */
  readonly lastFetches: { count: number; ms: number };
  /** Drops every document up to and including `id` (hex) without returning it. */
  skipThrough(id: string): Promise<void>;
  close(): Promise<void>;
}

export type SoftDeleteResult = 'written' | 'stale' | 'absent';

export interface UpdatedPosition {
  updated: Date;
  id?: string;
}
