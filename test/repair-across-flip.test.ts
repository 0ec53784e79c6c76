/**
 * A repair recorded while legacy was the source of truth and run after the flip into deprecation (or the
 * other way round after a rollback): it must not copy the new source of truth over the write the old one
 * acknowledged. Each case makes the divergence a dual write leaves behind (the source of truth took
 * version n + 1, the other store kept n), flips, and has the repair run.
 *
 * As deployed: two API processes (the conversations are made through the second, support/replicas.ts) and the
 * repairs run by a worker process of their own, which has run a repair of the same conversation under the phase
 * before the flip. A worker that decided a repair's direction from the phase it had seen, rather than from the phase
 * read under the write fence at that moment, would copy the wrong way here. The flip is the operator's update of
 * migration_state with no write in flight (the cutover itself drains and catches up first, and would settle the
 * divergence before the flip: test/cutover-*.test.ts); the repair is queued after it, as a retried one would be.
 */
import { Job } from 'bullmq';
import type { Conversation } from '../src/model/conversation.model';
import type { Phase } from '../src/model/phases';
import type { RepairOutcome } from '../src/repair/repair.service';
import { RepairQueue } from '../src/repair/repair-queue';
import { ConversationStore, LEGACY_STORE, NEW_STORE } from '../src/stores/conversation-store.port';
import { StoreName } from '../src/model/store-name';
import { startTestApp, TestApp } from './support/app';
import { isolatedRedis } from './support/env';
import { Replicas, startReplicas } from './support/replicas';
import { expectStoresAgree, readBoth, waitFor } from './support/stores';
import { spawnWorker, stopWorker, withTimeout, WorkerProcess } from './support/sync';

describe('a repair recorded before the source of truth changed, run by a worker process after the flip', () => {
  let t: TestApp;
  let replicas: Replicas;
  let worker: WorkerProcess;
  let stores: Record<StoreName, ConversationStore>;

  beforeAll(async () => {
    t = await startTestApp(isolatedRedis());
    replicas = await startReplicas(t, 'repair-across-flip');
    worker = spawnWorker(t.config, { WORKER_QUEUES: 'repair' });
    await withTimeout('the repair worker to start', worker.ready, 60_000);
    stores = { legacy: t.app.get(LEGACY_STORE), new: t.app.get(NEW_STORE) };
  }, 120_000);
  afterAll(async () => {
    await stopWorker(worker);
    await replicas?.stop();
    await t?.close();
  });

  /** Queues a repair of `id` as recorded under `source`, and waits for the worker process's outcome. */
  async function repairInWorker(id: string, source: StoreName): Promise<RepairOutcome> {
    const queue = t.app.get(RepairQueue).queue;
    const job = await queue.add('repair', { id, source, reason: 'recorded before the flip' }, { attempts: 1 });
    let done: Job | undefined;
    await waitFor('the worker process to run the repair', async () => {
      done = await Job.fromId(queue, job.id!);
      return done?.finishedOn !== undefined;
    });
    if (done!.failedReason) throw new Error(`the repair failed in the worker: ${done!.failedReason}`);
    return done!.returnvalue as RepairOutcome;
  }

  /**
   * A conversation made through the second API process in `phase`, at version 1 in both stores (in deprecation
   * once the process's follow-up has brought legacy level; the worker has then repaired it under `phase`: nothing to
   * do), then version 2 (a message more) in `acknowledgedBy` only.
   */
  async function divergence(acknowledgedBy: StoreName, phase: Phase): Promise<{ id: string; acknowledged: Conversation }> {
    await t.setPhase(phase);
    const created = await replicas.request(1, 'POST', '/conversations', {
      body: { userId: 'flip-user', messages: [{ role: 'user', content: 'first' }] },
    });
    expect(created.status).toBe(201);
    const id: string = created.body.id;
    await expectStoresAgree(t, id);
    expect(await repairInWorker(id, acknowledgedBy)).toBe('in_sync');
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

  /** What each API process answers for `id` (its reads go to the source of truth of the moment). */
  async function versionsServed(id: string): Promise<number[]> {
    const answers = await Promise.all([0, 1].map((i) => replicas.request(i, 'GET', `/conversations/${id}`)));
    return answers.map((r) => r.body?.version as number);
  }

  it.each([
    ['legacy', 'rollout', 'deprecation'],
    ['new', 'deprecation', 'rollout'],
  ] as const)(
    'keeps the write %s acknowledged in %s when the repair runs in %s, and copies it to the other store',
    async (acknowledgedBy, before, after) => {
      const { id } = await divergence(acknowledgedBy, before);
      await t.setPhase(after);
      expect(await repairInWorker(id, acknowledgedBy)).toBe('repaired');
      const both = await readBoth(t, id);
      expect(both.legacy).toEqual(both.pg);
      expect(both.pg!.version).toBe(2);
      expect(both.pg!.messages.map((m) => m.content)).toEqual(['first', 'acknowledged before the flip']);
      expect(await versionsServed(id)).toEqual([2, 2]);
    },
    60_000,
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
    expect(await repairInWorker(id, 'legacy')).toBe('skipped');
    expect(await stores.new.get(id)).toEqual(newBefore);
    // The repair the new source of truth records next brings legacy level with it.
    expect(await repairInWorker(id, 'new')).toBe('repaired');
    const both = await readBoth(t, id);
    expect(both.legacy).toEqual(both.pg);
    expect(both.pg!.version).toBe(3);
    expect(await versionsServed(id)).toEqual([3, 3]);
  }, 60_000);
});
