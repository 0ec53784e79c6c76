/**
 * BatchWriter: one batch of raw legacy documents into PostgreSQL, in one transaction:
 *   1. `begin` (the caller's: e.g. renew the range's lease, which also locks its row),
 *   2. every readable document in one version-guarded bulk upsert (putManyStaged: loaded with COPY, merged with
 *      one guarded INSERT ... ON CONFLICT; never overwrites a newer version),
 *   3. every unreadable one into dead_letters (one statement), the batch goes on,
 *   4. open dead letters of documents now written are closed,
 *   5. `commit` (the caller's: the checkpoint and counters, or the catch-up watermark).
 * So a batch and its checkpoint are durable together or not at all: a worker killed at any point
 * leaves either the whole batch with its checkpoint, or neither.
 *
 * A row PostgreSQL refuses (a data error the transform did not foresee) must not stop the range forever:
 * the batch is then written again with each part under a savepoint (row-by-row statements, putMany),
 * halving down to the refused rows, which are dead-lettered with PostgreSQL's reason.
 */
import { QueryRunner } from 'typeorm';
import type { Conversation } from '../model/conversation.model';
import type { LegacyDocument } from '../model/legacy-document';
import { fromLegacy } from '../model/legacy-transform';
import type { LegacyStore } from '../stores/legacy-store.port';
import type { PostgresConversationStore } from '../stores/postgres/postgres-conversation.store';
import type { DeadLetterRepository, DeadLetterSource, NewDeadLetter } from './dead-letters/dead-letter.repository';
import { deadLetterKey, storableJson } from '../model/raw-json';

export interface BatchResult {
  read: number;
  written: number;
  /** Readable, but PostgreSQL already had this version or a newer one. */
  skipped: number;
  dead: number;
  writtenIds: string[];
}

export interface BatchHooks {
  begin?(q: QueryRunner): Promise<void>;
  commit(q: QueryRunner, result: BatchResult): Promise<void>;
}

export interface PreparedBatch {
  source: DeadLetterSource;
  read: number;
  conversations: Conversation[];
  dead: NewDeadLetter[];
  /** The raw document of each readable conversation, in case PostgreSQL refuses its row. */
  raw: Map<string, LegacyDocument>;
}

interface SavepointRunner extends QueryRunner {
  savepointSeq?: number;
}

export class BatchWriter {
  constructor(
    private readonly store: PostgresConversationStore,
    private readonly legacy: LegacyStore,
    private readonly deadLetters: DeadLetterRepository,
  ) {}

  /** Transforms each document; the unreadable ones become dead letters with their reason and raw form. */
  prepare(docs: LegacyDocument[], source: DeadLetterSource): PreparedBatch {
    const conversations: Conversation[] = [];
    const dead: NewDeadLetter[] = [];
    const raw = new Map<string, LegacyDocument>();
    for (const doc of docs) {
      try {
        const c = fromLegacy(doc);
        conversations.push(c);
        raw.set(c.id, doc);
      } catch (err) {
        dead.push(this.deadLetter(doc, source, err));
      }
    }
    return { source, read: docs.length, conversations, dead, raw };
  }

  deadLetter(doc: LegacyDocument, source: DeadLetterSource, err: unknown): NewDeadLetter {
    const raw = storableJson(this.legacy.rawJson(doc)) as Record<string, unknown>;
    const e = err as { reason?: unknown; id?: unknown; name?: string; message?: string };
    // UnreadableDocumentError names the field; anything else is a bug in the transform, still not a reason to stop.
    const reason = typeof e?.reason === 'string' ? e.reason : `unexpected ${e?.name ?? 'error'}: ${e?.message ?? String(err)}`;
    return {
      conversationId: typeof e?.id === 'string' ? e.id : deadLetterKey(raw._id),
      source,
      reason: storableJson(reason) as string,
      raw,
    };
  }

  async write(batch: PreparedBatch, hooks: BatchHooks): Promise<BatchResult> {
    try {
      return await this.store.transaction((q) => this.run(q, batch, hooks, false));
    } catch (err) {
      if (!isDataError(err) || batch.conversations.length === 0) throw err;
      return this.store.transaction((q) => this.run(q, batch, hooks, true));
    }
  }

  private async run(q: QueryRunner, batch: PreparedBatch, hooks: BatchHooks, isolate: boolean): Promise<BatchResult> {
    await hooks.begin?.(q);
    const dead = [...batch.dead];
    const writtenIds = isolate
      ? await this.putIsolated(q, batch, batch.conversations, dead)
      : await this.store.putManyStaged(batch.conversations, q);
    await this.deadLetters.record(q, dead);
    await this.deadLetters.resolve(q, writtenIds, 'written');
    const result: BatchResult = {
      read: batch.read,
      written: writtenIds.length,
      skipped: batch.read - writtenIds.length - dead.length,
      dead: dead.length,
      writtenIds,
    };
    await hooks.commit(q, result);
    return result;
  }

  /** putMany under savepoints, halving until the refused conversations are found; those go to `dead`. */
  private async putIsolated(
    q: SavepointRunner,
    batch: PreparedBatch,
    conversations: Conversation[],
    dead: NewDeadLetter[],
  ): Promise<string[]> {
    if (conversations.length === 0) return [];
    const name = `batch_part_${(q.savepointSeq = (q.savepointSeq ?? 0) + 1)}`;
    await q.query(`SAVEPOINT ${name}`);
    try {
      const ids = await this.store.putMany(conversations, q);
      await q.query(`RELEASE SAVEPOINT ${name}`);
      return ids;
    } catch (err) {
      await q.query(`ROLLBACK TO SAVEPOINT ${name}`);
      if (!isDataError(err)) throw err;
      if (conversations.length === 1) {
        const id = conversations[0].id;
        dead.push(
          this.deadLetter(batch.raw.get(id)!, batch.source, { reason: `postgresql refused the row: ${(err as Error).message}`, id }),
        );
        return [];
      }
      const half = Math.ceil(conversations.length / 2);
      return [
        ...(await this.putIsolated(q, batch, conversations.slice(0, half), dead)),
        ...(await this.putIsolated(q, batch, conversations.slice(half), dead)),
      ];
    }
  }
}

/** SQLSTATE class 22 (data exception) or a check violation: the row, not the server, is the problem. */
function isDataError(err: unknown): boolean {
  const code = (err as { driverError?: { code?: string }; code?: string })?.driverError?.code ?? (err as { code?: string })?.code;
  return typeof code === 'string' && (code.startsWith('22') || code === '23514');
}
