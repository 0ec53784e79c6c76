/**
 * The proof rollback from `deprecation` needs: every conversation written to the new store since the
 * flip is copied to legacy (compare-and-set by content, as repairs do), then each of them, and every
 * legacy document changed since the flip, is compared in canonical form. Records untouched since the
 * flip were verified clean before it (a gate into deprecation), so this set is the one that can differ.
 */
import { Inject, Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { canonicalJson } from '../conversations/domain/canonical';
import { RepairService } from '../repair/repair.service';
import { ConversationStore, LEGACY_STORE, NEW_STORE } from '../stores/conversation-store.port';
import type { LegacyStore } from '../stores/legacy-store.port';
import { DATA_SOURCE } from '../stores/stores.module';
import type { RollbackProof } from './gate-figures.port';

const PAGE = 500;

@Injectable()
export class ReverseSync implements RollbackProof {
  constructor(
    @Inject(DATA_SOURCE) private readonly dataSource: DataSource,
    @Inject(NEW_STORE) private readonly newStore: ConversationStore,
    @Inject(LEGACY_STORE) private readonly legacy: LegacyStore,
    private readonly repair: RepairService,
  ) {}

  /** Ids written to the new store since `since`, in pages. */
  private async *changedInNew(since: Date): AsyncGenerator<string[]> {
    let after = '';
    for (;;) {
      const rows: Array<{ id: string }> = await this.dataSource.query(
        'SELECT id FROM conversations WHERE updated_at >= $1 AND id > $2 ORDER BY id LIMIT $3',
        [since, after, PAGE],
      );
      if (rows.length === 0) return;
      yield rows.map((r) => r.id);
      after = rows[rows.length - 1].id;
    }
  }

  async proveLegacyHasEverything(since: Date) {
    const touched = new Set<string>();
    let copied = 0;
    for await (const ids of this.changedInNew(since)) {
      for (const id of ids) {
        touched.add(id);
        if ((await this.repair.copy(id, this.newStore, this.legacy)) === 'repaired') copied++;
      }
    }
    let position = { updated: new Date(since.getTime() - 1), id: undefined as string | undefined };
    for (;;) {
      const docs = await this.legacy.scanByUpdated(PAGE, position);
      if (docs.length === 0) break;
      for (const d of docs) touched.add(String(d._id));
      const last = docs[docs.length - 1];
      position = { updated: last.updated as Date, id: String(last._id) };
    }
    let missing = 0;
    let extra = 0;
    let different = 0;
    for (const id of touched) {
      const [n, l] = await Promise.all([this.newStore.get(id), this.legacy.get(id).catch(() => undefined)]);
      if (n && !l) missing++;
      else if (!n && l) extra++;
      else if (n && l && canonicalJson(n) !== canonicalJson(l)) different++;
      else if (l === undefined) different++;
    }
    return { copied, verification: { runId: null, checked: touched.size, missing, extra, different } };
  }
}
