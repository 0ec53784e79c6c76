import { PLAN, stepName } from '../src/migration/domain/phase-plan';
import { MigrationStatusSchema } from '../src/migration/migration.schemas';
import { INestApplicationContext } from '@nestjs/common';
import { ObjectId } from 'mongodb';
import { QueueName } from '../src/queues/queue-names';
import { CatchupService } from '../src/sync/catchup/catchup.service';
import { startTestApp, TestApp } from './support/app';
import { startBackfill, startSyncWorker, waitForRunCompleted } from './support/sync';
import { APP_TOKEN, isolatedRedis, OPERATOR_TOKEN, ROOT } from './support/env';
import { followUpsSettled } from './support/stores';
import { Replicas, startReplicas } from './support/replicas';

const op = { token: OPERATOR_TOKEN };

describe('migration phases over the operator API', () => {
  let t: TestApp;
  let worker: INestApplicationContext;
  let catchup: CatchupService;
  /** A second API process on the same stores, for the requests that race. */
  let replicas: Replicas;

  beforeAll(async () => {
    t = await startTestApp({ GATE_PROFILE: 'short', ...isolatedRedis(), ROUTE53_TTL: '1' });
    // Traffic changes run as `traffic` jobs; the phase moves when the worker has carried them out.
    worker = await startSyncWorker(t.config, [QueueName.Traffic, QueueName.Backfill]);
    catchup = t.app.get(CatchupService);
    replicas = await startReplicas(t, 'migration-phases');
  }, 120_000);
  afterAll(async () => {
    await replicas?.stop();
    await worker?.close();
    await t?.close();
  });

  /** The status answer, checked against the schema the API documents it with (OpenAPI is made from it). */
  const status = async () => {
    const body = (await t.request('GET', '/migration/status', op)).body;
    const checked = MigrationStatusSchema.safeParse(body);
    expect(checked.success ? [] : checked.error.issues).toEqual([]);
    return body;
  };
  const snapshot = async () => ({
    state: (await t.pg.query('SELECT phase, step, revision, pending_move FROM migration_state')).rows,
    audit: (await t.pg.query('SELECT count(*)::int AS n FROM migration_audit')).rows[0].n,
    traffic: (await t.pg.query('SELECT count(*)::int AS n FROM traffic_changes')).rows[0].n,
  });
  const forceTo = async (step: string) => {
    while ((await status()).step !== step) {
      const res = await t.request('POST', '/migration/advance', { ...op, body: { reason: `test: move to ${step}`, force: true } });
      expect(res.status).toBe(200);
    }
  };

  it('answers 401 without a token and 403 with an app token on every operator endpoint', async () => {
    const endpoints: Array<[string, string]> = [
      ['GET', '/migration/status'],
      ['POST', '/migration/start'],
      ['POST', '/migration/advance'],
      ['POST', '/migration/rollback'],
      ['POST', '/migration/pause'],
      ['POST', '/migration/resume'],
      ['GET', '/migration/history'],
      ['GET', '/migration/traffic'],
      ['GET', '/migration/cleanup'],
      ['POST', '/migration/cleanup/archive'],
      ['GET', '/migration/cleanup/archives/1'],
    ];
    for (const [method, path] of endpoints) {
      expect([method, path, (await t.request(method, path, { token: null, body: method === 'POST' ? {} : undefined })).status]).toEqual([
        method,
        path,
        401,
      ]);
      expect([
        method,
        path,
        (await t.request(method, path, { token: APP_TOKEN, body: method === 'POST' ? {} : undefined })).status,
      ]).toEqual([method, path, 403]);
    }
  });

  it('starts: not_started -> shadow turns dual writes on, audited with the token name', async () => {
    expect((await status()).step).toBe('not_started');
    const res = await t.request('POST', '/migration/start', { ...op, body: { reason: 'begin' } });
    expect(res.status).toBe(200);
    const s = await status();
    expect(s).toMatchObject({ phase: 'shadow', step: 'shadow', sourceOfTruth: 'legacy', dualWrite: true, readFrom: 'legacy' });
    const history = (await t.request('GET', '/migration/history', op)).body;
    expect(history.items[0]).toMatchObject({ actor: 'ops', action: 'start', reason: 'begin' });
    expect((await t.request('POST', '/migration/start', { ...op, body: {} })).status).toBe(409);
    // The legacy archive belongs to cleanup, once the legacy store no longer receives writes.
    const archive = await t.request('POST', '/migration/cleanup/archive', { ...op, body: {} });
    expect([archive.status, archive.body.code]).toEqual([409, 'WRONG_PHASE']);
    expect((await t.request('GET', '/migration/cleanup/archives/x', op)).status).toBe(400);
    expect((await t.request('GET', '/migration/cleanup/archives/99', op)).status).toBe(404);
  });

  it('refuses an advance whose gates fail, naming each gate with value and threshold; a dry run changes nothing', async () => {
    const before = await snapshot();
    const dry = await t.request('POST', '/migration/advance', { ...op, body: { dryRun: true } });
    expect(dry.status).toBe(200);
    expect(dry.body).toMatchObject({ dryRun: true, from: 'shadow', to: 'canary', weights: { before: 0, after: 5 } });
    expect(dry.body.gates.map((g: { name: string }) => g.name)).toEqual([
      'backfill_complete',
      'catchup_lag_ms',
      'verification',
      'shadow_comparisons',
      'shadow_mismatch_rate',
      'dwell',
    ]);
    expect(await snapshot()).toEqual(before);

    const refused = await t.request('POST', '/migration/advance', { ...op, body: { reason: 'try' } });
    expect(refused.status).toBe(409);
    expect(refused.body.code).toBe('GATE_FAILED');
    for (const g of refused.body.errors) {
      expect(g).toEqual({ name: expect.any(String), pass: false, value: g.value, threshold: expect.any(String) });
    }
    expect(refused.body.errors.map((g: { name: string }) => g.name)).toEqual(expect.arrayContaining(['backfill_complete', 'verification']));
    expect((await snapshot()).state).toEqual(before.state);
  });

  it('needs a reason to force, and audits the force', async () => {
    const noReason = await t.request('POST', '/migration/advance', { ...op, body: { force: true } });
    expect(noReason.status).toBe(400);
    const forced = await t.request('POST', '/migration/advance', { ...op, body: { force: true, reason: 'incident 42: verified by hand' } });
    expect(forced.status).toBe(200);
    expect(forced.body).toMatchObject({
      from: 'shadow',
      to: 'canary',
      forced: true,
      trafficChange: { weights: { legacy: 95, new: 5 }, state: 'done' },
    });
    const [latest] = (await t.request('GET', '/migration/history', op)).body.items;
    expect(latest).toMatchObject({ action: 'advance_forced', forced: true, reason: 'incident 42: verified by hand', actor: 'ops' });
  });

  it('refuses a stale expectedStep, and lets exactly one of two concurrent advances, one per API process, win', async () => {
    const stale = await t.request('POST', '/migration/advance', { ...op, body: { expectedStep: 'shadow', force: true, reason: 'stale' } });
    expect(stale.status).toBe(409);
    expect(stale.body.code).toBe('STEP_CHANGED');
    const [a, b] = await Promise.all(
      ['a', 'b'].map((reason, i) =>
        replicas.request(i, 'POST', '/migration/advance', { ...op, body: { expectedStep: 'canary', force: true, reason } }),
      ),
    );
    expect([a.status, b.status].sort()).toEqual([200, 409]);
    expect((await status()).step).toBe('rollout-10');
  });

  it('refuses a forced flip into deprecation until a backfill has completed: force cannot pass that gate', async () => {
    await forceTo('rollout-100');
    const before = await snapshot();
    const dry = await t.request('POST', '/migration/advance', { ...op, body: { dryRun: true, force: true, reason: 'no backfill' } });
    expect(dry.body).toMatchObject({ to: 'deprecation', forced: false });
    expect(dry.body.gates[0]).toEqual({
      name: 'backfill_copied',
      pass: false,
      value: null,
      threshold: 'a completed backfill (force cannot pass this gate)',
      forceable: false,
    });
    const refused = await t.request('POST', '/migration/advance', { ...op, body: { force: true, reason: 'flip without the history' } });
    expect([refused.status, refused.body.code]).toEqual([409, 'GATE_FAILED']);
    expect(refused.body.message).toMatch(/force cannot pass backfill_copied/);
    expect(refused.body.errors).toEqual(expect.arrayContaining([expect.objectContaining({ name: 'backfill_copied', forceable: false })]));
    expect(await snapshot()).toEqual(before);
    expect((await status()).sourceOfTruth).toBe('legacy');

    // Once a backfill has copied the history, the same forced flip is taken (its other gates forced, with the reason).
    const { runId } = await startBackfill(t);
    await waitForRunCompleted(t, runId, 60_000);
    const gate = (await t.request('POST', '/migration/advance', { ...op, body: { dryRun: true } })).body.gates[0];
    expect(gate).toMatchObject({ name: 'backfill_copied', pass: true, value: expect.any(String) });
  });

  it('in deprecation, counts legacy writes the new store did not make as stray: catch-up copies them, the gate into cleanup names them', async () => {
    await forceTo('deprecation');
    const legacy = t.legacy.collection('conversations');
    // Through the API (new store first, legacy second): not stray.
    const viaApi = await t.request('POST', '/conversations', { body: { userId: 'stray-user', title: 'through the api' } });
    expect(viaApi.status).toBe(201);
    // Legacy follows the new store after the acknowledgement: the legacy application edits what it can see.
    await followUpsSettled(t, viaApi.body.id);
    // The legacy application still writing on its own: an insert, and an update of the API's conversation.
    const now = new Date();
    const inserted = new ObjectId();
    await legacy.insertOne({
      _id: inserted,
      user_id: 'stray-user',
      title: 'legacy app insert',
      messages: [{ role: 'user', text: 'hi', ts: now }],
      created: now,
      updated: now,
      v: 1,
    });
    await legacy.updateOne(
      { _id: new ObjectId(viaApi.body.id) },
      { $set: { title: 'legacy app edit', updated: new Date(), v: viaApi.body.version + 1 } },
    );

    const pass = await catchup.pass('manual');
    expect(pass).toMatchObject({ written: 2, exhausted: true });
    const again = await catchup.pass('manual');
    expect(again).toMatchObject({ written: 0 });

    const dry = await t.request('POST', '/migration/advance', { ...op, body: { dryRun: true } });
    expect(dry.body.to).toBe('cleanup');
    expect(dry.body.gates.find((g: { name: string }) => g.name === 'stray_legacy_writes')).toMatchObject({ pass: false, value: 2 });
    const s = await status();
    expect(s.strayLegacyWrites).toMatchObject({ count: 2, copied: 2, unreadable: 0 });
    expect([...s.strayLegacyWrites.ids].sort()).toEqual([inserted.toHexString(), viaApi.body.id].sort());
    // Not lost: both are in the source of truth now.
    const copied = await t.pg.query('SELECT id, title FROM conversations WHERE id = ANY($1) ORDER BY title', [
      [inserted.toHexString(), viaApi.body.id],
    ]);
    expect(copied.rows.map((r: { title: string }) => r.title)).toEqual(['legacy app edit', 'legacy app insert']);
  });

  it('rolls back from every step with the weights and roles of SPEC section 3, and refuses from cleanup on', async () => {
    await forceTo('deprecation');
    const s = await status();
    expect(s).toMatchObject({ sourceOfTruth: 'new', readFrom: 'new', dualWrite: true, weights: { newPercent: 100 } });
    // A write while the new store is the source of truth must reach legacy before the flip back.
    const created = await t.request('POST', '/conversations', { body: { userId: 'rollback-user', title: 'after the flip' } });
    expect(created.status).toBe(201);
    await followUpsSettled(t, created.body.id);
    await t.legacy.collection('conversations').deleteOne({ _id: new ObjectId(created.body.id) });

    // A follow-up legacy has not applied for two minutes (legacy down, or not keeping up): the flip back is refused.
    const [stale] = (
      await t.pg.query(
        `INSERT INTO repair_outbox (conversation_id, source, reason, created_at) VALUES ($1, 'new', 'test: legacy behind', now() - interval '2 minutes') RETURNING id`,
        [created.body.id],
      )
    ).rows;
    const refusedLag = await t.request('POST', '/migration/rollback', { ...op, body: { reason: 'legacy is behind' } });
    expect(refusedLag.status).toBe(409);
    expect(refusedLag.body).toMatchObject({
      code: 'GATE_FAILED',
      errors: [expect.objectContaining({ name: 'follow_up_lag_ms', pass: false })],
    });
    expect((await status()).step).toBe('deprecation');
    await t.pg.query('DELETE FROM repair_outbox WHERE id = $1', [stale.id]);

    for (let i = PLAN.findIndex((p) => p.phase === 'deprecation'); i > 1; i--) {
      const from = PLAN[i];
      const to = PLAN[i - 1];
      const res = await t.request('POST', '/migration/rollback', { ...op, body: { reason: `back from ${stepName(from)}` } });
      expect([stepName(from), res.status, res.body.to]).toEqual([stepName(from), 200, stepName(to)]);
      const now = await status();
      expect(now).toMatchObject({
        step: stepName(to),
        weights: { newPercent: to.weight },
        sourceOfTruth: 'legacy',
        readFrom: 'legacy',
        dualWrite: true,
      });
      if (from.phase === 'deprecation') {
        expect(res.body.committed.cutover.prepared.copied).toBeGreaterThanOrEqual(1);
        // The status names the flip and how long writes paused for it; no follow-up is left behind.
        expect(now.lastFlip).toMatchObject({
          action: 'rollback',
          to: 'rollout-100',
          sourceOfTruth: 'legacy',
          writePause: { waitedMs: expect.any(Number), heldMs: expect.any(Number) },
        });
        expect(now.followUps).toEqual({ pending: 0, oldestAgeSeconds: 0 });
        const doc = await t.legacy.collection('conversations').findOne({ _id: new ObjectId(created.body.id) });
        expect(doc).toMatchObject({ title: 'after the flip' });
      }
    }
    const lastTraffic = (await t.pg.query('SELECT legacy_weight, new_weight, state FROM traffic_changes ORDER BY id DESC LIMIT 1')).rows[0];
    expect(lastTraffic).toEqual({ legacy_weight: 100, new_weight: 0, state: 'done' });
    expect((await t.request('POST', '/migration/rollback', { ...op, body: { reason: 'below shadow' } })).status).toBe(409);

    await forceTo('cleanup');
    const refused = await t.request('POST', '/migration/rollback', { ...op, body: { reason: 'too late' } });
    expect(refused.status).toBe(409);
    expect(refused.body).toMatchObject({ code: 'ROLLBACK_REFUSED', message: expect.stringMatching(/cleanup/) });
  });

  it('has a command line that prints status and a dry run with the gates as a table', async () => {
    const { execFile } = await import('node:child_process');
    const run = (args: string[]) =>
      new Promise<{ code: number; out: string }>((resolve) => {
        execFile(
          `${ROOT}/node_modules/.bin/ts-node`,
          ['--transpile-only', '-P', `${ROOT}/tsconfig.json`, `${ROOT}/scripts/migration-cli.ts`, ...args],
          { env: { ...process.env, API_URL: t.url, OPERATOR_TOKEN }, timeout: 60_000 },
          (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, out: stdout + stderr }),
        );
      });
    const status = await run(['status']);
    expect(status.code).toBe(0);
    expect(status.out).toMatch(/phase cleanup, step cleanup/);
    const refused = await run(['rollback', '--reason', 'cli', '--dry-run']);
    expect(refused.code).toBe(1);
    expect(refused.out).toMatch(/ROLLBACK_REFUSED/);
    const history = await run(['history', '--limit', '3']);
    expect(history.code).toBe(0);
    expect(history.out.trim().split('\n')).toHaveLength(3);
  });

  it('records every transition, traffic change and force in history', async () => {
    const { items, total } = (await t.request('GET', '/migration/history?limit=500', op)).body;
    expect(total).toBe(items.length);
    const actions = new Set(items.map((i: { action: string }) => i.action));
    for (const a of ['start', 'advance_forced', 'rollback', 'traffic_change']) expect(actions.has(a)).toBe(true);
  });
});
