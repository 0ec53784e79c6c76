import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { INestApplicationContext } from '@nestjs/common';
import { Document, ObjectId } from 'mongodb';
import { BackfillQueue } from '../src/sync/backfill/backfill.queue';
import { BatchWriter } from '../src/sync/batch-writer';
import { CatchupQueue } from '../src/sync/catchup/catchup.queue';
import { startTestApp, TestApp } from './support/app';
import { isolatedRedis, OPERATOR_TOKEN, ROOT } from './support/env';
import { legacyCollection, readNew, waitFor } from './support/stores';
import {
  canonicalOf,
  FAST_SYNC_ENV,
  legacyCanonical,
  openDeadLetters,
  pgCanonical,
  expectStoresEqual,
  seedLegacy,
  smallLegacyDocs,
  startBackfill,
  startSyncWorker,
  syncStatus,
  waitForRunCompleted,
} from './support/sync';

const DOCS = 1200;
const SYNC_ENV = {
  ...FAST_SYNC_ENV,
  CATCHUP_INTERVAL_MS: '300',
  CATCHUP_OVERLAP_MS: '1000',
  SYNC_BATCH_SIZE: '100',
  SYNC_RANGE_SIZE: '200',
  // Slow enough that the legacy application gets to change things while the backfill runs.
  SYNC_MAX_DOCS_PER_SECOND: '300',
};

