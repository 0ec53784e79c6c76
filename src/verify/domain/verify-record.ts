/**
 * One side's view of one conversation for verification: the hash of its canonical form (and the form
 * itself when the caller will name differing paths), or the reason it could not be read. A record that
 * cannot be read is still a record (it gets a hash no readable record can have), so it is compared and
 * reported, never skipped and never a crash.
 *
 * The walk keeps hashes only: holding every buffered conversation's canonical form would cost about a
 * copy of each chunk. Paths are named when a suspect is read again (rechecks keep the form).
 */
import { canonical, CanonicalConversation } from '../../model/canonical';
import type { Conversation } from '../../model/conversation.model';
import { UnreadableDocumentError } from '../../model/errors';
import type { LegacyDocument } from '../../model/legacy-document';
import { fromLegacy } from '../../model/legacy-transform';
import { recordHash } from './record-hash';

export interface VerifyRecord {
  id: string;
  /** sha256 of the canonical JSON; for an unreadable record `!<side>:<reason>`, which equals no real hash. */
  hash: string;
  version: number | null;
  deleted: boolean;
  /** Kept only when asked for (point reads), to name the paths of a difference. */
  canonical?: CanonicalConversation;
  /** Why the record could not be read (unreadable legacy document, invalid PostgreSQL rows). */
  problem?: string;
}

export function recordOf(c: Conversation, keepForm = true): VerifyRecord {
  const form = canonical(c);
  const record: VerifyRecord = { id: c.id, hash: recordHash(form), version: form.version, deleted: form.deleted };
  if (keepForm) record.canonical = form;
  return record;
}

export function problemRecord(side: 'legacy' | 'new', id: string, reason: string, version: unknown, deleted: unknown): VerifyRecord {
  return {
    id,
    hash: `!${side}:${reason}`,
    version: typeof version === 'number' && Number.isSafeInteger(version) ? version : null,
    deleted: deleted === true,
    problem: reason,
  };
}

/** A raw legacy document whose `_id` is known to be readable as `id`. */
export function legacyRecord(id: string, doc: LegacyDocument, keepForm = true): VerifyRecord {
  const raw = doc as unknown as Record<string, unknown>;
  try {
    return recordOf(fromLegacy(doc), keepForm);
  } catch (err) {
    if (err instanceof UnreadableDocumentError) return problemRecord('legacy', id, err.reason, raw.v, raw.deleted);
    // canonical() refuses values that are not JSON; for verification that is one more unreadable document.
    if (err instanceof TypeError) return problemRecord('legacy', id, err.message, raw.v, raw.deleted);
    throw err;
  }
}
