/**
 * The reads verification needs from each store, as ports: a streamed scan in `_id` order, and point
 * reads by id for rechecks. Adapters: mongo-verify.source.ts and postgres-verify.source.ts.
 */
import type { VerifyRecord } from './domain/verify-record';

export interface LegacyBatch {
  /** Documents whose `_id` is an ObjectId, ascending. */
  records: VerifyRecord[];
  /**
   * Documents whose `_id` is not an ObjectId. They sort outside the ObjectId range, so they cannot be
   * placed in a chunk; each is compared on its own (record id: its 24-hex string id, or the dead-letter key).
   */
  others: VerifyRecord[];
  /** Nothing is left after this batch. */
  exhausted: boolean;
}

export interface LegacyScan {
  /** Up to `max` ObjectId records (plus any others met on the way). */
  next(max: number): Promise<LegacyBatch>;
  close(): Promise<void>;
}

export interface LegacyVerifySource {
  /**
   * One cursor for the whole walk: from the start (every document whatever its `_id` type) or after an
   * ObjectId (a resumed run; such a cursor only sees ObjectIds, see `otherIdRecords`).
   */
  openScan(afterId: string | null, batchSize: number): LegacyScan;
  /** The documents whose `_id` is not an ObjectId (few, if any), for a resumed scan. */
  otherIdRecords(): AsyncIterable<VerifyRecord>;
  /** The document with this id, as an ObjectId or as a 24-hex string `_id`; null when absent. */
  byId(id: string): Promise<VerifyRecord | null>;
  /** Whether the document with this id is stored under a string `_id` (which the conversation API cannot address). */
  hasStringId(id: string): Promise<boolean>;
}

export interface NewVerifySource {
  /** Up to `limit` records with id > `afterId` (from the start when null), ascending, from one snapshot. */
  page(afterId: string | null, limit: number): Promise<VerifyRecord[]>;
  byIds(ids: readonly string[]): Promise<Map<string, VerifyRecord>>;
}

export const LEGACY_VERIFY_SOURCE = Symbol('LEGACY_VERIFY_SOURCE');
export const NEW_VERIFY_SOURCE = Symbol('NEW_VERIFY_SOURCE');

export const HEX_ID = /^[0-9a-f]{24}$/;
