/**
 * Verification against the real servers: the API starts runs, an in-process worker (serving only the
 * verify queue, on a Redis database of this file's own) runs them, and the report is read back through
 * the API. Legacy is seeded with raw documents in the current format, PostgreSQL through putMany.
 */
import { INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ObjectId } from 'mongodb';
import { DataSource } from 'typeorm';
import type { Conversation } from '../src/model/conversation.model';
import { toLegacy } from '../src/model/legacy-transform';
import { sampleConversation } from '../src/model/testing/fixtures';
import { QueueName } from '../src/queues/queue-names';
import { PostgresConversationStore } from '../src/stores/postgres/postgres-conversation.store';
import { DATA_SOURCE } from '../src/stores/stores.module';
import { VerifyQueue } from '../src/verify/verify-queue';
import { startTestApp, TestApp } from './support/app';
import { APP_TOKEN, isolatedRedis, OPERATOR_TOKEN } from './support/env';
import { expectErrorShape, expectFieldErrors, legacyCollection, readBoth, waitFor } from './support/stores';

const RUN_TIMEOUT_MS = 60_000;

/** Ids in a known order: a per-test prefix, then the number. */
let prefix = 0x100000;
const idOf = (n: number) => `${prefix.toString(16)}${n.toString(16).padStart(18, '0')}`;

function conversation(n: number, overrides: Partial<Conversation> = {}): Conversation {
  return sampleConversation({
    id: idOf(n),
    userId: `user-${n % 7}`,
    title: `conversation ${n}`,
    metadata: { n, tags: ['a', 'b'] },
    ...overrides,
  });
}

