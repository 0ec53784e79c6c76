/**
 * The legacy `conversations` collection, typed without the Mongo driver so the domain stays driver-free.
 *
 * `LegacyDocument` is what years of the legacy application left behind: every variation the SPEC lists
 * (section 1) can occur, alone or combined, so the reader (`fromLegacy`) treats it as untrusted and checks
 * every field. `LegacyDocumentOut` is the one current format this service writes, so the legacy
 * application keeps reading what it expects.
 */
import { JsonObject, MessageRole } from './conversation.model';

/** A driver ObjectId (anything with `toHexString`) or its hex string. */
export type LegacyObjectId = string | { toHexString(): string };

export interface LegacyMessage {
  /** Lower case; older documents use upper case ("USER"). */
  role: string;
  /** Current name of the message body. */
  text?: string;
  /** Older name of the message body. */
  content?: string;
  /** Date, ISO-8601 string, or epoch milliseconds. */
  ts: Date | string | number;
}

export interface LegacyDocument {
  _id: LegacyObjectId;
  user_id?: string;
  /** Older documents. */
  userId?: string;
  title?: string | null;
  messages?: LegacyMessage[];
  /** Free-form, nested. */
  meta?: { [key: string]: unknown };
  created: Date | string;
  /** Missing on documents never modified. */
  updated?: Date;
  /** Version counter; missing means 0. */
  v?: number;
  /** Soft delete; missing means not deleted. */
  deleted?: true;
}

/** The fields a legacy document may have; anything else is refused rather than silently dropped. */
export const LEGACY_DOCUMENT_FIELDS: readonly string[] = [
  '_id',
  'user_id',
  'userId',
  'title',
  'messages',
  'meta',
  'created',
  'updated',
  'v',
  'deleted',
];

export const LEGACY_MESSAGE_FIELDS: readonly string[] = ['role', 'text', 'content', 'ts'];

export interface LegacyMessageOut {
  role: MessageRole;
  text: string;
  ts: Date;
}

/** The current format. `_id` is hex here; the Mongo adapter turns it into an ObjectId. */
export interface LegacyDocumentOut {
  _id: string;
  user_id: string;
  title: string | null;
  messages: LegacyMessageOut[];
  meta: JsonObject;
  created: Date;
  updated: Date;
  v: number;
  /** Present only on deleted documents, as the legacy application writes it. */
  deleted?: true;
}
