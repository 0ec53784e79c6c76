import { execFile } from 'node:child_process';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { INestApplicationContext } from '@nestjs/common';
import fc from 'fast-check';
import { ObjectId } from 'mongodb';
import { hasNestedArray } from '../src/model/testing/ferretdb-limits';
import { arbWildLegacyCase } from '../src/model/testing/legacy-arbitraries';
import { BackfillQueue } from '../src/sync/backfill/backfill.queue';
import { CatchupQueue } from '../src/sync/catchup/catchup.queue';
import { SyncThrottler } from '../src/sync/throttle/throttler';
import { startTestApp, TestApp } from './support/app';
import { APP_TOKEN, isolatedRedis, OPERATOR_TOKEN, ROOT } from './support/env';
import { legacyCollection, readNew } from './support/stores';
import {
  canonicalOf,
  expectStoresEqual,
  FAST_SYNC_ENV,
  openDeadLetters,
  ranges,
  seedLegacy,
  startBackfill,
  startSyncWorker,
  syncStatus,
  waitForRunCompleted,
} from './support/sync';

const run = promisify(execFile);
const created = new Date('2023-04-05T06:07:08.009Z');

/** Documents the transform must refuse, each with the reason it must give (by dead-letter key). */
function unreadableDocuments() {
  const ids = Array.from({ length: 9 }, () => new ObjectId());
  const docs = [
    { _id: ids[0], title: 'no owner', created, v: 2 },
    { _id: ids[1], user_id: 'u1', created, messages: [{ role: 'user', ts: created }] },
    { _id: ids[2], user_id: 'u1', created: 'yesterday at noon' },
    { _id: ids[3], user_id: 'u1', created, colour: 'blue' },
    { _id: ids[4], user_id: 'u1', created, title: 'nul\u0000inside' },
    { _id: ids[5], user_id: 'u1', created, updated: '2024-01-01T00:00:00Z' },
    { _id: ids[6], user_id: 'u1', created, v: -3 },
    { _id: ids[7], user_id: 'u1', created, messages: [{ role: 'WIZARD', text: 'hi', ts: created }] },
    { _id: ids[8], user_id: 'u1', userId: 'u2', created },
    // Ids that are not ObjectIds sort outside every ObjectId range: range 0 must still find them.
    { _id: 'legacy-7', user_id: 'u1', created },
    { _id: 42, user_id: 'u1', created },
  ];
  const reasons = new Map<string, RegExp>([
    [ids[0].toHexString(), /^user_id: missing/],
    [ids[1].toHexString(), /^messages\[0\]\.text: missing/],
    [ids[2].toHexString(), /^created: /],
    [ids[3].toHexString(), /^colour: unknown field/],
    [ids[4].toHexString(), /^title: contains a NUL character/],
    [ids[5].toHexString(), /^updated: expected a Date/],
    [ids[6].toHexString(), /^v: expected a non-negative integer/],
    [ids[7].toHexString(), /^messages\[0\]\.role: unknown role/],
    [ids[8].toHexString(), /^user_id: conflicts with legacy userId/],
    ['legacy-7', /^_id: expected an ObjectId/],
    ['{"$numberInt":"42"}', /^_id: expected an ObjectId/],
  ]);
  return { docs, reasons, ids };
}

