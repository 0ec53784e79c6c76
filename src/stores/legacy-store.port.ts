import type { LegacyDocument } from '../conversations/domain/legacy-document';
import type { ConversationStore } from './conversation-store.port';

/**
 * The legacy store: the conversation operations plus the raw scans the sync engine needs. Scans
 * return documents as stored (not transformed) so that an unreadable one can be dead-lettered with
 * its raw form instead of being lost in a transform error.
 */
export interface LegacyStore extends ConversationStore {
  readonly name: 'legacy';
  /** Up to `limit` raw documents with `_id` > `afterId` (all when undefined) and <= `untilId`, in `_id` order. */
  scanById(limit: number, afterId?: string, untilId?: string): Promise<LegacyDocument[]>;
  /**
   * Up to `limit` raw documents whose `updated` is after the watermark, ordered by (`updated`, `_id`).
   * The watermark is a position (time and id) so that many documents with one timestamp page correctly.
   */
  scanByUpdated(limit: number, since: UpdatedPosition): Promise<LegacyDocument[]>;
  /** Soft delete: the record stays with `deleted: true` at the given version, if that is newer. */
  softDelete(id: string, version: number, at: Date): Promise<SoftDeleteResult>;
  /** Raw document count, for progress reporting. */
  estimatedCount(): Promise<number>;
  ping(): Promise<void>;
}

export type SoftDeleteResult = 'written' | 'stale' | 'absent';

export interface UpdatedPosition {
  updated: Date;
  id?: string;
}
