import { INestApplicationContext } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { ObjectId } from 'mongodb';
import { fromLegacy } from '../src/model/legacy-transform';
import { MetricsService } from '../src/common/metrics/metrics.service';
import { ShadowQueue } from '../src/shadow/shadow-queue';
import { ShadowSampler } from '../src/shadow/shadow-sampler';
import type { ShadowReadPort } from '../src/shadow/shadow-read.port';
import { ShadowStatusService } from '../src/shadow/shadow-status.service';
import { ConversationStore, NEW_STORE } from '../src/stores/conversation-store.port';
import { startTestApp, TestApp } from './support/app';
import { APP_TOKEN, isolatedRedis, OPERATOR_TOKEN } from './support/env';
import { plantSyncDone, sampleCount, sleep, startShadowWorker, waitForSamples, waitForShadowIdle } from './support/shadow';
import { legacyCollection, waitFor } from './support/stores';

const RECHECK_MS = 1000;

describe('shadow comparison (real stores, real Redis, in-process worker)', () => {
  let t: TestApp;
  let worker: INestApplicationContext;
  /** The test hook in the comparison's read port: new-store reads get a field that changes on every read. */
  let plantReadNonce = false;

  beforeAll(async () => {
    t = await startTestApp({
      ...isolatedRedis(),
      SHADOW_SAMPLE_RATE: '1',
      SHADOW_CALIBRATION_RATE: '0',
      SHADOW_IGNORE_PATHS: 'metadata.lastSeen,messages[*].createdAt',
      SHADOW_LAG_RECHECK_MS: String(RECHECK_MS),
      SHADOW_LAG_RECHECKS: '2',
      SHADOW_VALUE_MAX_CHARS: '40',
    });
    await t.setPhase('shadow');
    // Every difference planted here is the stores' own: the sync has copied and caught up everything
    // (test/shadow-lag.test.ts is where the copying still under way explains differences as lag).
    await plantSyncDone(t);
    await t.app.get(ShadowQueue).queue.obliterate({ force: true });
    worker = await startShadowWorker(t.config, (stores): ShadowReadPort => ({
      get: async (store, id) => {
        const c = await stores.get(store, id);
        if (c && store === 'new' && plantReadNonce) c.metadata = { ...c.metadata, readNonce: randomUUID() };
        return c;
      },
      list: (store, userId, limit, after) => stores.list(store, userId, limit, after),
    }));
  });

  afterAll(async () => {
    await worker?.close();
    await t?.close();
  });

  const ops = (path: string) => t.request('GET', path, { token: OPERATOR_TOKEN });

  async function create(
    userId = `u-${randomUUID()}`,
    metadata: Record<string, unknown> = { a: { b: 1 }, k: 'v', lastSeen: 'then' },
  ): Promise<string> {
    const res = await t.request('POST', '/conversations', {
      body: {
        userId,
        title: 'original title',
        messages: [
          { role: 'user', content: 'hello' },
          { role: 'assistant', content: 'hi there' },
        ],
        metadata,
      },
    });
    expect(res.status).toBe(201);
    return res.body.id;
  }

  /** Reads each id once through the API (sampling is 100 %) and waits until every sample is decided. */
  async function sampleReads(ids: string[], timeoutMs = 30_000): Promise<void> {
    const before = await sampleCount(t);
    for (const id of ids) expect([200, 404]).toContain((await t.request('GET', `/conversations/${id}`)).status);
    await t.app.get(ShadowSampler).settled();
    await waitForSamples(t, before + ids.length, timeoutMs);
    await waitForShadowIdle(t);
  }

  async function mismatchesById(): Promise<Map<string, any>> {
    const res = await ops('/migration/shadow/mismatches?limit=200');
    expect(res.status).toBe(200);
    return new Map(res.body.items.filter((m: any) => m.endpoint === 'get').map((m: any) => [m.conversationId, m]));
  }

  const pg = (sql: string, params: unknown[]) => t.pg.query(sql, params);

  it('is for operators only', async () => {
    for (const path of ['/migration/shadow', '/migration/shadow/mismatches']) {
      expect((await t.request('GET', path, { token: null })).status).toBe(401);
      expect((await t.request('GET', path, { token: APP_TOKEN })).status).toBe(403);
      expect((await ops(path)).status).toBe(200);
    }
    expect((await ops('/migration/shadow/mismatches?limit=0')).body.code).toBe('VALIDATION_FAILED');
    expect((await ops('/migration/shadow?bogus=1')).status).toBe(400);
  });

  it('finds planted differences of each kind with the right paths', async () => {
    const plants: Array<{ name: string; paths: string[]; plant: (id: string) => Promise<unknown> }> = [
      { name: 'title', paths: ['title'], plant: (id) => pg(`UPDATE conversations SET title = 'planted' WHERE id = $1`, [id]) },
      { name: 'user', paths: ['userId'], plant: (id) => pg(`UPDATE conversations SET user_id = 'someone-else' WHERE id = $1`, [id]) },
      {
        name: 'content',
        paths: ['messages[1].content'],
        plant: (id) => pg(`UPDATE messages SET content = 'planted' WHERE conversation_id = $1 AND seq = 1`, [id]),
      },
      {
        name: 'role',
        paths: ['messages[0].role'],
        plant: (id) => pg(`UPDATE messages SET role = 'system' WHERE conversation_id = $1 AND seq = 0`, [id]),
      },
      {
        name: 'extra message',
        paths: ['messages.length', 'messages[2]'],
        plant: async (id) => {
          await pg(`INSERT INTO messages (conversation_id, seq, role, content, created_at) VALUES ($1, 2, 'user', 'extra', now())`, [id]);
          await pg(`UPDATE conversations SET message_count = 3 WHERE id = $1`, [id]);
        },
      },
      {
        name: 'nested metadata',
        paths: ['metadata.a.b'],
        plant: (id) => pg(`UPDATE conversations SET metadata = jsonb_set(metadata, '{a,b}', '2') WHERE id = $1`, [id]),
      },
      {
        name: 'missing metadata key',
        paths: ['metadata.k'],
        plant: (id) => pg(`UPDATE conversations SET metadata = metadata - 'k' WHERE id = $1`, [id]),
      },
      {
        name: 'created',
        paths: ['createdAt'],
        plant: (id) => pg(`UPDATE conversations SET created_at = created_at + interval '1 millisecond' WHERE id = $1`, [id]),
      },
      { name: 'deleted', paths: ['deleted'], plant: (id) => pg(`UPDATE conversations SET deleted = true WHERE id = $1`, [id]) },
      { name: 'missing in the secondary', paths: ['exists'], plant: (id) => pg(`DELETE FROM conversations WHERE id = $1`, [id]) },
    ];
    const ids = new Map<string, (typeof plants)[number]>();
    for (const p of plants) {
      const id = await create();
      await p.plant(id);
      ids.set(id, p);
    }
    const clean = await create();
    await sampleReads([...ids.keys(), clean]);

    const found = await mismatchesById();
    for (const [id, p] of ids) {
      expect({ plant: p.name, paths: found.get(id)?.paths }).toEqual({ plant: p.name, paths: p.paths });
    }
    expect(found.has(clean)).toBe(false);

    const title = found.get([...ids].find(([, p]) => p.name === 'title')![0]);
    expect(title).toMatchObject({
      kind: 'stores',
      endpoint: 'get',
      phase: 'shadow',
      primarySide: 'legacy',
      secondarySide: 'new',
      primaryVersion: 1,
      secondaryVersion: 1,
      differences: [{ path: 'title', left: 'original title', right: 'planted' }],
      differenceCount: 1,
      rechecks: 0,
    });
    // The secondary without the record is a version difference: looked at twice more before it counts.
    const missing = found.get([...ids].find(([, p]) => p.name === 'missing in the secondary')![0]);
    expect(missing).toMatchObject({
      primaryVersion: 1,
      secondaryVersion: null,
      rechecks: 2,
      differences: [{ path: 'exists', left: true, right: false }],
    });
  });

  it('finds a planted difference in a list page at its position', async () => {
    const userId = `list-${randomUUID()}`;
    const created = [await create(userId), await create(userId), await create(userId)];
    const page = await t.request('GET', `/conversations?userId=${userId}&limit=10`);
    expect(page.status).toBe(200);
    const order: string[] = page.body.items.map((c: { id: string }) => c.id);
    expect(order.sort()).toEqual([...created].sort());
    const position = order.indexOf(created[1]);
    await t.app.get(ShadowSampler).settled();
    await waitForShadowIdle(t);
    await pg(`UPDATE conversations SET title = 'planted in a page' WHERE id = $1`, [created[1]]);

    const before = await sampleCount(t);
    // The page read above was sampled too (before the plant); this one must find the difference.
    expect((await t.request('GET', `/conversations?userId=${userId}&limit=10`)).status).toBe(200);
    await t.app.get(ShadowSampler).settled();
    await waitForSamples(t, before + 1);
    await waitForShadowIdle(t);
    const res = await ops('/migration/shadow/mismatches?endpoint=list');
    const record = res.body.items.find((m: any) => m.userId === userId);
    expect(record).toMatchObject({ endpoint: 'list', paths: [`items[${position}].title`], request: { limit: 10 } });
    expect(record.pathPatterns).toEqual(expect.arrayContaining(['items[*].title', 'title']));

    // The path filter finds it by the conversation path too, and nothing that does not have it.
    const byPath = await ops('/migration/shadow/mismatches?path=title&endpoint=list');
    expect(byPath.body.items.map((m: any) => m.userId)).toContain(userId);
    const other = await ops('/migration/shadow/mismatches?path=metadata&endpoint=list');
    expect(other.body.items.map((m: any) => m.userId)).not.toContain(userId);
  });

  it('classifies a secondary that is only behind as lag once it converges', async () => {
    const id = await create();
    const docs = legacyCollection(t);
    // The legacy application wrote alone (the new store is behind by one version).
    await docs.updateOne({ _id: new ObjectId(id) }, { $set: { title: 'moved on', v: 2, updated: new Date() } });
    const before = await sampleCount(t);
    expect((await t.request('GET', `/conversations/${id}`)).body.version).toBe(2);

    const queue = t.app.get(ShadowQueue).queue;
    await waitFor('the comparison to be put off for a recheck', async () => (await queue.getDelayedCount()) === 1, 15_000, 20);
    expect(await sampleCount(t)).toBe(before);
    // Catch-up arrives before the recheck.
    await t.app.get<ConversationStore>(NEW_STORE).putIfNewer(fromLegacy((await docs.findOne({ _id: new ObjectId(id) }))!));

    await waitForSamples(t, before + 1);
    const { rows } = await t.pg.query(`SELECT outcome, rechecks FROM shadow_samples ORDER BY id DESC LIMIT 1`);
    expect(rows[0]).toEqual({ outcome: 'lag', rechecks: 1 });
    expect((await t.pg.query(`SELECT lag_kind FROM shadow_samples ORDER BY id DESC LIMIT 1`)).rows[0].lag_kind).toBe('converged');
    expect((await mismatchesById()).has(id)).toBe(false);
  });

  it('classifies a secondary that stays behind (catch-up has passed the change) as a mismatch, with both versions', async () => {
    const id = await create();
    await legacyCollection(t).updateOne({ _id: new ObjectId(id) }, { $set: { title: 'moved on', v: 2, updated: new Date() } });
    await sampleReads([id]);
    const record = (await mismatchesById()).get(id);
    expect(record).toMatchObject({ primaryVersion: 2, secondaryVersion: 1, rechecks: 2, paths: ['title', 'updatedAt', 'version'] });
  });

  it('ignores the configured paths, wildcards included, and records only what is left', async () => {
    const onlyIgnored = await create();
    await pg(`UPDATE conversations SET metadata = jsonb_set(metadata, '{lastSeen}', '"now"') WHERE id = $1`, [onlyIgnored]);
    await pg(`UPDATE messages SET created_at = created_at + interval '5 milliseconds' WHERE conversation_id = $1`, [onlyIgnored]);
    const mixed = await create();
    await pg(`UPDATE conversations SET title = 'planted', metadata = jsonb_set(metadata, '{lastSeen}', '"now"') WHERE id = $1`, [mixed]);

    const before = await t.pg.query(`SELECT count(*)::int AS n FROM shadow_samples WHERE outcome = 'ignored'`);
    await sampleReads([onlyIgnored, mixed]);
    const after = await t.pg.query(`SELECT count(*)::int AS n FROM shadow_samples WHERE outcome = 'ignored'`);
    expect(after.rows[0].n - before.rows[0].n).toBe(1);
    const found = await mismatchesById();
    expect(found.has(onlyIgnored)).toBe(false);
    expect(found.get(mixed).paths).toEqual(['title']);
    expect((await ops('/migration/shadow')).body.ignorePaths).toEqual(['metadata.lastSeen', 'messages[*].createdAt']);
  });

  it('masks secret-looking keys and truncates long values in the records', async () => {
    const id = await create(undefined, { apiKey: 'sk_live_abcdefghijklmnop', note: 'n' });
    await pg(`UPDATE conversations SET metadata = '{"apiKey": "sk_live_zzzzzzzzzzzzzzzz", "note": "n"}'::jsonb WHERE id = $1`, [id]);
    await pg(`UPDATE messages SET content = $2 WHERE conversation_id = $1 AND seq = 0`, [id, 'y'.repeat(5000)]);
    await sampleReads([id]);
    const res = await ops('/migration/shadow/mismatches?limit=200');
    const text = JSON.stringify(res.body);
    expect(text).not.toContain('sk_live_');
    const record = res.body.items.find((m: any) => m.conversationId === id);
    expect(record.differences).toEqual([
      { path: 'messages[0].content', left: 'hello', right: `${'y'.repeat(40)}…[+4960 chars]` },
      { path: 'metadata.apiKey', left: '[masked]', right: '[masked]' },
    ]);
  });

  it('compares every sample of a batch job, a job of one sample as queued before batching, and goes past one it cannot compare', async () => {
    const [a, b, c] = [await create(), await create(), await create()];
    const queue = t.app.get(ShadowQueue).queue;
    const before = await sampleCount(t);
    const sample = (id?: string) => ({ endpoint: 'get' as const, id, sampledAt: Date.now(), calibration: false });
    // A replica from before batching queued one sample per job, without `samples`.
    await queue.add('get', sample(a));
    // One job of three samples, the first without the id it needs: the other two are still compared.
    await queue.add('samples', { samples: [sample(undefined), sample(b), sample(c)] });
    await waitForSamples(t, before + 3);
    const { rows } = await t.pg.query(`SELECT outcome FROM shadow_samples ORDER BY id DESC LIMIT 3`);
    expect(rows.map((r) => r.outcome)).toEqual(['matched', 'matched', 'matched']);
    expect(await sampleCount(t)).toBe(before + 3);
  });

  it('finds noisy fields by calibration and reports them apart from mismatches', async () => {
    const quiet = await create();
    const titled = await create();
    await pg(`UPDATE conversations SET title = 'planted' WHERE id = $1`, [titled]);
    plantReadNonce = true;
    try {
      const before = await sampleCount(t);
      // One calibration sample: each side is read twice, and the new store differs from itself.
      // (The comparison of that very sample already leaves the noisy field out.)
      expect(await t.app.get(ShadowQueue).offer({ endpoint: 'get', id: quiet, sampledAt: Date.now(), calibration: true })).toBe('enqueued');
      await waitForSamples(t, before + 1);
      const { rows } = await t.pg.query(`SELECT outcome, calibration FROM shadow_samples ORDER BY id DESC LIMIT 1`);
      expect(rows[0]).toEqual({ outcome: 'noisy', calibration: true });

      const status = (await ops('/migration/shadow')).body;
      expect(status.noisyFields).toEqual([
        expect.objectContaining({ kind: 'stores', source: 'new', path: 'metadata.readNonce', occurrences: 1 }),
      ]);

      // Ordinary samples from now on leave the noisy field out: a quiet record is noisy, a real difference is reported alone.
      await sampleReads([quiet, titled]);
      const found = await mismatchesById();
      expect(found.has(quiet)).toBe(false);
      expect(found.get(titled).paths).toEqual(['title']);
      const latest = await t.pg.query(`SELECT outcome FROM shadow_samples ORDER BY id DESC LIMIT 2`);
      expect(latest.rows.map((r) => r.outcome).sort()).toEqual(['mismatched', 'noisy']);
    } finally {
      plantReadNonce = false;
    }
  });

  it('computes the windowed mismatch rate to within one sample, the same for operators and gates', async () => {
    await sleep(50);
    const t0 = Date.now();
    const batch = async (n: number, bad: number) => {
      const ids: string[] = [];
      for (let i = 0; i < n; i++) {
        const id = await create();
        if (i < bad) await pg(`UPDATE conversations SET title = 'planted' WHERE id = $1`, [id]);
        ids.push(id);
      }
      await sampleReads(ids);
    };
    await batch(20, 5);
    await sleep(50);
    const t1 = Date.now();
    await batch(10, 1);

    const status = async (windowMs: number) => (await ops(`/migration/shadow?windowMs=${windowMs}`)).body.window;
    const second = await status(Date.now() - t1);
    expect(second).toMatchObject({ compared: 10, mismatched: 1, matched: 9 });
    expect(Math.abs(second.mismatchRate - 1 / 10)).toBeLessThanOrEqual(1 / 10);
    const both = await status(Date.now() - t0);
    expect(both).toMatchObject({ compared: 30, mismatched: 6, matched: 24 });
    expect(Math.abs(both.mismatchRate - 6 / 30)).toBeLessThanOrEqual(1 / 30);
    // Exact, in fact: the rate comes from stored per-sample outcomes.
    expect(both.mismatchRate).toBe(6 / 30);

    const gate = await t.app.get(ShadowStatusService).mismatchRate(Date.now() - t0);
    expect(gate).toMatchObject({ compared: 30, mismatched: 6, rate: 6 / 30 });
    const all = (await ops('/migration/shadow')).body;
    expect(all.window.compared).toBeGreaterThan(30);
    expect(Date.parse(all.retainedSince)).toBeLessThan(t0);
  });

  it('pages mismatch records and filters them by time', async () => {
    const first = await ops('/migration/shadow/mismatches?limit=3');
    expect(first.body.items).toHaveLength(3);
    expect(first.body.nextCursor).toBe(first.body.items[2].id);
    const second = await ops(`/migration/shadow/mismatches?limit=3&cursor=${first.body.nextCursor}`);
    const ids = [...first.body.items, ...second.body.items].map((m: any) => Number(m.id));
    expect(ids).toEqual([...ids].sort((a, b) => b - a));
    expect(new Set(ids).size).toBe(ids.length);
    const future = await ops(`/migration/shadow/mismatches?since=${encodeURIComponent(new Date(Date.now() + 60_000).toISOString())}`);
    expect(future.body).toEqual({ items: [], nextCursor: null });
    expect((await ops('/migration/shadow/mismatches?since=yesterday')).status).toBe(400);
  });

  it('counts every outcome in the worker metrics', async () => {
    const text = await worker.get(MetricsService).registry.metrics();
    for (const outcome of ['matched', 'mismatched', 'lag', 'ignored', 'noisy']) {
      expect(text).toMatch(new RegExp(`shadow_comparisons_total\\{kind="stores",endpoint="get",outcome="${outcome}"\\} [1-9]`));
    }
    expect(text).toMatch(/shadow_compared_total\{kind="stores",endpoint="get"\} [1-9]/);
    expect(text).toMatch(/shadow_rechecks_total\{kind="stores"\} [1-9]/);
    expect(await t.metrics()).toMatch(/shadow_samples_total\{endpoint="get",result="enqueued"\} [1-9]/);
  });
});
