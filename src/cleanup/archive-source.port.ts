import type { Document } from 'mongodb';

/** The legacy collection as the archive reads it: raw documents in `_id` order, and its counts. */
export interface ArchiveSource {
  readonly database: string;
  readonly collection: string;
  /** Cheap, possibly stale: for the progress estimate only. */
  estimatedCount(): Promise<number>;
  /** Exact count of the live collection. */
  count(): Promise<number>;
  /** Every document, BSON types intact, in `_id` order; the underlying cursor closes when iteration stops. */
  documents(): AsyncIterable<Document>;
}