describe('catch-up', () => {
  let t: TestApp;
  let worker: INestApplicationContext;
  const seeded = smallLegacyDocs(DOCS, 11);

  beforeAll(async () => {
    t = await startTestApp({ ...SYNC_ENV, ...isolatedRedis() });
    await t.app.get(BackfillQueue).queue.obliterate({ force: true });
    await t.app.get(CatchupQueue).queue.obliterate({ force: true });
    await seedLegacy(t, seeded);
    worker = await startSyncWorker(t.config);
  });

  afterAll(async () => {
    await worker?.close();
    await t?.close();
  });

  /** What the legacy application does: writes the current format, bumps `v`, stamps `updated`. */
  const legacyApp = {
    insert: async (withUpdated: boolean): Promise<ObjectId> => {
      const now = new Date();
      const doc: Document = {
        _id: new ObjectId(),
        user_id: 'new-user',
        title: 'inserted during backfill',
        messages: [{ role: 'user', text: 'hi', ts: now }],
        created: now,
      };
      if (withUpdated) Object.assign(doc, { updated: now, v: 1 });
      await legacyCollection(t).insertOne(doc);
      return doc._id;
    },
    update: async (_id: unknown, title: string) => {
      const doc = await legacyCollection(t).findOne({ _id } as Document);
      await legacyCollection(t).updateOne(
        { _id } as Document,
        {
          $set: { title, v: (doc!.v ?? 0) + 1, updated: new Date() },
          $push: { messages: { role: 'assistant', text: `reply to ${title}`, ts: new Date() } },
        } as Document,
      );
    },
    softDelete: async (_id: unknown) => {
      const doc = await legacyCollection(t).findOne({ _id } as Document);
      await legacyCollection(t).updateOne({ _id } as Document, { $set: { deleted: true, v: (doc!.v ?? 0) + 1, updated: new Date() } });
    },
  };

  it('brings inserts, updates and soft deletes made during the backfill to PostgreSQL', async () => {
    const { runId } = await startBackfill(t);
    const inserted: ObjectId[] = [];
    const updated = new Set<string>();
    const deleted = new Set<string>();
    let round = 0;
    const unreadableId = new ObjectId();
    await legacyCollection(t).insertOne({ _id: unreadableId, title: 'no owner yet', created: new Date(), updated: new Date(), v: 1 });
    await waitFor(
      'catch-up to dead-letter the unreadable insert',
      async () => (await openDeadLetters(t)).has(unreadableId.toHexString()),
      30_000,
      100,
    );
    expect((await openDeadLetters(t)).get(unreadableId.toHexString())).toMatch(/^user_id: missing/);

    // Keep changing things until the backfill is over: some changes hit ranges already copied, some not.
    for (;;) {
      const [{ status }] = (await t.pg.query('SELECT status FROM sync_runs WHERE id = $1', [runId])).rows;
      if (status !== 'running' && round >= 3) break;
      round++;
      inserted.push(await legacyApp.insert(true), await legacyApp.insert(false));
      for (let k = 0; k < 6; k++) {
        const victim = seeded[(round * 97 + k * 193) % DOCS]._id;
        if (deleted.has(String(victim))) continue;
        if (k % 3 === 2) {
          await legacyApp.softDelete(victim);
          deleted.add(String(victim));
        } else {
          await legacyApp.update(victim, `round ${round} change ${k}`);
          updated.add(String(victim));
        }
      }
      if (round === 2) {
        // The legacy application fixes the document it could not read: catch-up copies it and closes its dead letter.
        await legacyCollection(t).updateOne({ _id: unreadableId }, { $set: { user_id: 'owner-found', v: 2, updated: new Date() } });
      }
      await new Promise((r) => setTimeout(r, 250));
      expect(round).toBeLessThan(400);
    }
    await waitForRunCompleted(t, runId, 60_000);
    expect(round).toBeGreaterThanOrEqual(3);

    // Catch-up converges within a few passes.
    await waitFor(
      'catch-up to bring PostgreSQL level with the legacy store',
      async () => {
        const [legacy, pg] = await Promise.all([legacyCanonical(t), pgCanonical(t)]);
        return legacy.readable.size === pg.size && [...legacy.readable].every(([id, c]) => pg.get(id) === c);
      },
      60_000,
      300,
    );
    await expectStoresEqual(t);
    for (const id of inserted) expect(await readNew(t, id.toHexString())).not.toBeNull();
    for (const id of deleted) expect((await readNew(t, id))!.deleted).toBe(true);
    for (const id of updated) expect((await readNew(t, id))!.title).toMatch(/^round \d+ change \d$/);
    expect((await openDeadLetters(t)).size).toBe(0);
    const letter = await t.pg.query('SELECT resolution FROM dead_letters WHERE conversation_id = $1', [unreadableId.toHexString()]);
    expect(letter.rows).toEqual([{ resolution: 'written' }]);

    const status = await syncStatus(t);
    expect(status.catchup.watermark).not.toBeNull();
    expect(status.catchup.lagSeconds).toBeLessThan(5);
    expect(status.catchup.newIdsAfter).toMatch(/^[0-9a-f]{24}$/);
    const metrics = { body: await t.metrics() };
    expect(metrics.body).toMatch(/^sync_catchup_lag_seconds \d/m);
    expect(metrics.body).toMatch(new RegExp(`^sync_backfill_documents\\{state="read"\\} ${DOCS}`, 'm'));
  }, 180_000);

  it('never lets an older copy overwrite a document updated after the backfill copied it', async () => {
    const id = seeded[5]._id as ObjectId;
    const olderCopy = await legacyCollection(t).findOne({ _id: id });
    const copied = await readNew(t, id.toHexString());
    expect(copied).toEqual(canonicalOf(olderCopy!));

    await legacyApp.update(id, 'changed after the copy');
    const pass = await t.request('POST', '/migration/sync/catchup?wait=true', { token: OPERATOR_TOKEN });
    expect(pass.status).toBe(200);
    expect(pass.body.state).toBe('completed');
    const newer = await legacyCollection(t).findOne({ _id: id });
    expect(await readNew(t, id.toHexString())).toEqual(canonicalOf(newer!));

    // The older copy arrives late (a slow backfill batch, a replayed job): the version guard refuses it.
    const writer = t.app.get(BatchWriter);
    const result = await writer.write(writer.prepare([olderCopy as never], 'backfill'), { commit: async () => undefined });
    expect(result).toMatchObject({ read: 1, written: 0, skipped: 1, dead: 0 });
    expect(await readNew(t, id.toHexString())).toEqual(canonicalOf(newer!));
  });

  it('copies a document dated in the future but keeps the watermark at the present', async () => {
    const future = new Date(Date.now() + 365 * 86400_000);
    const _id = new ObjectId();
    await legacyCollection(t).insertOne({ _id, user_id: 'clock-skew', created: new Date(), updated: future, v: 1 });
    const pass = await t.request('POST', '/migration/sync/catchup?wait=true', { token: OPERATOR_TOKEN });
    expect(pass.body.state).toBe('completed');
    expect(await readNew(t, _id.toHexString())).not.toBeNull();
    const status = await syncStatus(t);
    expect(new Date(status.catchup.watermark.updated).getTime()).toBeLessThanOrEqual(Date.now());

    // A change made now (with a present `updated`) is still seen.
    const now = seeded[7]._id;
    await legacyApp.update(now, 'after the future document');
    await waitFor(
      'the present change to be copied',
      async () => (await readNew(t, String(now)))?.title === 'after the future document',
      30_000,
      200,
    );
  });

  it('reads a short tail (a change and an insert without `updated`) with one query, and a long one in order', async () => {
    // Manual passes only, so the pass asked for here is the one that finds the changes. (It also re-reads, and
    // skips, what the overlap window and the future-dated document of the test before bring back.)
    await t.app.get(CatchupQueue).schedule(0);
    try {
      const changed = seeded[9]._id;
      await legacyApp.update(changed, 'short tail');
      const inserted = await legacyApp.insert(false);
      const short = await t.request('POST', '/migration/sync/catchup?wait=true', { token: OPERATOR_TOKEN });
      expect(short.body).toMatchObject({ state: 'completed', result: { written: 2, batches: 1, exhausted: true } });
      expect((await readNew(t, String(changed)))!.title).toBe('short tail');
      expect(await readNew(t, inserted.toHexString())).not.toBeNull();

      // More than a batch (SYNC_BATCH_SIZE 100): the ordered scans page through it, and the inserts after it.
      const many = seeded.slice(100, 250).map((d) => d._id);
      for (const id of many) await legacyApp.update(id, 'long tail');
      const late = await legacyApp.insert(false);
      const long = await t.request('POST', '/migration/sync/catchup?wait=true', { token: OPERATOR_TOKEN });
      expect(long.body).toMatchObject({ state: 'completed', result: { written: 151, exhausted: true } });
      expect(long.body.result.batches).toBeGreaterThanOrEqual(3);
      for (const id of many) expect((await readNew(t, String(id)))!.title).toBe('long tail');
      expect(await readNew(t, late.toHexString())).not.toBeNull();
    } finally {
      await t.app.get(CatchupQueue).schedule(Number(SYNC_ENV.CATCHUP_INTERVAL_MS));
    }
  });

  it('runs a pass from the CLI and prints what it copied, the documents already current counted as such', async () => {
    await t.app.get(CatchupQueue).schedule(0);
    try {
      await legacyApp.update(seeded[11]._id, 'from the CLI');
      const cli = await promisify(execFile)(
        path.join(ROOT, 'node_modules/.bin/ts-node'),
        ['--transpile-only', '-P', 'tsconfig.json', 'scripts/sync-cli.ts', 'catchup'],
        { cwd: ROOT, env: { ...process.env, SYNC_API_URL: t.url, OPERATOR_TOKEN }, timeout: 60_000 },
      );
      // The overlap window brings back what the passes before copied: read again, already current. (A pass
      // scheduled before schedule(0) may still have been under way and copied the change first.)
      expect(cli.stdout).toMatch(
        /^catch-up pass: [\d,]+ read, [01] written, [1-9][\d,]* already current, 0 dead-lettered in \d+ batches$/m,
      );
      expect(cli.stdout).not.toMatch(/skipped: \d/);
      expect((await readNew(t, String(seeded[11]._id)))!.title).toBe('from the CLI');
    } finally {
      await t.app.get(CatchupQueue).schedule(Number(SYNC_ENV.CATCHUP_INTERVAL_MS));
    }
  }, 90_000);
});

