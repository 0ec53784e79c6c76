/**
 * A repair recorded while legacy was the source of truth and run after the flip into deprecation (or the
 * other way round after a rollback): it must not copy the new source of truth over the write the old one
 * acknowledged. Each case makes the divergence a dual write leaves behind (the source of truth took
 * version n + 1, the other store kept n), flips, and runs the repair as the worker would.
 */
import type { Conversation } from '../src/model/conversation.model';
import type { Phase } from '../src/model/phases';
import { RepairService } from '../src/repair/repair.service';
import { ConversationStore, LEGACY_STORE, NEW_STORE } from '../src/stores/conversation-store.port';
import { StoreName } from '../src/model/store-name';
import { startTestApp, TestApp } from './support/app';
import { readBoth } from './support/stores';

describe('a repair recorded before the source of truth changed', () => {
  let t: TestApp;
  let stores: Record<StoreName, ConversationStore>;
  let repairs: RepairService;

  beforeAll(async () => {
    t = await startTestApp();
    stores = { legacy: t.app.get(LEGACY_STORE), new: t.app.get(NEW_STORE) };
    repairs = t.app.get(RepairService);
  });
  afterAll(async () => {
    await t?.close();
  });

  /** A conversation at version 1 in both stores, then version 2 (a message more) in `acknowledgedBy` only. */
  async function divergence(acknowledgedBy: StoreName, phase: Phase): Promise<{ id: string; acknowledged: Conversation }> {
    await t.setPhase(phase);
    const created = await t.request('POST', '/conversations', {
      body: { userId: 'flip-user', messages: [{ role: 'user', content: 'first' }] },
    });
    expect(created.status).toBe(201);
    const id: string = created.body.id;
    const current = (await stores[acknowledgedBy].get(id))!;
    const acknowledged: Conversation = {
      ...current,
      messages: [...current.messages, { role: 'assistant', content: 'acknowledged before the flip', createdAt: new Date() }],
      version: current.version + 1,
      updatedAt: new Date(),
    };
    expect(await stores[acknowledgedBy].compareAndSet(acknowledged, current.version)).toBe(true);
    return { id, acknowledged };
  }

  it.each([
    ['legacy', 'rollout', 'deprecation'],
    ['new', 'deprecation', 'rollout'],
  ] as const)(
    'keeps the write %s acknowledged in %s when the repair runs in %s, and copies it to the other store',
    async (acknowledgedBy, before, after) => {
      const { id } = await divergence(acknowledgedBy, before);
      await t.setPhase(after);
      expect(await repairs.repair(id, acknowledgedBy)).toBe('repaired');
      const both = await readBoth(t, id);
      expect(both.legacy).toEqual(both.pg);
      expect(both.pg!.version).toBe(2);
      expect(both.pg!.messages.map((m) => m.content)).toEqual(['first', 'acknowledged before the flip']);
    },
  );

  it('leaves the other store alone when it has moved on under the new source of truth since', async () => {
    const { id } = await divergence('legacy', 'rollout');
    await t.setPhase('deprecation');
    // Under the new source of truth, a write from version 1 to 2 and another to 3 (the acknowledged legacy
    // version 2 never reached PostgreSQL: that is what the pending-repair gate into deprecation prevents).
    for (const content of ['after the flip, one', 'after the flip, two']) {
      const current = (await stores.new.get(id))!;
      const next = {
        ...current,
        messages: [...current.messages, { role: 'user' as const, content, createdAt: new Date() }],
        version: current.version + 1,
        updatedAt: new Date(),
      };
      expect(await stores.new.compareAndSet(next, current.version)).toBe(true);
    }
    const newBefore = await stores.new.get(id);
    expect(await repairs.repair(id, 'legacy')).toBe('skipped');
    expect(await stores.new.get(id)).toEqual(newBefore);
    // The repair the new source of truth records next brings legacy level with it.
    expect(await repairs.repair(id, 'new')).toBe('repaired');
    const both = await readBoth(t, id);
    expect(both.legacy).toEqual(both.pg);
    expect(both.pg!.version).toBe(3);
  });
});
