import type { Conversation, ConversationHead, Message } from '../model/conversation.model';
import type { StoreName } from '../model/store-name';

/**
 * What the dual-write path needs from either store. Both adapters give the same guarantees:
 * - `insertNew` and `compareAndSet` are how the source of truth assigns versions: they succeed only
 *   if the stored version is exactly the one the caller read (or absent), so two writers never both win;
 * - `putIfNewer` is how the other store follows: it writes only when the stored version is lower,
 *   so replays, repairs and reordered writes can never move a record backwards.
 */
export interface ConversationStore {
  readonly name: StoreName;
  /** The stored conversation, deleted ones included; null when absent. */
  get(id: string): Promise<Conversation | null>;
  /** Insert when no record has this id. False when one exists. */
  insertNew(c: Conversation): Promise<boolean>;
  /** Replace when the stored version equals `expectedVersion`. False otherwise. */
  compareAndSet(c: Conversation, expectedVersion: number): Promise<boolean>;
  /**
   * compareAndSet that writes only what `shape` says changed from the stored version (see WriteShape): an
   * append is one message, a patch the header, whatever the conversation's length. False when the stored
   * version is not `expectedVersion`.
   */
  update(c: Conversation, expectedVersion: number, shape: WriteShape): Promise<boolean>;
  /** Write when absent or stored version < c.version. Returns what happened. */
  putIfNewer(c: Conversation): Promise<PutResult>;
  /**
   * Remove the record outright when its version equals `expectedVersion`. Only repair uses this, for a
   * record the source of truth does not have (a create whose primary write failed).
   */
  removeExact(id: string, expectedVersion: number): Promise<boolean>;
  /**
   * What of `c` this store cannot hold though the API's input rules allow it (a field and why), or null:
   * asked before a write, so that a document a store would refuse is refused before anything is written.
   */
  refusal(c: Pick<Conversation, 'metadata'>): Promise<StoreRefusal | null>;
  /** Newest first by creation, deleted excluded; `after` is the last item of the previous page. */
  listByUser(userId: string, limit: number, after?: ListPosition): Promise<Conversation[]>;
}

export type PutResult = 'written' | 'stale';

export interface StoreRefusal {
  field: string;
  reason: string;
}
/**
 * What a write changed, besides the version and `updatedAt` that every write sets:
 * - `append`: one message at the end (`c.messages` is the stored messages followed by it); nothing else;
 * - `header`: title, metadata or the deleted flag; the messages stay as they are;
 * - `replace`: anything.
 * A conversation grows by appends, so a store that writes only the change keeps a chat's cost linear in its length.
 */
export type WriteShape = 'append' | 'header' | 'replace';

/** A caller's open PostgreSQL transaction (the write fence's): statements run in it commit or roll back with it. */
export interface StoreTransaction {
  query<T = unknown>(sql: string, parameters?: unknown[]): Promise<T>;
}

/**
 * A follow-up row (the transactional outbox, src/repair/repair-outbox.ts) that a write records in its own statement,
 * only if it writes.
 */
export interface OutboxRecord {
  source: StoreName;
  reason: string;
}

/**
 * The new store, whose writes can join the caller's transaction: a fenced write reads, compares-and-sets
 * and records its follow-up in the one transaction that holds the fence.
 */
export interface TransactionalStore extends ConversationStore {
  readonly name: 'new';
  get(id: string, tx?: StoreTransaction): Promise<Conversation | null>;
  insertNew(c: Conversation, tx?: StoreTransaction): Promise<boolean>;
  compareAndSet(c: Conversation, expectedVersion: number, tx?: StoreTransaction): Promise<boolean>;
  putIfNewer(c: Conversation, tx?: StoreTransaction): Promise<PutResult>;
  update(c: Conversation, expectedVersion: number, shape: WriteShape, tx?: StoreTransaction): Promise<boolean>;
  /**
   * insertNew (`expectedVersion` null) or update, that also records `record` in the outbox, in the write's own
   * statement and only if it wrote: the outbox row's id, or null when the write did not win.
   */
  writeRecorded(
    c: Conversation,
    expectedVersion: number | null,
    shape: WriteShape,
    record: OutboxRecord,
    tx: StoreTransaction,
  ): Promise<string | null>;
  /** The conversation without its messages (see ConversationHead), read inside `tx` when given; null when absent. */
  head(id: string, tx?: StoreTransaction): Promise<ConversationHead | null>;
  /**
   * An append made on a head (update's append, without the rest of the conversation): `message` becomes message
   * `next.messageCount - 1` and the row takes `next`'s version and time, only if the stored version is
   * `expectedVersion` and it holds `next.messageCount - 1` messages; `record`, when given, is recorded in the outbox
   * in the same statement, only if it wrote.
   */
  appendAfter(
    next: ConversationHead,
    message: Message,
    expectedVersion: number,
    record: OutboxRecord | null,
    tx: StoreTransaction,
  ): Promise<{ wrote: boolean; outboxId: string | null }>;
  /**
   * putIfNewer for a copy that follows the source of truth write by write: when the stored version is exactly
   * `from` (the version `c` was made from) only the change is written (update); otherwise, if it is older, all of `c`.
   */
  follow(c: Conversation, from: number, shape: WriteShape, tx?: StoreTransaction): Promise<PutResult>;
  removeExact(id: string, expectedVersion: number, tx?: StoreTransaction): Promise<boolean>;
  /** The stored conversations among `ids` (deleted ones included), in one snapshot. */
  getMany(ids: string[]): Promise<Conversation[]>;
}

export interface ListPosition {
  createdAt: Date;
  id: string;
}

export const LEGACY_STORE = Symbol('LEGACY_STORE');
export const NEW_STORE = Symbol('NEW_STORE');
