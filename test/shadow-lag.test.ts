/**
 * Lag with a cause (src/shadow/domain/lag.ts), end to end: a difference the copying still under way explains is
 * lag of its kind, from the backfill's range checkpoints, catch-up's watermark and the pending follow-ups in
 * PostgreSQL; the same difference once the copying has passed it is a mismatch. The lag share stands beside
 * the mismatch rate in GET /migration/shadow, the status and the metrics.
 */
import { INestApplicationContext } from '@nestjs/common';
import { Document, ObjectId } from 'mongodb';
import { MetricsService } from '../src/common/metrics/metrics.service';
import { QueueName } from '../src/queues/queue-names';
import { ShadowQueue } from '../src/shadow/shadow-queue';
import { ShadowSampler } from '../src/shadow/shadow-sampler';
import { CatchupService } from '../src/sync/catchup/catchup.service';
import { startTestApp, TestApp } from './support/app';
import { isolatedRedis, OPERATOR_TOKEN } from './support/env';
import { sampleCount, sleep, startShadowWorker, waitForSamples, waitForShadowIdle } from './support/shadow';
import { legacyCollection } from './support/stores';
import { seedLegacy, smallLegacyDocs, startBackfill, startSyncWorker, waitForRunCompleted } from './support/sync';

const OVERLAP_MS = 500;
const LIST_USER = 'lag-list-user';

