/**
 * Redis restarts without its data in the middle of a backfill (a private set of servers, so this file can
 * stop its Redis): the queued range jobs, the split's jobs and the catch-up schedule are gone, while
 * PostgreSQL still says the run is running. A worker must notice by itself, with no operator call, and
 * re-create what is missing: the run completes with both stores equal and catch-up keeps copying.
 */
import { INestApplication, INestApplicationContext } from '@nestjs/common';
import Redis from 'ioredis';
import { MongoClient } from 'mongodb';
import { DataSource } from 'typeorm';
import { createApiApp } from '../src/bootstrap';
import { AppConfig, loadConfig } from '../src/app-config';
import { canonicalJson } from '../src/model/canonical';
import { fromLegacy } from '../src/model/legacy-transform';
import type { LegacyDocument } from '../src/model/legacy-document';
import { MetricsService } from '../src/common/metrics/metrics.service';
import { QueueName } from '../src/queues/queue-names';
import { CatchupQueue } from '../src/sync/catchup/catchup.queue';
import { createDataSource } from '../src/stores/postgres/data-source';
import { PostgresConversationStore } from '../src/stores/postgres/postgres-conversation.store';
import { OPERATOR_TOKEN } from './support/env';
import { PrivateServices, startPrivateServices } from './support/private-services';
import { waitFor } from './support/stores';
import { FAST_SYNC_ENV, smallLegacyDocs, startSyncWorker } from './support/sync';

const DOCS = 1200;

describe('a Redis that restarts without its data during a backfill', () => {
  let services: PrivateServices;
  let config: AppConfig;
  let app: INestApplication;
  let worker: INestApplicationContext | undefined;
  let url: string;
  let ds: DataSource;
  let mongo: MongoClient;

  beforeAll(async () => {
    services = await startPrivateServices();
    config = loadConfig({
      ...services.env,
      OPERATOR_API_TOKENS: `ops:${OPERATOR_TOKEN}`,
      LOG_LEVEL: 'error',
      ...FAST_SYNC_ENV,
      CATCHUP_INTERVAL_MS: '500',
      SYNC_BATCH_SIZE: '50',
      SYNC_RANGE_SIZE: '200',
      // Slow enough that the restart lands mid-run; the ceiling lives in PostgreSQL, so it survives Redis.
      SYNC_MAX_DOCS_PER_SECOND: '150',
      // Long: what must bring the jobs back is the worker noticing Redis came back, not the periodic pass.
      WORKER_RECOVERY_INTERVAL_MS: '600000',
    });
    ds = createDataSource({ url: config.database.url, poolSize: 2 });
    await ds.initialize();
    await ds.runMigrations();
    mongo = await MongoClient.connect(config.legacy.url);
    await mongo.db(config.legacy.database).collection(config.legacy.collection).insertMany(smallLegacyDocs(DOCS, 7));
    app = await createApiApp(config, { logger: false });
    await app.listen(0, '127.0.0.1');
    url = `http://127.0.0.1:${app.getHttpServer().address().port}`;
  }, 180_000);

  afterAll(async () => {
    await worker?.close();
    await app?.close();
    await ds?.destroy().catch(() => undefined);
    await mongo?.close();
    await services?.down();
  }, 120_000);

  const op = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${url}${path}`, {
      method,
      headers: { authorization: `Bearer ${OPERATOR_TOKEN}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as any };
  };
  const runStatus = async () => (await ds.query('SELECT id, status FROM sync_runs ORDER BY id DESC LIMIT 1'))[0];
  const metric = async (name: string) => {
    const text = await worker!.get(MetricsService).registry.metrics();
    return [...text.matchAll(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\d+)`, 'gm'))].reduce((n, m) => n + Number(m[1]), 0);
  };

  it('re-creates the lost jobs and the catch-up schedule by itself; the run completes and catch-up goes on', async () => {
    worker = await startSyncWorker(config, [QueueName.Backfill, QueueName.Catchup]);
    expect((await op('POST', '/migration/sync/backfill')).status).toBe(202);
    await waitFor(
      'the backfill to be under way',
      async () => Number((await ds.query('SELECT coalesce(sum(docs_written), 0)::int AS n FROM sync_ranges'))[0].n) >= 100,
      60_000,
    );

    await services.stop('redis');
    await services.up(); // a new, empty Redis (services.sh runs it without persistence)
    const redis = new Redis(config.redis.url);
    const catchup = new CatchupQueue(redis, config.redis.keyPrefix);
    try {
      expect((await runStatus()).status).toBe('running');

      // No operator call from here on.
      await waitFor('the worker to notice that Redis lost its data', async () => (await metric('redis_data_loss_total')) === 1, 30_000);
      await waitFor('the catch-up schedule to be back', () => catchup.scheduled(), 30_000);
      await waitFor('the backfill to complete', async () => (await runStatus()).status === 'completed', 120_000);
      expect(await metric('work_recovered_total')).toBeGreaterThanOrEqual(2);

      const legacy = mongo.db(config.legacy.database).collection(config.legacy.collection);
      const pg = new PostgresConversationStore(ds);
      for (const doc of await legacy.find({}).toArray()) {
        const copy = await pg.get(doc._id.toHexString());
        expect(copy && canonicalJson(copy)).toBe(canonicalJson(fromLegacy(doc as unknown as LegacyDocument)));
      }

      // Catch-up runs on the re-created schedule: a change the legacy application makes now is copied.
      const changed = (await legacy.findOne({}, { sort: { _id: 1 } }))!;
      const v = ((changed.v as number | undefined) ?? 0) + 1;
      await legacy.updateOne({ _id: changed._id }, { $set: { title: 'changed after the restart', v, updated: new Date() } });
      await waitFor(
        'catch-up to copy the change',
        async () => (await pg.get(changed._id.toHexString()))?.title === 'changed after the restart',
        30_000,
      );

      const sync = await op('GET', '/migration/sync');
      expect(sync.body.backfill).toMatchObject({ status: 'completed' });
    } finally {
      await catchup.close();
      redis.disconnect();
    }
  }, 300_000);

  it('brings back a verification run whose queued job Redis lost before any worker took it', async () => {
    await worker?.close();
    worker = undefined;
    const started = await op('POST', '/migration/verify', { reason: 'queued before the restart', recheckDelayMs: 0 });
    expect(started.status).toBe(202);
    await services.stop('redis');
    await services.up();
    // A worker that starts now finds the run queued in PostgreSQL with no job in Redis, and queues it again.
    worker = await startSyncWorker(config, [QueueName.Verify]);
    await waitFor(
      'the verification run to complete',
      async () => (await op('GET', `/migration/verify/${started.body.id}`)).body.status === 'completed',
      120_000,
    );
    expect((await op('GET', `/migration/verify/${started.body.id}`)).body).toMatchObject({
      clean: true,
      totals: { missing: 0, extra: 0, different: 0 },
    });
  }, 180_000);
});
