/**
 * The state both stores hold at the end of a run, read directly (not through the API): PostgreSQL
 * through pg and the pg-row mapper, the legacy store through the mongodb driver and the legacy
 * transform, each conversation in the canonical form every comparison in the service uses.
 */
import { BSON, Db, ObjectId } from 'mongodb';
import type { Client } from 'pg';
import { canonical, canonicalJson } from '../../../src/model/canonical';
import { fromLegacy } from '../../../src/model/legacy-transform';
import type { Conversation } from '../../../src/model/conversation.model';
import { readPgConversations } from '../pg-read';

export type StoreName = 'legacy' | 'new';

export interface StoredConversation {
  id: string;
  version: number;
  deleted: boolean;
  title: string | null;
  /** Message texts in stored order. */
  messages: string[];
  canonical: string;
}

export interface FinalState {
  phase: string;
  sourceOfTruth: StoreName;
  stores: Record<StoreName, Map<string, StoredConversation>>;
  /** Legacy documents the transform cannot read: id and reason. */
  unreadableLegacy: Array<{ id: string; reason: string }>;
}

export function stored(c: Conversation): StoredConversation {
  const canon = canonical(c);
  return {
    id: c.id,
    version: c.version,
    deleted: c.deleted,
    title: c.title,
    messages: c.messages.map((m) => m.content),
    canonical: canonicalJson(canon),
  };
}

export async function readPostgres(pg: Client): Promise<Map<string, StoredConversation>> {
  return new Map((await readPgConversations(pg)).map((c) => [c.id, stored(c)]));
}

export async function readLegacy(
  db: Db,
  collection: string,
): Promise<{ conversations: Map<string, StoredConversation>; unreadable: FinalState['unreadableLegacy'] }> {
  const docs = await db.collection(collection).find({}).toArray();
  const conversations = new Map<string, StoredConversation>();
  const unreadable: FinalState['unreadableLegacy'] = [];
  for (const doc of docs) {
    try {
      const c = fromLegacy(doc);
      conversations.set(c.id, stored(c));
    } catch (err) {
      const id = doc._id instanceof ObjectId ? doc._id.toHexString() : BSON.EJSON.stringify(doc._id);
      unreadable.push({ id, reason: (err as { reason?: string }).reason ?? String(err) });
    }
  }
  return { conversations, unreadable };
}
