/**
 * Listing and re-driving dead letters. A re-drive reads each document from the legacy store again (the
 * stored raw form is for diagnosis, the legacy store is the truth) and goes through the same BatchWriter
 * as the backfill: readable now → written under the version guard and resolved ('written', or
 * 'already_current' when PostgreSQL already had that version or a newer one); still unreadable → the
 * record stays open with the new reason; gone from the legacy store → resolved as 'gone'.
 */
import type { LegacyDocument } from '../../model/legacy-document';
import type { LegacyStore } from '../../stores/legacy-store.port';
import type { BatchWriter } from '../batch-writer';
import type { SyncMetrics } from '../sync-metrics';
import type { DeadLetter, DeadLetterRepository, DeadLetterStatus } from './dead-letter.repository';
import { deadLetterKey, storableJson } from '../../model/raw-json';

export interface RedriveResult {
  redriven: number;
  written: number;
  alreadyCurrent: number;
  stillUnreadable: number;
  gone: number;
  /** Open dead letters left afterwards. */
  open: number;
}

const PAGE = 500;

export class DeadLetterService {
  constructor(
    private readonly deadLetters: DeadLetterRepository,
    private readonly legacy: LegacyStore,
    private readonly writer: BatchWriter,
    private readonly metrics: SyncMetrics,
  ) {}

  async list(status: DeadLetterStatus, limit: number, after?: number): Promise<{ items: DeadLetter[]; nextCursor: string | null }> {
    const items = await this.deadLetters.list(status, limit, after);
    return { items, nextCursor: items.length === limit ? String(items[items.length - 1].id) : null };
  }

  /** Re-drives up to `limit` open dead letters (those with `ids` only, when given), oldest first. */
  async redrive(limit: number, ids?: number[]): Promise<RedriveResult> {
    const result: RedriveResult = { redriven: 0, written: 0, alreadyCurrent: 0, stillUnreadable: 0, gone: 0, open: 0 };
    let after = 0;
    while (result.redriven < limit) {
      const page = await this.deadLetters.open(Math.min(PAGE, limit - result.redriven), after, ids);
      if (page.length === 0) break;
      after = page[page.length - 1].id;
      await this.redrivePage(page, result);
    }
    result.open = (await this.deadLetters.counts()).open;
    return result;
  }

  private async redrivePage(page: DeadLetter[], result: RedriveResult): Promise<void> {
    const docs = await this.legacy.findRawByJsonIds(page.map((l) => l.raw._id).filter((id) => id !== undefined));
    const byKey = new Map<string, LegacyDocument>();
    for (const doc of docs) byKey.set(this.keyOf(doc), doc);
    const found = page.filter((l) => byKey.has(l.conversationId));
    const gone = page.filter((l) => !byKey.has(l.conversationId));
    const batch = this.writer.prepare(
      found.map((l) => byKey.get(l.conversationId)!),
      'redrive',
    );
    const letterOf = new Map(found.map((l) => [l.conversationId, l.id]));

    const t0 = performance.now();
    const written = await this.writer.write(batch, {
      commit: async (q, r) => {
        const writtenIds = new Set(r.writtenIds);
        const current = batch.conversations.filter((c) => !writtenIds.has(c.id)).map((c) => letterOf.get(c.id)!);
        await this.deadLetters.resolveByIds(q, current, 'already_current');
        await this.deadLetters.resolveByIds(
          q,
          gone.map((l) => l.id),
          'gone',
        );
        await this.deadLetters.markRedriven(
          q,
          page.map((l) => l.id),
        );
      },
    });
    this.metrics.batchDone('redrive', written, undefined, performance.now() - t0);
    result.redriven += page.length;
    result.written += written.written;
    result.alreadyCurrent += written.skipped;
    result.stillUnreadable += written.dead;
    result.gone += gone.length;
  }

  /** The key a dead letter of this document carries (see BatchWriter.deadLetter). */
  private keyOf(doc: LegacyDocument): string {
    return deadLetterKey((storableJson(this.legacy.rawJson(doc)) as { _id?: unknown })._id);
  }
}
