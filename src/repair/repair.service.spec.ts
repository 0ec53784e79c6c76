import type { Conversation } from '../model/conversation.model';
import { modeForPhase, type Phase } from '../model/phases';
import { sampleConversation } from '../model/testing/fixtures';
import type { WriteFence } from '../mode/write-fence';
import type { TransactionalStore } from '../stores/conversation-store.port';
import type { LegacyStore, LegacyWrite } from '../stores/legacy-store.port';
import type { WrittenChange } from './follow-plan';
import type { PostgresRepairOutbox } from './repair-outbox';
import { FollowEntry, RepairService } from './repair.service';

const append = (id: string, from: number): WrittenChange => {
  const c: Conversation = sampleConversation({ id, version: from + 1 });
  return { next: c, from, shape: 'append' };
};
const entry = (id: string, rows: string[], changes: WrittenChange[] | null, source: 'new' | 'legacy' = 'new'): FollowEntry => ({
  entry: { conversationId: id, source, reason: 'legacy follows the source of truth', outboxIds: rows },
  changes,
});

/** followChanges with the fence, the outbox and legacy's writeMany faked: what it sends, what it removes, what it says. */
function rig(phase: Phase, answer: (writes: readonly LegacyWrite[]) => Promise<Array<boolean | Error>>) {
  const sent: LegacyWrite[][] = [];
  const removed: string[][] = [];
  const legacy = {
    writeMany: async (writes: readonly LegacyWrite[]) => {
      sent.push([...writes]);
      return answer(writes);
    },
  } as unknown as LegacyStore;
  const fence = { write: <T>(fn: (w: unknown) => Promise<T>) => fn({ mode: modeForPhase(phase), q: {} }) } as unknown as WriteFence;
  const outbox = {
    remove: async (ids: readonly string[]) => {
      removed.push([...ids]);
    },
  } as unknown as PostgresRepairOutbox;
  return { service: new RepairService(legacy, {} as TransactionalStore, fence, outbox), sent, removed };
}

const hex = (n: number) => n.toString(16).padStart(24, '0');

describe('RepairService.followChanges', () => {
  it('sends every followable batch entry in one request and removes the rows of those that landed only', async () => {
    const { service, sent, removed } = rig('deprecation', async () => [true, false, new Error('refused')]);
    const batch = [
      entry(hex(1), ['1', '2'], [append(hex(1), 3), append(hex(1), 4)]),
      entry(hex(2), ['3'], [append(hex(2), 1)]),
      entry(hex(3), ['4'], [append(hex(3), 7)]),
      entry(hex(4), ['5'], null), // no changes known: only a repair settles it
      entry(hex(5), ['6'], [append(hex(5), 1), append(hex(5), 5)]), // a gap between the versions
    ];
    expect(await service.followChanges(batch)).toEqual(['applied', 'repair', 'failed', 'repair', 'repair']);
    expect(sent).toHaveLength(1);
    expect(sent[0].map((w) => [w.c.id, w.kind, w.kind === 'update' ? [w.from, w.appended] : null])).toEqual([
      [hex(1), 'update', [3, 2]],
      [hex(2), 'update', [1, 1]],
      [hex(3), 'update', [7, 1]],
    ]);
    expect(removed).toEqual([['1', '2']]);
  });

  it('leaves every row when the request failed (any write may have landed; the replayer hands them on)', async () => {
    const { service, removed } = rig('deprecation', () => Promise.reject(new Error('connection reset')));
    const batch = [entry(hex(1), ['1'], [append(hex(1), 1)]), entry(hex(2), ['2'], [append(hex(2), 1)])];
    expect(await service.followChanges(batch)).toEqual(['failed', 'failed']);
    expect(removed).toEqual([[]]);
  });

  it('sends nothing outside deprecation, nor for a follow-up of legacy: those are repaired', async () => {
    for (const phase of ['rollout', 'cleanup'] as const) {
      const { service, sent, removed } = rig(phase, async () => [true]);
      expect(await service.followChanges([entry(hex(1), ['1'], [append(hex(1), 1)])])).toEqual(['repair']);
      expect({ phase, sent, removed }).toEqual({ phase, sent: [], removed: [[]] });
    }
    const { service, sent } = rig('deprecation', async () => [true]);
    expect(await service.followChanges([entry(hex(1), ['1'], [append(hex(1), 1)], 'legacy')])).toEqual(['repair']);
    expect(sent).toEqual([]);
  });
});