describe('catch-up pass asked for with ?wait=true and no worker to run it', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp({ ...SYNC_ENV, CATCHUP_INTERVAL_MS: '0', CATCHUP_WAIT_MS: '500', ...isolatedRedis() });
    await t.app.get(CatchupQueue).queue.obliterate({ force: true });
  });

  afterAll(async () => {
    await t?.close();
  });

  it('answers 202 with the pass still waiting once CATCHUP_WAIT_MS has passed, and the pass stays queued', async () => {
    // The default wait (30 s) is a whole client timeout (the CI fuzzer's, many load balancers'): a caller must be
    // able to bound it. Here nothing serves the queue, so the pass cannot start.
    const started = Date.now();
    const res = await t.request('POST', '/migration/sync/catchup?wait=true', { token: OPERATOR_TOKEN });
    const elapsed = Date.now() - started;
    expect(res.status).toBe(202);
    expect(res.body).toEqual({ jobId: expect.any(String), state: 'waiting' });
    expect(elapsed).toBeGreaterThanOrEqual(500);
    expect(elapsed).toBeLessThan(15_000);
    expect(await t.app.get(CatchupQueue).queue.getJobState(res.body.jobId)).toBe('waiting');
  });

  it('joins a manual pass that has not started yet instead of queueing another', async () => {
    const queue = t.app.get(CatchupQueue).queue;
    const asked = [];
    for (let i = 0; i < 5; i++) asked.push(await t.request('POST', '/migration/sync/catchup', { token: OPERATOR_TOKEN }));
    // The first request queues a pass, or joins the one the test before left waiting; the others join it.
    const ids = new Set(asked.map((res) => res.body.jobId));
    expect(asked.map((res) => res.status)).toEqual([202, 202, 202, 202, 202]);
    expect(ids.size).toBe(1);
    expect(await queue.getWaitingCount()).toBe(1);
  });
});

describe('catch-up before any backfill', () => {
  let t: TestApp;
  let worker: INestApplicationContext;

  beforeAll(async () => {
    t = await startTestApp({ ...SYNC_ENV, ...isolatedRedis() });
    await t.app.get(CatchupQueue).queue.obliterate({ force: true });
    worker = await startSyncWorker(t.config);
  });

  afterAll(async () => {
    await worker?.close();
    await t?.close();
  });

  const pass = async () => {
    const res = await t.request('POST', '/migration/sync/catchup?wait=true', { token: OPERATOR_TOKEN });
    expect(res.status).toBe(200);
  };

  it('copies a conversation the legacy application inserted after the catch-up began (never modified, so no `updated`)', async () => {
    await pass();
    const started = await syncStatus(t);
    expect(started.backfill).toBeNull();
    // The catch-up's own start: every insert from then on is its to copy until a backfill's split says more.
    expect(started.catchup.newIdsAfter).toMatch(/^[0-9a-f]{24}$/);
    const now = new Date();
    const _id = new ObjectId();
    await legacyCollection(t).insertOne({
      _id,
      user_id: 'before-backfill',
      title: 'inserted before any backfill',
      messages: [{ role: 'user', text: 'hello', ts: now }],
      created: now,
      v: 1,
    });
    await pass();
    expect(await readNew(t, _id.toHexString())).toMatchObject({ title: 'inserted before any backfill', version: 1 });
  });
});
