/**
 * Store and Redis outages during a stream of writes, on a private set of servers that this file stops
 * and starts. Every acknowledged write must be in the source of truth, and once the servers are back
 * the repair path (queue, or outbox when Redis was down too) must bring the other store level with it,
 * record by record.
 */
import { INestApplication, INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { MongoClient } from 'mongodb';
import { DataSource } from 'typeorm';
import { createApiApp } from '../src/bootstrap';
import { AppConfig, loadConfig } from '../src/app-config';
import { canonicalJson } from '../src/model/canonical';
import type { Phase } from '../src/model/phases';
import { QueueName } from '../src/queues/queue-names';
import { MongoLegacyStore } from '../src/stores/mongo/mongo-legacy.store';
import { createDataSource } from '../src/stores/postgres/data-source';
import { PostgresConversationStore } from '../src/stores/postgres/postgres-conversation.store';
import { APP_TOKEN, freePort } from './support/env';
import { PrivateServices, ServiceName, startPrivateServices } from './support/private-services';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function eventually(what: string, check: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return;
    await sleep(300);
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe('writes through store and Redis outages', () => {
  let services: PrivateServices;
  let config: AppConfig;
  let app: INestApplication;
  let url: string;
  let ds: DataSource;
  let mongo: MongoClient;
  let legacy: MongoLegacyStore;
  let pg: PostgresConversationStore;

  beforeAll(async () => {
    services = await startPrivateServices();
    config = loadConfig({
      ...services.env,
      APP_API_TOKENS: `t:${APP_TOKEN}`,
      LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'error',
      MODE_CACHE_TTL_MS: '0',
      SECONDARY_WRITE_TIMEOUT_MS: '1000',
      METRICS_PORT: String(await freePort()),
    });
    ds = createDataSource({ url: config.database.url, poolSize: 2 });
    await ds.initialize();
    await ds.runMigrations();
    mongo = await MongoClient.connect(config.legacy.url, { serverSelectionTimeoutMS: 2000 });
    legacy = new MongoLegacyStore(mongo.db(config.legacy.database), config.legacy.collection);
    pg = new PostgresConversationStore(ds);
    app = await createApiApp(config, process.env.TEST_LOGS ? {} : { logger: false });
    await app.listen(0, '127.0.0.1');
    url = `http://127.0.0.1:${app.getHttpServer().address().port}`;
  }, 180_000);

  afterAll(async () => {
    await app?.close();
    await ds?.destroy().catch(() => undefined);
    await mongo?.close();
    await services?.down();
  }, 120_000);

  const call = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${url}${path}`, {
      method,
      headers: { authorization: `Bearer ${APP_TOKEN}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json().catch(() => null)) as any };
  };

  /**
   * Starts the stopped servers and waits for the API to reach every one of them again (ready, not degraded):
   * it must recover on its own, reconnecting its clients, within 30 s and without a restart.
   */
  async function serversBack(): Promise<void> {
    await services.up();
    await eventually(
      'the API reaching every server again once they are back',
      async () => ((await (await fetch(`${url}/health/ready`)).json()) as { status?: string }).status === 'ready',
      30_000,
    );
  }

  async function setPhase(phase: Phase): Promise<void> {
    await ds.query('UPDATE migration_state SET phase = $1, revision = revision + 1', [phase]);
  }

  /**
   * Writes appends to `ids` from 4 clients until `stop()`; returns the highest acknowledged version
   * and the acknowledged message texts per id.
   */
  function writeStream(ids: string[]) {
    const acked = new Map<string, { version: number; texts: Set<string> }>(ids.map((id) => [id, { version: 0, texts: new Set() }]));
    let running = true;
    let attempts = 0;
    const refusals = new Map<string, number>();
    const clients = Array.from({ length: 4 }, async (_, client) => {
      for (let n = 0; running; n++) {
        const id = ids[(n + client) % ids.length];
        const text = `c${client}-n${n}`;
        attempts++;
        const res = await call('POST', `/conversations/${id}/messages`, { role: 'user', content: text }).catch(() => ({
          status: 0,
          body: null,
        }));
        if (res.status === 201) {
          const a = acked.get(id)!;
          a.version = Math.max(a.version, res.body.version);
          a.texts.add(text);
        } else {
          const what =
            `${res.status} ${res.body?.code ?? ''} ${/legacy store|new store|Redis/.exec(res.body?.message ?? '')?.[0] ?? ''}`.trim();
          refusals.set(what, (refusals.get(what) ?? 0) + 1);
        }
        await sleep(5);
      }
    });
    return {
      acked,
      refusals,
      attempts: () => attempts,
      stop: async () => {
        running = false;
        await Promise.all(clients);
      },
    };
  }

  async function runScenario(phase: Phase, stopped: ServiceName[]) {
    await setPhase(phase);
    const ids: string[] = [];
    for (let i = 0; i < 6; i++) {
      const res = await call('POST', '/conversations', { userId: `outage-${phase}`, title: `t${i}` });
      expect([res.status, res.status === 201 ? null : res.body]).toEqual([201, null]);
      ids.push(res.body.id);
    }
    const stream = writeStream(ids);
    await sleep(500);
    for (const s of stopped) await services.stop(s);
    const before = stream.attempts();
    // At least 3 s of outage and more than 10 writes in it: with a secondary that times out (1 s here) four
    // clients make about 12 attempts in 3 s, so a fixed 3 s window alone would be a coin toss on a busy machine.
    await sleep(3000);
    await eventually('more than 10 writes during the outage', async () => stream.attempts() - before > 10, 30_000);
    const duringOutage = stream.attempts() - before;
    // Writes stop before the servers return, so only what was recorded during the outage can repair.
    await stream.stop();
    await serversBack();
    expect(duringOutage).toBeGreaterThan(10);
    // PostgreSQL holds the migration state and the write fence: without it nothing is acknowledged, and the
    // refusal says so (503 naming the new store), never a 500. (A write in flight when it stopped may fail
    // otherwise on its way: a 503 naming the store whose call failed.)
    const codes = [...stream.refusals.keys()];
    expect(codes.filter((c) => !c.startsWith('503 '))).toEqual([]);
    if (stopped.includes('postgres')) expect(stream.refusals.get('503 STORE_UNAVAILABLE new store') ?? 0).toBeGreaterThan(5);

    // Every acknowledged write is in the source of truth.
    const truth = phase === 'deprecation' ? pg : legacy;
    for (const id of ids) {
      const c = await truth.get(id);
      const a = stream.acked.get(id)!;
      expect(c!.version).toBeGreaterThanOrEqual(a.version);
      const texts = new Set(c!.messages.map((m) => m.content));
      for (const t of a.texts) expect(texts.has(t)).toBe(true);
    }

    // Repairs (queued, or replayed from the outbox once Redis is back) bring the other store level.
    const worker: INestApplicationContext = await NestFactory.createApplicationContext(
      (await import('../src/worker.module')).WorkerModule.forRoot(config, [QueueName.Repair]),
      { logger: false },
    );
    await worker.init();
    try {
      await eventually(
        'both stores identical for every conversation',
        async () => {
          for (const id of ids) {
            const [l, n] = await Promise.all([legacy.get(id), pg.get(id)]);
            if (!l || !n || canonicalJson(l) !== canonicalJson(n)) return false;
          }
          return true;
        },
        90_000,
      );
    } finally {
      await worker.close();
    }
    return stream.acked;
  }

  it.each([
    ['shadow', 'ferretdb', /legacy store/],
    ['deprecation', 'postgres', /new store/],
  ] as const)(
    'answers 503 STORE_UNAVAILABLE naming the store, never 500, while the source of truth in %s (%s) cannot be reached',
    async (phase, service, named) => {
      await setPhase(phase);
      const created = await call('POST', '/conversations', { userId: `unreachable-${phase}`, title: 'before' });
      expect(created.status).toBe(201);
      // The phase was just read: its cached copy serves while PostgreSQL is away, so the store itself is tried.
      await services.stop(service);
      try {
        const requests: Array<[string, string, unknown?]> = [
          ['GET', `/conversations/${created.body.id}`],
          ['POST', `/conversations/${created.body.id}/messages`, { role: 'user', content: 'during the outage' }],
          ['POST', '/conversations', { userId: `unreachable-${phase}` }],
        ];
        for (const [method, path, body] of requests) {
          const res = await fetch(`${url}${path}`, {
            method,
            headers: { authorization: `Bearer ${APP_TOKEN}`, 'content-type': 'application/json' },
            body: body === undefined ? undefined : JSON.stringify(body),
          });
          const payload = (await res.json()) as Record<string, unknown>;
          expect({ method, path, status: res.status }).toEqual({ method, path, status: 503 });
          expect(Object.keys(payload).sort()).toEqual(['code', 'message', 'requestId', 'statusCode']);
          expect(payload).toMatchObject({ statusCode: 503, code: 'STORE_UNAVAILABLE', message: expect.stringMatching(named) });
          expect(res.headers.get('retry-after')).toBe('5');
        }
      } finally {
        await serversBack();
      }
    },
    120_000,
  );

  it('acknowledges nothing with PostgreSQL stopped while legacy is the source of truth, loses nothing, then repairs it', async () => {
    await runScenario('shadow', ['postgres']);
  }, 180_000);

  it('loses nothing with the legacy server stopped while the new store is the source of truth, then repairs it', async () => {
    await runScenario('deprecation', ['ferretdb']);
  }, 180_000);

  it('keeps acknowledging writes with Redis stopped, and keeps both stores equal', async () => {
    await runScenario('shadow', ['redis']);
  }, 180_000);

  it('acknowledges nothing with Redis and PostgreSQL both stopped, and leaves the stores equal once they are back', async () => {
    await runScenario('shadow', ['redis', 'postgres']);
    // Whatever a write in flight at the stop could not record in PostgreSQL went to the legacy store's outbox
    // (Redis was down too); it has been replayed into the repair queue since.
    const outbox = mongo.db(config.legacy.database).collection('migration_repair_outbox');
    await eventually('the outbox replayed into the repair queue', async () => (await outbox.countDocuments()) === 0, 30_000);
  }, 180_000);
});
