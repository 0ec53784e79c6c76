import { INestApplication } from '@nestjs/common';
import { createApiApp } from '../src/bootstrap';
import { loadConfig } from '../src/app-config';
import { createDataSource } from '../src/stores/postgres/data-source';
import { APP_TOKEN } from './support/env';
import { PrivateServices, ServiceName, startPrivateServices } from './support/private-services';

async function waitFor<T>(what: string, fn: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  while (Date.now() < deadline) {
    last = await fn();
    if (ok(last)) return last;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`timed out waiting for ${what}; last value ${JSON.stringify(last)}`);
}

describe('GET /health/ready against servers that stop and come back', () => {
  let services: PrivateServices;
  let app: INestApplication;
  let url: string;

  beforeAll(async () => {
    services = await startPrivateServices();
    const ds = createDataSource({ url: services.env.DATABASE_URL, poolSize: 1 });
    await ds.initialize();
    await ds.runMigrations();
    await ds.destroy();
    const config = loadConfig({ ...services.env, APP_API_TOKENS: `t:${APP_TOKEN}`, LOG_LEVEL: 'error', METRICS_PORT: '0' });
    app = await createApiApp(config, { logger: false });
    await app.listen(0, '127.0.0.1');
    url = `http://127.0.0.1:${app.getHttpServer().address().port}`;
  }, 180_000);

  afterAll(async () => {
    await app?.close();
    await services?.down();
  }, 120_000);

  const ready = async () => {
    const res = await fetch(`${url}/health/ready`);
    return {
      status: res.status,
      body: (await res.json()) as { status: string; down: string[]; degraded: string[]; required: string[]; phase: string | null },
    };
  };

  const setPhase = async (phase: string) => {
    const ds = createDataSource({ url: services.env.DATABASE_URL, poolSize: 1 });
    await ds.initialize();
    try {
      await ds.query('UPDATE migration_state SET phase = $1, revision = revision + 1 WHERE id = 1', [phase]);
    } finally {
      await ds.destroy();
    }
  };

  it('is 200 when every server answers, and live needs no token', async () => {
    expect(await ready()).toMatchObject({ status: 200, body: { status: 'ready', down: [], degraded: [] } });
    expect((await fetch(`${url}/health/live`)).status).toBe(200);
  });

  // What a pod needs to acknowledge writes: PostgreSQL (migration state, write fence) and the phase's source of truth.
  const cases: Array<[string, ServiceName, string, number, string]> = [
    ['shadow', 'postgres', 'postgres', 503, 'not_ready'],
    ['shadow', 'ferretdb', 'legacy', 503, 'not_ready'],
    ['shadow', 'redis', 'redis', 200, 'degraded'],
    ['deprecation', 'ferretdb', 'legacy', 200, 'degraded'],
    ['deprecation', 'postgres', 'postgres', 503, 'not_ready'],
  ];

  it.each(cases)(
    'in %s, with %s stopped: %s is down, the pod answers %i (%s), and 200 once it is back',
    async (phase, service, name, status, verdict) => {
      await setPhase(phase);
      await services.stop(service);
      const down = await waitFor(`${status} for ${name}`, ready, (r) => r.status === status && r.body.down.includes(name));
      expect(down.body).toMatchObject({ status: verdict, down: [name] });
      if (verdict === 'degraded') expect(down.body.degraded).toEqual([name]);
      await services.up();
      await waitFor(`200 ready after ${name} is back`, ready, (r) => r.status === 200 && r.body.status === 'ready', 60_000);
      // The API kept answering throughout: an authenticated route still routes.
      expect((await fetch(`${url}/conversations/zz`, { headers: { authorization: `Bearer ${APP_TOKEN}` } })).status).toBe(400);
    },
    120_000,
  );
});
