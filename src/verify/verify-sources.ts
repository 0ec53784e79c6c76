/**
 * The reads verification needs from each store, as ports: a streamed scan in `_id` order, and point
 * reads by id for rechecks. Adapters: mongo-verify.source.ts and postgres-verify.source.ts.
 */
import type { VerifyRecord } from './domain/verify-record';

export interface LegacyBatch {
  /** Documents whose `_id` is an ObjectId, ascending. */
  records: VerifyRecord[];
  /** Nothing is left in the scan's range after this batch. */
  exhausted: boolean;
}

export interface LegacyScan {
  /** Up to `max` records. */
  next(max: number): Promise<LegacyBatch>;
  close(): Promise<void>;
}

export interface LegacyVerifySource {
  /**
   * One cursor over the documents whose `_id` is an ObjectId after `afterId` up to and including `untilId` (null:
   * from the first, to the last), in `_id` order.
   */
  openScan(afterId: string | null, untilId: string | null, batchSize: number): LegacyScan;
  /**
   * The documents whose `_id` is not an ObjectId (few, if any). They sort outside the ObjectId range, so no segment
   * holds them; each is compared on its own (record id: its 24-hex string id, or the dead-letter key).
   */
  otherIdRecords(): AsyncIterable<VerifyRecord>;
  /** The document with this id, as an ObjectId or as a 24-hex string `_id`; null when absent. */
  byId(id: string): Promise<VerifyRecord | null>;
  /** Whether the document with this id is stored under a string `_id` (which the conversation API cannot address). */
  hasStringId(id: string): Promise<boolean>;
}

export interface NewVerifySource {
  /**
   * Up to `limit` records with id > `afterId` (from the start when null) and <= `untilId` (to the end when null),
   * ascending, from one snapshot.
   */
  page(afterId: string | null, untilId: string | null, limit: number): Promise<VerifyRecord[]>;
  /**
   * Ids after `afterId` that split the rows after it into `parts(rows)` parts of about equal size, ascending (one
   * fewer than the parts; fewer when there are fewer rows than parts).
   */
  splitPoints(afterId: string | null, parts: (rows: number) => number): Promise<string[]>;
  byIds(ids: readonly string[]): Promise<Map<string, VerifyRecord>>;
}

export const LEGACY_VERIFY_SOURCE = Symbol('LEGACY_VERIFY_SOURCE');
export const NEW_VERIFY_SOURCE = Symbol('NEW_VERIFY_SOURCE');

export const HEX_ID = /^[0-9a-f]{24}$/;