describe('shadow lag with a cause (real stores, real sync state)', () => {
  let t: TestApp;
  let shadowWorker: INestApplicationContext;
  let ids: string[];
  let runId: number;

  beforeAll(async () => {
    t = await startTestApp({
      ...isolatedRedis(),
      SHADOW_SAMPLE_RATE: '1',
      SHADOW_CALIBRATION_RATE: '0',
      SHADOW_LAG_RECHECK_MS: '200',
      SHADOW_LAG_RECHECKS: '1',
      SYNC_RANGE_SIZE: '10',
      CATCHUP_INTERVAL_MS: '0',
      CATCHUP_OVERLAP_MS: String(OVERLAP_MS),
    });
    await t.setPhase('shadow');
    await t.app.get(ShadowQueue).queue.obliterate({ force: true });
    shadowWorker = await startShadowWorker(t.config);
    // What the legacy application left behind, in _id order: 30 conversations and 3 of one user (for a page).
    const docs: Document[] = smallLegacyDocs(30, 7).map((d) => ({ ...d, user_id: 'someone', userId: undefined }));
    const listed = [1, 2, 3].map((n) => ({
      _id: new ObjectId(),
      user_id: LIST_USER,
      title: `listed ${n}`,
      messages: [],
      created: new Date(Date.UTC(2022, 0, n)),
    }));
    await seedLegacy(t, [...docs.map(({ userId: _, ...d }) => d), ...listed]);
    ids = (
      await legacyCollection(t)
        .find({}, { projection: { _id: 1 } })
        .sort({ _id: 1 })
        .toArray()
    ).map((d) => d._id.toHexString());
  });

  afterAll(async () => {
    await shadowWorker?.close();
    await t?.close();
  });

  const ops = (path: string) => t.request('GET', path, { token: OPERATOR_TOKEN });

  /** One read through the API (sampling is 100 %), then how its comparison was decided. */
  async function sampled(path: string): Promise<{ outcome: string; lag_kind: string | null }> {
    const before = await sampleCount(t);
    expect((await t.request('GET', path)).status).toBe(200);
    await t.app.get(ShadowSampler).settled();
    await waitForSamples(t, before + 1);
    await waitForShadowIdle(t);
    const { rows } = await t.pg.query(`SELECT outcome, lag_kind FROM shadow_samples ORDER BY id DESC LIMIT 1`);
    return rows[0];
  }
  const get = (id: string) => sampled(`/conversations/${id}`);

  it('before any backfill, a conversation or a page only legacy has is lag: not_copied', async () => {
    expect(await get(ids[0])).toEqual({ outcome: 'lag', lag_kind: 'not_copied' });
    expect(await sampled(`/conversations?userId=${LIST_USER}&limit=2`)).toEqual({ outcome: 'lag', lag_kind: 'not_copied' });
  });

  it('during a backfill, past its range checkpoint is not_copied; at or below it a missing copy is a mismatch', async () => {
    const sync = await startSyncWorker(t.config, [QueueName.Backfill]);
    try {
      runId = (await startBackfill(t)).runId;
      await waitForRunCompleted(t, runId, 60_000);
    } finally {
      await sync.close();
    }
    expect(await get(ids[0])).toEqual({ outcome: 'matched', lag_kind: null });
    expect(await sampled(`/conversations?userId=${LIST_USER}&limit=2`)).toEqual({ outcome: 'matched', lag_kind: null });

    // The run as it stood part-way: one range running, its checkpoint in the middle of it.
    const { rows } = await t.pg.query(
      `SELECT range_no, start_after, end_at FROM sync_ranges WHERE run_id = $1 AND kind = 'ids' AND $2 > coalesce(start_after, '') AND $2 <= end_at`,
      [runId, ids[15]],
    );
    const inRange = ids.filter((id) => (rows[0].start_after === null || id > rows[0].start_after) && id <= rows[0].end_at);
    expect(inRange.length).toBeGreaterThanOrEqual(4);
    const checkpoint = inRange[1];
    const [copied, notCopied] = [inRange[0], inRange[inRange.length - 1]];
    await t.pg.query(`UPDATE sync_runs SET status = 'running', finished_at = NULL WHERE id = $1`, [runId]);
    await t.pg.query(`UPDATE sync_ranges SET status = 'running', checkpoint = $3 WHERE run_id = $1 AND range_no = $2`, [
      runId,
      rows[0].range_no,
      checkpoint,
    ]);
    await t.pg.query(`DELETE FROM conversations WHERE id = ANY($1)`, [[copied, notCopied]]);
    try {
      expect(await get(notCopied)).toEqual({ outcome: 'lag', lag_kind: 'not_copied' });
      expect(await get(copied)).toEqual({ outcome: 'mismatched', lag_kind: null });
    } finally {
      await t.pg.query(`UPDATE sync_ranges SET status = 'done' WHERE run_id = $1`, [runId]);
      await t.pg.query(`UPDATE sync_runs SET status = 'completed', finished_at = now() WHERE id = $1`, [runId]);
    }
    // The run done, the copy it lost is a mismatch too.
    expect(await get(notCopied)).toEqual({ outcome: 'mismatched', lag_kind: null });
  });

  it('a legacy change after the catch-up watermark is not_caught_up; once a pass is past it, a lost copy is a mismatch', async () => {
    const id = ids[3];
    const doc = (await legacyCollection(t).findOne({ _id: new ObjectId(id) }))!;
    await legacyCollection(t).updateOne(
      { _id: doc._id },
      { $set: { title: 'changed by the legacy application', v: (doc.v ?? 0) + 1, updated: new Date() } },
    );
    expect(await get(id)).toEqual({ outcome: 'lag', lag_kind: 'not_caught_up' });

    // A pass that starts after the change's overlap window has gone by copies it and moves the watermark past it.
    await sleep(OVERLAP_MS + 100);
    const pass = await t.app.get(CatchupService).pass('manual');
    // (It also reads again what was inserted within its overlap of the split, which is every seeded ObjectId here.)
    expect(pass).toMatchObject({ exhausted: true, written: expect.any(Number) });
    expect(await get(id)).toEqual({ outcome: 'matched', lag_kind: null });

    await t.pg.query(`UPDATE conversations SET version = version - 1, title = 'an older copy' WHERE id = $1`, [id]);
    expect(await get(id)).toEqual({ outcome: 'mismatched', lag_kind: null });
  });

  it('in deprecation, legacy behind with a pending follow-up is follow_up; without one it is a mismatch', async () => {
    await t.setPhase('deprecation');
    const [followed, lost] = [ids[8], ids[9]];
    // Written to the new store (the source of truth now); legacy follows off the request path.
    await t.pg.query(
      `UPDATE conversations SET title = 'written after the flip', version = version + 1, updated_at = now() WHERE id = ANY($1)`,
      [[followed, lost]],
    );
    await t.pg.query(`INSERT INTO repair_outbox (conversation_id, source, reason) VALUES ($1, 'new', 'legacy follows')`, [followed]);
    expect(await get(followed)).toEqual({ outcome: 'lag', lag_kind: 'follow_up' });
    expect(await get(lost)).toEqual({ outcome: 'mismatched', lag_kind: null });
  });

  it('shows the lag share and the lag by kind beside the mismatch rate: GET /migration/shadow, the status, the metrics', async () => {
    const shadow = (await ops('/migration/shadow')).body.window;
    expect(shadow).toMatchObject({ mismatched: 4, lagByKind: { converged: 0, not_copied: 3, not_caught_up: 1, follow_up: 1 }, lag: 5 });
    expect(shadow.lagShare).toBe(5 / shadow.compared);
    expect(shadow.mismatchRate).toBe(4 / shadow.compared);

    const status = (await ops('/migration/status')).body.shadow;
    expect(status).toMatchObject({ mismatched: 4, lag: 5 });
    expect(status.lagShare).toBe(5 / status.compared);

    expect(await t.metrics()).toMatch(/^shadow_window_lag_ratio 0\.\d+$/m);
    const worker = await shadowWorker.get(MetricsService).registry.metrics();
    for (const reason of ['not_copied', 'not_caught_up', 'follow_up'])
      expect(worker).toMatch(new RegExp(`shadow_lag_total\\{kind="stores",reason="${reason}"\\} [1-9]`));
  });
});
