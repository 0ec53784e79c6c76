import { INestApplicationContext } from '@nestjs/common';
import { ObjectId } from 'mongodb';
import { canonical } from '../src/model/canonical';
import { fromLegacy } from '../src/model/legacy-transform';
import { OutboxReplayer } from '../src/repair/outbox-replayer';
import { PostgresRepairOutbox } from '../src/repair/repair-outbox';
import { RepairQueue } from '../src/repair/repair-queue';
import { POSTGRES_OUTBOX } from '../src/repair/repair.service';
import { startTestApp, TestApp } from './support/app';
import { APP_TOKEN, isolatedRedis, OPERATOR_TOKEN } from './support/env';
import { startRepairWorker } from './support/repair-worker';
import { readNew, waitFor } from './support/stores';

describe('repair dead-letter list', () => {
  let t: TestApp;
  let worker: INestApplicationContext;

  beforeAll(async () => {
    // A Redis database of this file's own, so no other run's worker takes these jobs.
    t = await startTestApp({ REPAIR_ATTEMPTS: '3', REPAIR_BACKOFF_MS: '20', ...isolatedRedis() });
    await t.setPhase('shadow');
    await t.app.get(RepairQueue).queue.obliterate({ force: true });
    worker = await startRepairWorker(t.config);
  });

  afterAll(async () => {
    await worker?.close();
    await t?.close();
  });

  const status = () => t.request('GET', '/migration/repairs', { token: OPERATOR_TOKEN });

  it('is for operators only', async () => {
    expect((await t.request('GET', '/migration/repairs', { token: null })).status).toBe(401);
    expect((await t.request('GET', '/migration/repairs', { token: APP_TOKEN })).status).toBe(403);
    expect((await t.request('POST', '/migration/repairs/redrive', { token: APP_TOKEN })).status).toBe(403);
  });

  it('lists a repair that cannot succeed with its reason, and re-drives it once the record is fixed', async () => {
    const id = new ObjectId().toHexString();
    const raw = t.legacy.collection('conversations');
    // Unreadable: no user id. The repair must dead-letter it at once rather than retry forever.
    await raw.insertOne({ _id: new ObjectId(id), title: 'broken', created: new Date('2024-01-01T00:00:00Z'), v: 4 });
    await t.app.get(RepairQueue).add({ id, source: 'legacy', reason: 'test' });

    let dead: Array<{ conversationId: string; failedReason: string }> = [];
    await waitFor(
      'the repair in the dead-letter list',
      async () => {
        dead = (await status()).body.dead;
        return dead.some((d) => d.conversationId === id);
      },
      30_000,
    );
    expect(dead.find((d) => d.conversationId === id)!.failedReason).toMatch(/UNREADABLE_DOCUMENT.*user/);
    expect(await readNew(t, id)).toBeNull();

    await raw.updateOne({ _id: new ObjectId(id) }, { $set: { user_id: 'fixed-user' } });
    const redriven = await t.request('POST', '/migration/repairs/redrive', { token: OPERATOR_TOKEN });
    expect(redriven.status).toBe(200);
    expect(redriven.body.redriven).toBeGreaterThanOrEqual(1);

    await waitFor('the re-driven repair to copy the fixed record', async () => (await readNew(t, id)) !== null, 30_000);
    const fixed = fromLegacy((await raw.findOne({ _id: new ObjectId(id) }))!);
    expect(await readNew(t, id)).toEqual(canonical(fixed));
    expect((await status()).body.dead.some((d: { conversationId: string }) => d.conversationId === id)).toBe(false);
  });
  it('parks the outbox rows of a repair that cannot succeed: one dead job, not one a minute, until the fix is re-driven', async () => {
    const id = new ObjectId().toHexString();
    const raw = t.legacy.collection('conversations');
    await raw.insertOne({ _id: new ObjectId(id), title: 'broken too', created: new Date('2024-01-01T00:00:00Z'), v: 2 });
    // A follow-up owed from legacy (as a write whose copy failed leaves one), handed to the queue by the replayer.
    const outbox = t.app.get<PostgresRepairOutbox>(POSTGRES_OUTBOX);
    await outbox.add({ conversationId: id, source: 'legacy', reason: 'secondary write failed' });
    const rows = async () =>
      (
        await t.pg.query<{ parked: boolean }>(`SELECT enqueued_at = 'infinity' AS parked FROM repair_outbox WHERE conversation_id = $1`, [
          id,
        ])
      ).rows;
    const deadFor = async () =>
      ((await status()).body.dead as Array<{ conversationId: string }>).filter((d) => d.conversationId === id).length;
    await waitFor('the row handed over, dead-lettered and parked', async () => (await rows()).every((r) => r.parked), 30_000);
    expect(await rows()).toHaveLength(1);
    expect(await deadFor()).toBe(1);

    // An hour on (infinity stays infinity): a row that was merely handed over would go to the queue again now.
    await t.pg.query(
      `UPDATE repair_outbox SET created_at = created_at - interval '1 hour', enqueued_at = enqueued_at - interval '1 hour' WHERE conversation_id = $1`,
      [id],
    );
    const replayer = t.app.get(OutboxReplayer);
    for (let pass = 0; pass < 3; pass++) await replayer.replayOnce();
    await new Promise((r) => setTimeout(r, 1000));
    expect(await deadFor()).toBe(1);
    expect(await rows()).toEqual([{ parked: true }]);

    // Fixed and re-driven: the repair copies the record and settles the parked row.
    await raw.updateOne({ _id: new ObjectId(id) }, { $set: { user_id: 'fixed-user-2' } });
    expect((await t.request('POST', '/migration/repairs/redrive', { token: OPERATOR_TOKEN })).status).toBe(200);
    await waitFor('the re-driven repair to settle the parked row', async () => (await rows()).length === 0, 30_000);
    expect(await readNew(t, id)).toEqual(canonical(fromLegacy((await raw.findOne({ _id: new ObjectId(id) }))!)));
    expect(await deadFor()).toBe(0);
  });
});