describe('backfill', () => {
  let t: TestApp;
  let worker: INestApplicationContext;
  const unreadable = unreadableDocuments();
  const stringHexId = new ObjectId().toHexString();

  beforeAll(async () => {
    // No catch-up schedule here: the counters below are the backfill's alone (catch-up has its own test).
    t = await startTestApp({
      ...FAST_SYNC_ENV,
      CATCHUP_INTERVAL_MS: '0',
      ...isolatedRedis(),
      SYNC_BATCH_SIZE: '40',
      SYNC_RANGE_SIZE: '50',
    });
    await t.app.get(BackfillQueue).queue.obliterate({ force: true });
    await t.app.get(CatchupQueue).queue.obliterate({ force: true });
    // Every variation of SPEC section 1 (FerretDB cannot store arrays of arrays), plus the unreadable ones.
    const wild = fc.sample(
      arbWildLegacyCase().filter((c) => !hasNestedArray(c.document)),
      { numRuns: 160, seed: 4242 },
    );
    await seedLegacy(
      t,
      wild.map((c) => c.document),
    );
    await legacyCollection(t).insertMany(unreadable.docs as never[]);
    // A readable document whose `_id` is a hex string rather than an ObjectId.
    await legacyCollection(t).insertOne({ _id: stringHexId, user_id: 'u9', created } as never);
    worker = await startSyncWorker(t.config);
  });

  afterAll(async () => {
    await worker?.close();
    await t?.close();
  });

  it('is for operators only', async () => {
    for (const [method, p] of [
      ['GET', '/migration/sync'],
      ['POST', '/migration/sync/backfill'],
      ['POST', '/migration/sync/catchup'],
      ['POST', '/migration/sync/pause'],
      ['POST', '/migration/sync/resume'],
      ['GET', '/migration/sync/dead-letters'],
      ['POST', '/migration/sync/dead-letters/redrive'],
    ]) {
      expect({ p, status: (await t.request(method, p, { token: null })).status }).toEqual({ p, status: 401 });
      expect({ p, status: (await t.request(method, p, { token: APP_TOKEN })).status }).toEqual({ p, status: 403 });
    }
  });

  it('copies every readable variation exactly and dead-letters exactly the unreadable ones (started from the CLI)', async () => {
    const cli = await run(
      path.join(ROOT, 'node_modules/.bin/ts-node'),
      ['--transpile-only', '-P', 'tsconfig.json', 'scripts/sync-cli.ts', 'backfill'],
      {
        cwd: ROOT,
        env: { ...process.env, SYNC_API_URL: t.url, OPERATOR_TOKEN, SYNC_CLI_POLL_MS: '200' },
        timeout: 90_000,
      },
    );
    expect(cli.stdout).toMatch(/run \d+ started: \d+ ranges/);
    expect(cli.stdout).toMatch(/100\.0% .* ETA done/);
    expect(cli.stdout).toMatch(/run \d+ completed: \d+ written, 0 skipped, 11 dead-lettered/);
    expect(cli.stdout).not.toContain(OPERATOR_TOKEN);

    const legacy = await expectStoresEqual(t);
    expect(legacy.readable.size).toBe(161);
    expect(legacy.readable.has(stringHexId)).toBe(true);
    // Exactly the unreadable documents, each with the transform's reason.
    const dead = await openDeadLetters(t);
    expect([...dead.keys()].sort()).toEqual([...unreadable.reasons.keys()].sort());
    expect([...legacy.unreadable.keys()].sort()).toEqual([...unreadable.reasons.keys()].sort());
    for (const [id, pattern] of unreadable.reasons) {
      expect({ id, reason: dead.get(id) }).toEqual({ id, reason: expect.stringMatching(pattern) });
      expect(dead.get(id)).toBe(legacy.unreadable.get(id));
    }

    // Counters: every document read once, each readable one written once.
    const status = await syncStatus(t);
    expect(status.backfill).toMatchObject({
      status: 'completed',
      percent: 100,
      etaSeconds: 0,
      splitComplete: true,
      counts: { expected: 169, read: 172, written: 161, skipped: 0, dead: 11 },
    });
    expect(status.backfill.ranges.done).toBe(status.backfill.ranges.total);
    expect(status.deadLetters.open).toBe(11);
    const rs = await ranges(t, status.backfill.runId);
    expect(rs.filter((r) => r.kind === 'other_ids')).toEqual([
      expect.objectContaining({ range_no: 0, docs_read: 3, docs_written: 1, docs_dead: 2 }),
    ]);
    for (const r of rs.filter((x) => x.kind === 'ids')) expect(r.docs_read).toBe(r.docs_expected);
  });

  it('keeps the raw document of each dead letter with its types, and lists them page by page', async () => {
    const seen: any[] = [];
    let cursor: string | null = null;
    do {
      const res = await t.request('GET', `/migration/sync/dead-letters?limit=4${cursor ? `&cursor=${cursor}` : ''}`, {
        token: OPERATOR_TOKEN,
      });
      expect(res.status).toBe(200);
      expect(res.body.items.length).toBeLessThanOrEqual(4);
      seen.push(...res.body.items);
      cursor = res.body.nextCursor;
    } while (cursor);
    expect(seen.map((d) => d.conversationId).sort()).toEqual([...unreadable.reasons.keys()].sort());
    expect(new Set(seen.map((d) => d.id)).size).toBe(seen.length);
    const noOwner = seen.find((d) => d.conversationId === unreadable.ids[0].toHexString());
    expect(noOwner).toMatchObject({
      source: 'backfill',
      resolvedAt: null,
      raw: {
        _id: { $oid: unreadable.ids[0].toHexString() },
        title: 'no owner',
        created: { $date: { $numberLong: String(created.getTime()) } },
        v: { $numberInt: '2' },
      },
    });
    const nul = seen.find((d) => d.conversationId === unreadable.ids[4].toHexString());
    expect(nul.raw.title).toBe('nul\\u0000inside');
    expect((await t.request('GET', '/migration/sync/dead-letters?limit=0', { token: OPERATOR_TOKEN })).status).toBe(400);
  });

  it('re-drives dead letters: fixed ones are written and resolved, broken ones keep their (new) reason, deleted ones are gone', async () => {
    const raw = legacyCollection(t);
    const [noOwner, noText, badDate] = unreadable.ids;
    await raw.updateOne({ _id: noOwner }, { $set: { user_id: 'fixed-owner' } });
    await raw.updateOne({ _id: noText }, { $set: { 'messages.0.text': 'now it has text' } });
    await raw.updateOne({ _id: badDate }, { $set: { created: 'still not a date' } });
    await raw.deleteOne({ _id: unreadable.ids[3] });
    await raw.deleteOne({ _id: 'legacy-7' } as never);

    const res = await t.request('POST', '/migration/sync/dead-letters/redrive', { token: OPERATOR_TOKEN, body: {} });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ redriven: 11, written: 2, alreadyCurrent: 0, stillUnreadable: 7, gone: 2, open: 7 });

    for (const id of [noOwner, noText]) {
      const doc = await raw.findOne({ _id: id });
      expect(await readNew(t, id.toHexString())).toEqual(canonicalOf(doc!));
    }
    const dead = await openDeadLetters(t);
    expect(dead.has(noOwner.toHexString())).toBe(false);
    expect(dead.get(badDate.toHexString())).toMatch(/^created: .*still not a date/);
    const resolved = await t.pg.query(
      `SELECT conversation_id, resolution FROM dead_letters WHERE resolved_at IS NOT NULL ORDER BY conversation_id`,
    );
    expect(resolved.rows).toEqual(
      expect.arrayContaining([
        { conversation_id: noOwner.toHexString(), resolution: 'written' },
        { conversation_id: noText.toHexString(), resolution: 'written' },
        { conversation_id: unreadable.ids[3].toHexString(), resolution: 'gone' },
        { conversation_id: 'legacy-7', resolution: 'gone' },
      ]),
    );
    // Re-driving a written one again would be "already current"; only the named ones are touched.
    const [{ id: badDateLetter }] = (
      await t.pg.query(`SELECT id::int FROM dead_letters WHERE conversation_id = $1 AND resolved_at IS NULL`, [badDate.toHexString()])
    ).rows;
    const one = await t.request('POST', '/migration/sync/dead-letters/redrive', { token: OPERATOR_TOKEN, body: { ids: [badDateLetter] } });
    expect(one.body).toMatchObject({ redriven: 1, stillUnreadable: 1, open: 7 });
    expect((await t.request('POST', '/migration/sync/dead-letters/redrive', { token: OPERATOR_TOKEN, body: { ids: ['x'] } })).status).toBe(
      400,
    );
  });

  it('a second run rereads everything and writes nothing older or equal (version guard)', async () => {
    const before = await t.pg.query('SELECT count(*)::int AS n FROM conversations');
    const { runId, resumed } = await startBackfill(t);
    expect(resumed).toBe(false);
    await waitForRunCompleted(t, runId, 60_000);
    const status = await syncStatus(t);
    expect(status.backfill.runId).toBe(runId);
    expect(status.backfill.counts).toMatchObject({ written: 0, skipped: 163, dead: 7 });
    expect((await t.pg.query('SELECT count(*)::int AS n FROM conversations')).rows[0].n).toBe(before.rows[0].n);
    await expectStoresEqual(t);
  });

  it('pauses between batches and resumes from the checkpoint; a second start resumes the running run', async () => {
    expect(
      (await t.request('POST', '/migration/sync/pause', { token: OPERATOR_TOKEN, body: { reason: 'maintenance window' } })).status,
    ).toBe(200);
    const { runId } = await startBackfill(t);
    const again = await startBackfill(t);
    expect(again).toMatchObject({ runId, resumed: true, enqueued: 0 });

    // Jobs come back every SYNC_PAUSE_POLL_MS and find the pause: nothing is read.
    await new Promise((r) => setTimeout(r, 1500));
    let status = await syncStatus(t);
    expect(status.paused).toBe(true);
    expect(status.pause).toMatchObject({ by: 'ops', reason: 'maintenance window' });
    expect(status.backfill).toMatchObject({ runId, status: 'running' });
    expect(status.backfill.counts.read).toBe(0);
    const counts = await t.app.get(BackfillQueue).counts();
    expect(counts.delayed + counts.waiting + counts.active).toBeGreaterThan(0);

    const resumed = await t.request('POST', '/migration/sync/resume', { token: OPERATOR_TOKEN });
    expect(resumed.status).toBe(200);
    expect(resumed.body.paused).toBe(false);
    await waitForRunCompleted(t, runId, 60_000);
    status = await syncStatus(t);
    expect(status.paused).toBe(false);
    expect(status.backfill.counts.read).toBe(170);
  });

  it('feeds the API latency of application requests to the throttler', async () => {
    const before = t.app.get(SyncThrottler).describe().latency.api?.samples ?? 0;
    await t.request('GET', `/conversations/${new ObjectId().toHexString()}`);
    await t.request('GET', '/migration/sync', { token: OPERATOR_TOKEN });
    expect(t.app.get(SyncThrottler).describe().latency.api?.samples).toBe(before + 1);
  });

  it('shows the status from the CLI', async () => {
    const out = await run(
      path.join(ROOT, 'node_modules/.bin/ts-node'),
      ['--transpile-only', '-P', 'tsconfig.json', 'scripts/sync-cli.ts', 'status'],
      {
        cwd: ROOT,
        env: { ...process.env, SYNC_API_URL: t.url, OPERATOR_TOKEN },
        timeout: 60_000,
      },
    );
    expect(out.stdout).toMatch(/\[#+\] 100\.0% \| 170\/170 docs/);
    expect(out.stdout).toMatch(/dead letters: 7 open, 4 resolved/);
    const bad = await run(
      path.join(ROOT, 'node_modules/.bin/ts-node'),
      ['--transpile-only', '-P', 'tsconfig.json', 'scripts/sync-cli.ts', 'status'],
      {
        cwd: ROOT,
        env: { ...process.env, SYNC_API_URL: t.url, OPERATOR_TOKEN: 'wrong-token-wrong-token' },
        timeout: 60_000,
      },
    ).then(
      () => null,
      (err: { code: number; stderr: string }) => err,
    );
    expect(bad!.code).toBe(1);
    expect(bad!.stderr).toMatch(/401 UNAUTHORIZED/);
  });
});