describe('verification (sync-verify)', () => {
  let t: TestApp;
  let worker: INestApplicationContext;
  let pg: PostgresConversationStore;

  beforeAll(async () => {
    t = await startTestApp({ ...isolatedRedis() });
    await t.app.get(VerifyQueue).queue.obliterate({ force: true });
    pg = new PostgresConversationStore(t.app.get<DataSource>(DATA_SOURCE));
    worker = await startVerifyWorker();
  });

  /** A worker serving only the verify queue, on this file's databases and Redis. */
  async function startVerifyWorker(): Promise<INestApplicationContext> {
    // Required lazily, as a worker process does.
    const { WorkerModule } = await import('../src/worker.module');
    const ctx = await NestFactory.createApplicationContext(WorkerModule.forRoot(t.config, [QueueName.Verify]), { logger: false });
    await ctx.init();
    return ctx;
  }

  afterAll(async () => {
    await worker?.close();
    await t?.close();
  });

  beforeEach(async () => {
    prefix += 1;
    await legacyCollection(t).deleteMany({});
    await t.pg.query('TRUNCATE conversations, verification_runs, dead_letters CASCADE');
  });

  const seedLegacy = async (cs: Conversation[]) => {
    if (cs.length > 0) await legacyCollection(t).insertMany(cs.map((c) => ({ ...toLegacy(c), _id: new ObjectId(c.id) })));
  };
  const seedBoth = async (cs: Conversation[]) => {
    await seedLegacy(cs);
    await pg.putMany(cs);
  };

  const op = (method: string, path: string, body?: unknown) => t.request(method, path, { token: OPERATOR_TOKEN, body });

  async function startRun(body: Record<string, unknown> = {}): Promise<number> {
    const res = await op('POST', '/migration/verify', { recheckDelayMs: 100, ...body });
    expect({ status: res.status, body: res.body }).toEqual({ status: 202, body: expect.objectContaining({ status: 'queued' }) });
    expect(res.headers.get('location')).toBe(`/migration/verify/${res.body.id}`);
    return res.body.id;
  }

  async function finished(runId: number): Promise<any> {
    let report: any;
    await waitFor(
      `verification run ${runId} to finish`,
      async () => {
        report = (await op('GET', `/migration/verify/${runId}`)).body;
        return report.status === 'completed' || report.status === 'failed';
      },
      RUN_TIMEOUT_MS,
      100,
    );
    expect(report.error).toBeNull();
    expect(report.status).toBe('completed');
    return report;
  }

  /** Every reported difference of a run, page by page. */
  async function allDifferences(runId: number, query = '', pageSize = 500): Promise<any[]> {
    const items: any[] = [];
    for (let offset: number | null = 0; offset !== null;) {
      const res = await op('GET', `/migration/verify/${runId}?offset=${offset}&limit=${pageSize}${query}`);
      expect(res.status).toBe(200);
      expect(res.body.differences.items.length).toBeLessThanOrEqual(pageSize);
      items.push(...res.body.differences.items);
      offset = res.body.differences.nextOffset;
    }
    return items;
  }

  it('is for operators only and checks its input', async () => {
    expectErrorShape(await t.request('POST', '/migration/verify', { token: null }), 401, 'UNAUTHORIZED');
    expectErrorShape(await t.request('POST', '/migration/verify', { token: APP_TOKEN }), 403, 'FORBIDDEN');
    expectErrorShape(await t.request('GET', '/migration/verify/1', { token: APP_TOKEN }), 403, 'FORBIDDEN');
    expectFieldErrors(await op('POST', '/migration/verify', { chunkSize: 1, sample: 10, repair: 'yes' }), [
      'chunkSize',
      'sample',
      'repair',
    ]);
    expectFieldErrors(await op('GET', '/migration/verify/abc'), ['runId']);
    expectFieldErrors(await op('GET', '/migration/verify/1?kind=everything&limit=0'), ['kind', 'limit']);
    expectErrorShape(await op('GET', '/migration/verify/999999'), 404, 'NOT_FOUND');
  });

  it('reports zero differences for equal stores, soft-deleted records included', async () => {
    const cs = Array.from({ length: 250 }, (_, i) =>
      conversation(i, i % 10 === 0 ? { deleted: true, version: 4 } : i % 7 === 0 ? { messages: [], metadata: {} } : {}),
    );
    await seedBoth(cs);
    const report = await finished(await startRun({ chunkSize: 100 }));
    expect(report.totals).toEqual({ missing: 0, extra: 0, different: 0, unreadable: 0, repaired: 0, pendingRecheck: 0 });
    expect(report.clean).toBe(true);
    expect(report.progress).toMatchObject({ recordsCompared: 250, chunksDiffering: 0, percent: 100, etaSeconds: null });
    expect(report.progress.chunksDone).toBeGreaterThanOrEqual(3);
    expect(report.progress.ratePerSecond).toBeGreaterThan(0);
    expect(report.differences).toMatchObject({ total: 0, items: [] });

    const listed = await op('GET', '/migration/verify');
    expect(listed.body.items[0]).toMatchObject({ id: report.id, status: 'completed', clean: true });
    const metrics = { body: await t.metrics() };
    expect(metrics.body).toMatch(/verification_latest_run_differences\{kind="missing"\} 0/);
    expect(metrics.body).toMatch(/verification_latest_run_records_compared 250/);
  });

  it('walks the stores in segments, and compares the documents whose `_id` is no ObjectId once, outside them', async () => {
    const cs = Array.from({ length: 400 }, (_, i) => conversation(i));
    await seedBoth(cs);
    await t.pg.query('DELETE FROM conversations WHERE id = ANY($1)', [[idOf(0), idOf(133), idOf(399)]]);
    // A 24-hex string `_id` is compared with that id's row; a number is no conversation id.
    const stringId = conversation(1000);
    await legacyCollection(t).insertOne({ ...toLegacy(stringId), _id: stringId.id as never });
    await pg.putMany([stringId]);
    await legacyCollection(t).insertOne({ ...toLegacy(conversation(1001)), _id: 42 as never });

    const report = await finished(await startRun({ chunkSize: 20, segments: 3 }));
    expect(report.progress.segments).toEqual({ total: 3, done: 3, active: 0, workers: 1 });
    // The segments hold 400 ObjectIds and the string id's row (an `extra` of the walk until its recheck finds the
    // document by its string `_id`); the two other documents are compared once, outside them.
    expect(report.progress.recordsCompared).toBe(403);
    // The number `_id` cannot be read as a conversation: `different`, its reason saying why (`unreadable` once
    // the sync has dead-lettered it).
    expect(report.totals).toMatchObject({ missing: 3, extra: 0, different: 1 });
    const differences = await allDifferences(report.id);
    expect(differences.filter((d) => d.kind === 'missing').map((d) => d.conversationId)).toEqual([idOf(0), idOf(133), idOf(399)]);
    expect(differences.find((d) => d.kind === 'different')).toMatchObject({
      conversationId: '{"$numberInt":"42"}',
      reason: expect.stringContaining('got number 42'),
    });
    const segments = (
      await t.pg.query('SELECT start_after, end_at, done, records_compared FROM verification_segments WHERE run_id = $1 ORDER BY segment', [
        report.id,
      ])
    ).rows;
    expect(segments.map((r) => [r.start_after !== null, r.end_at !== null, r.done])).toEqual([
      [false, true, true],
      [true, true, true],
      [true, false, true],
    ]);
    expect(segments.reduce((n, r) => n + Number(r.records_compared), 0)).toBe(401);
  });

  it('finds planted differences of every kind, with their paths', async () => {
    const cs = Array.from({ length: 300 }, (_, i) => conversation(i));
    await seedBoth(cs);
    const plant = async (n: number, legacy: Conversation | null, next: Conversation | null) => {
      await legacyCollection(t).deleteOne({ _id: new ObjectId(idOf(n)) });
      await t.pg.query('DELETE FROM conversations WHERE id = $1', [idOf(n)]);
      if (legacy) await seedLegacy([legacy]);
      if (next) await pg.putMany([next]);
    };
    const c = (n: number, o: Partial<Conversation> = {}) => conversation(n, o);
    const swapped = (n: number) => {
      const m = c(n).messages;
      return c(n, { messages: [m[1], m[0], m[2]] });
    };
    await plant(5, c(5), null); // missing
    await plant(1000, c(1000), null); // missing, past the end of PostgreSQL
    await plant(17, null, c(17)); // extra
    await pg.putMany([c(1001)]); // extra, past the end of legacy
    await plant(40, c(40), c(40, { title: 'edited only in PostgreSQL' }));
    await plant(41, c(41), c(41, { metadata: { n: 41, tags: ['a', 'c'] } }));
    await plant(42, c(42), c(42, { messages: c(42).messages.map((m, i) => (i === 1 ? { ...m, content: 'rewritten' } : m)) }));
    await plant(43, c(43), swapped(43));
    await plant(44, c(44, { deleted: true }), c(44));
    await plant(45, c(45, { version: 9, title: 'newer in legacy' }), c(45));
    // Unreadable (no user id): not a crash; `different` with its reason, or `unreadable` once dead-lettered.
    await plant(60, null, c(60));
    await legacyCollection(t).insertOne({ _id: new ObjectId(idOf(60)), title: 'broken', created: new Date('2024-01-01T00:00:00Z'), v: 3 });
    await plant(61, null, null);
    await legacyCollection(t).insertOne({ _id: new ObjectId(idOf(61)), title: 'broken', created: new Date('2024-01-01T00:00:00Z'), v: 1 });
    await t.pg.query(`INSERT INTO dead_letters (conversation_id, source, reason, raw) VALUES ($1, 'backfill', 'user_id: missing', '{}')`, [
      idOf(61),
    ]);

    const report = await finished(await startRun({ chunkSize: 50 }));
    const byId = new Map((await allDifferences(report.id, '', 7)).map((d) => [d.conversationId, d]));
    const expectDifference = (n: number, kind: string, paths: string[], extra: Record<string, unknown> = {}) =>
      expect({ n, ...byId.get(idOf(n)) }).toMatchObject({
        n,
        conversationId: idOf(n),
        kind,
        paths: expect.arrayContaining(paths),
        repaired: false,
        ...extra,
      });

    expectDifference(5, 'missing', [], { legacyVersion: 3, newVersion: null, reason: null });
    expectDifference(1000, 'missing', []);
    expectDifference(17, 'extra', [], { legacyVersion: null, newVersion: 3 });
    expectDifference(1001, 'extra', []);
    expectDifference(40, 'different', ['title']);
    expectDifference(41, 'different', ['metadata.tags[1]']);
    expectDifference(42, 'different', ['messages[1].content']);
    expectDifference(43, 'different', ['messages[0].content', 'messages[1].content', 'messages[0].createdAt']);
    expectDifference(44, 'different', ['deleted'], { legacyVersion: 3, newVersion: 3 });
    expectDifference(45, 'different', ['title', 'version'], { legacyVersion: 9, newVersion: 3 });
    expectDifference(60, 'different', ['<unreadable>'], { reason: expect.stringMatching(/user_id/) });
    expectDifference(61, 'unreadable', ['<unreadable>']);
    expect(byId.get(idOf(40))!.paths).toEqual(['title']);
    expect(byId.size).toBe(12);

    expect(report.totals).toEqual({ missing: 2, extra: 2, different: 7, unreadable: 1, repaired: 0, pendingRecheck: 0 });
    expect(report.clean).toBe(false);
    expect(report.progress.chunksDiffering).toBeGreaterThan(0);
    expect(report.progress.chunksDiffering).toBeLessThan(report.progress.chunksDone);
    const missing = await allDifferences(report.id, '&kind=missing');
    expect(missing.map((d) => d.conversationId)).toEqual([idOf(5), idOf(1000)]);
  });

  it('lists every difference when there are more than 1,000, across many chunks and pages', async () => {
    const shared = Array.from({ length: 300 }, (_, i) => conversation(2 * i));
    const missing = Array.from({ length: 1200 }, (_, i) => conversation(2 * i + 1));
    await seedBoth(shared);
    await seedLegacy(missing);
    const report = await finished(await startRun({ chunkSize: 100 }));
    expect(report.totals).toMatchObject({ missing: 1200, extra: 0, different: 0, pendingRecheck: 0 });
    expect(report.progress.recordsCompared).toBe(1500);
    expect(report.progress.chunksDone).toBeGreaterThanOrEqual(15);

    const first = await op('GET', `/migration/verify/${report.id}?limit=1000`);
    expect(first.body.differences).toMatchObject({ total: 1200, offset: 0, limit: 1000, nextOffset: 1000 });
    expect(first.body.differences.items).toHaveLength(1000);
    const listed = await allDifferences(report.id, '&kind=missing', 450);
    expect(listed.map((d) => d.conversationId)).toEqual(missing.map((c) => c.id));
    expect(new Set(listed.map((d) => d.kind))).toEqual(new Set(['missing']));
    expect((await op('GET', `/migration/verify/${report.id}?kind=extra`)).body.differences.total).toBe(0);
  });

  it('repairs from the source of truth, then verifies those ids again; the next run is clean', async () => {
    await t.setPhase('not_started'); // no dual write yet: legacy is the source of truth
    const cs = Array.from({ length: 120 }, (_, i) => conversation(i));
    await seedBoth(cs);
    await t.pg.query('DELETE FROM conversations WHERE id = ANY($1)', [[idOf(3), idOf(70)]]); // missing
    await pg.putMany([conversation(500)]); // extra
    await pg.putMany([conversation(10, { version: 4, title: 'only in PostgreSQL' })]); // different, new ahead
    await t.pg.query('UPDATE conversations SET deleted = true WHERE id = $1', [idOf(11)]); // different deleted flag
    await t.pg.query(`UPDATE messages SET content = 'tampered' WHERE conversation_id = $1 AND seq = 2`, [idOf(12)]); // different message

    const repair = await finished(await startRun({ repair: true, chunkSize: 50 }));
    expect(repair.mode).toBe('repair');
    expect(repair.totals).toEqual({ missing: 0, extra: 0, different: 0, unreadable: 0, repaired: 6, pendingRecheck: 0 });
    expect(repair.clean).toBe(true);
    const listed = await allDifferences(repair.id);
    expect(listed.map((d) => [d.conversationId, d.kind, d.repaired])).toEqual([
      [idOf(3), 'missing', true],
      [idOf(10), 'different', true],
      [idOf(11), 'different', true],
      [idOf(12), 'different', true],
      [idOf(70), 'missing', true],
      [idOf(500), 'extra', true],
    ]);
    for (const n of [3, 10, 11, 12, 70]) {
      const both = await readBoth(t, idOf(n));
      expect(both.pg).toEqual(both.legacy);
    }
    expect((await readBoth(t, idOf(500))).pg).toBeNull();

    const again = await finished(await startRun());
    expect(again.totals).toEqual({ missing: 0, extra: 0, different: 0, unreadable: 0, repaired: 0, pendingRecheck: 0 });
    expect(again.progress.recordsCompared).toBe(120);
  });

  it('resumes from its checkpoint on another worker when its worker shuts down mid-run', async () => {
    const cs = Array.from({ length: 600 }, (_, i) => conversation(i));
    await seedBoth(cs);
    await t.pg.query('DELETE FROM conversations WHERE id = ANY($1)', [[idOf(10), idOf(300), idOf(590)]]);
    const runId = await startRun({ chunkSize: 50, pauseMs: 250 });
    await waitFor(
      'a few chunks',
      async () => (await op('GET', `/migration/verify/${runId}`)).body.progress.chunksDone >= 3,
      RUN_TIMEOUT_MS,
      25,
    );

    await worker.close(); // stops at the next chunk boundary and hands the job back
    const [held] = (await t.pg.query('SELECT status, claimed_by, chunks_done FROM verification_runs WHERE id = $1', [runId])).rows;
    expect(held).toMatchObject({ status: 'running', claimed_by: null });
    expect(held.chunks_done).toBeLessThan(12);
    // One segment (600 records make no more at 50 a chunk), given back with its cursor.
    const segments = (await t.pg.query('SELECT cursor, done, claimed_by FROM verification_segments WHERE run_id = $1', [runId])).rows;
    expect(segments).toEqual([{ cursor: expect.stringMatching(/^[0-9a-f]{24}$/), done: false, claimed_by: null }]);

    worker = await startVerifyWorker();
    const report = await finished(runId);
    expect(report.progress.recordsCompared).toBe(600);
    expect(report.progress.chunksDone).toBeGreaterThanOrEqual(12); // plus, at most, an empty last one
    expect(report.totals).toMatchObject({ missing: 3, extra: 0, different: 0 });
    expect((await allDifferences(runId)).map((d) => d.conversationId)).toEqual([idOf(10), idOf(300), idOf(590)]);
  });

  it('does not report a record that changed between the first compare and the recheck; one run at a time', async () => {
    const cs = Array.from({ length: 60 }, (_, i) => conversation(i));
    await seedBoth(cs);
    const inFlight = conversation(20, { version: 4, title: 'written to legacy first' });
    const stale = conversation(30, { version: 4, title: 'legacy only, for good' });
    for (const c of [inFlight, stale])
      await legacyCollection(t).replaceOne({ _id: new ObjectId(c.id) }, { ...toLegacy(c), _id: new ObjectId(c.id) });

    const runId = await startRun({ recheckDelayMs: 3000, chunkSize: 20 });
    await waitFor(
      'both records to be suspects',
      async () => (await op('GET', `/migration/verify/${runId}`)).body.totals.pendingRecheck === 2,
      RUN_TIMEOUT_MS,
      25,
    );
    // While it runs, a second run is refused with the one to follow.
    const second = expectErrorShape(await op('POST', '/migration/verify', {}), 409, 'VERIFICATION_RUNNING');
    expect(second.message).toContain(`/migration/verify/${runId}`);
    // The dual write (or catch-up) lands before the recheck.
    await pg.putMany([inFlight]);

    const report = await finished(runId);
    expect(report.totals).toMatchObject({ different: 1, pendingRecheck: 0 });
    expect((await allDifferences(runId)).map((d) => [d.conversationId, d.paths])).toEqual([[stale.id, ['title', 'version']]]);
  });
});
