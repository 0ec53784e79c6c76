/**
 * An in-process shadow worker on a test app's configuration (same databases, same Redis), optionally with
 * a hook between the comparison and the stores; and waits on the shadow tables, with timeouts.
 */
import { INestApplicationContext } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import type { AppConfig } from '../../src/app-config';
import { QueueName } from '../../src/queues/queue-names';
import { ShadowQueue } from '../../src/shadow/shadow-queue';
import { SHADOW_READ_PORT, ShadowReadPort, StoreShadowReader } from '../../src/shadow/shadow-read.port';
import { ConversationStore, LEGACY_STORE, NEW_STORE } from '../../src/stores/conversation-store.port';
import type { TestApp } from './app';
import { waitFor } from './stores';

export async function startShadowWorker(
  config: AppConfig,
  wrap?: (stores: ShadowReadPort) => ShadowReadPort,
): Promise<INestApplicationContext> {
  // Required lazily, as a worker process does, so importing this helper does not build the module graph.
  const { WorkerModule } = await import('../../src/worker.module');
  const moduleRef = await Test.createTestingModule({ imports: [WorkerModule.forRoot(config, [QueueName.Shadow])] })
    .overrideProvider(SHADOW_READ_PORT)
    .useFactory({
      inject: [LEGACY_STORE, NEW_STORE],
      factory: (legacy: ConversationStore, newStore: ConversationStore) => {
        const stores = new StoreShadowReader({ legacy, new: newStore });
        return wrap ? wrap(stores) : stores;
      },
    })
    .compile();
  moduleRef.useLogger(false);
  await moduleRef.init();
  return moduleRef;
}

export async function sampleCount(t: TestApp, where = 'true'): Promise<number> {
  const { rows } = await t.pg.query<{ n: number }>(`SELECT count(*)::int AS n FROM shadow_samples WHERE ${where}`);
  return rows[0].n;
}

/** Waits until at least `n` samples are decided (and, by default, the queue holds nothing more). */
export async function waitForSamples(t: TestApp, n: number, timeoutMs = 30_000): Promise<void> {
  await waitFor(`${n} decided shadow samples`, async () => (await sampleCount(t)) >= n, timeoutMs, 50);
}

export async function waitForShadowIdle(t: TestApp, timeoutMs = 30_000): Promise<void> {
  const queue = t.app.get(ShadowQueue);
  await waitFor('the shadow queue to drain', async () => (await queue.depth()) === 0, timeoutMs, 50);
}

export async function outcomesOf(t: TestApp): Promise<Record<string, number>> {
  const { rows } = await t.pg.query<{ k: string; n: number }>(
    `SELECT kind || ':' || outcome AS k, count(*)::int AS n FROM shadow_samples GROUP BY 1`,
  );
  return Object.fromEntries(rows.map((r) => [r.k, r.n]));
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * A sync that is done: a completed backfill run whose split covered every ObjectId, and catch-up's watermarks an
 * hour ahead. The copying under way then explains no difference (src/shadow/domain/lag.ts), so a test of the
 * comparison itself sees every difference it plants counted.
 */
export async function plantSyncDone(t: TestApp): Promise<void> {
  const last = 'f'.repeat(24);
  await t.pg.query(
    `INSERT INTO sync_runs (status, batch_size, split_complete, max_id, finished_at) VALUES ('completed', 1000, true, $1, now())`,
    [last],
  );
  await t.pg.query(
    `INSERT INTO sync_state (key, value) VALUES ('catchup', jsonb_build_object('updatedMs', $1::bigint, 'id', NULL, 'newIdsAfter', $2::text))
     ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value`,
    [Date.now() + 3_600_000, last],
  );
}
