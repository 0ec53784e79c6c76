/**
 * The API against clients that misbehave and a deployment that has secrets, with two API replicas and a
 * worker as real processes on a private set of servers:
 * - per-token rate limits are shared by the replicas (one bucket in Redis), answer 429 with Retry-After,
 *   and an operator's override changes them for every replica;
 * - bodies over 1 MiB are 413, headers over MAX_HEADER_BYTES 431, and the process keeps serving;
 * - a Redis outage is one line when it starts and one when it ends in each process, never an unhandled
 *   ioredis error;
 * - no token (configured or presented), database password or other configured secret appears in any log
 *   line of the whole run, in an error body or in the migration status.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Client } from 'pg';
import { createDataSource } from '../src/stores/postgres/data-source';
import { APP_TOKEN, OPERATOR_TOKEN, ROOT } from './support/env';
import { PrivateServices, startPrivateServices } from './support/private-services';
import { Cluster } from './support/history/cluster';

const OUT = path.join(ROOT, '.local/hostile-clients');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const SECRETS = {
  databasePassword: 'pg-pass-7c1d3f9a0e5b44d2',
  awsSecretKey: 'aws-secret-0f4e8b2c6a1d4e7f9b3c',
  legacyApiToken: 'legacy-api-token-5e9d1c7b3a2f',
  presentedWrongToken: 'wrong-token-presented-by-a-client-9a8b7c',
};

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return;
    await sleep(200);
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe('hostile clients, secrets and a Redis outage, over two replicas', () => {
  let services: PrivateServices;
  let cluster: Cluster;
  const bodies: string[] = [];

  async function call(
    replica: number,
    method: string,
    p: string,
    options: { token?: string | null; body?: unknown; raw?: string; headers?: Record<string, string> } = {},
  ) {
    const headers: Record<string, string> = { ...(options.headers ?? {}) };
    const token = options.token === undefined ? APP_TOKEN : options.token;
    if (token) headers.authorization = `Bearer ${token}`;
    if (options.body !== undefined || options.raw !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(`${cluster.replicas[replica].url}${p}`, {
      method,
      headers,
      body: options.raw ?? (options.body === undefined ? undefined : JSON.stringify(options.body)),
    });
    const text = await res.text();
    bodies.push(text);
    return { status: res.status, headers: res.headers, text, body: text ? JSON.parse(text) : undefined };
  }

  beforeAll(async () => {
    services = await startPrivateServices();
    // A role of this run's own, so that its password is a string no other log line could contain by chance.
    const admin = new Client({ connectionString: services.env.DATABASE_URL });
    await admin.connect();
    await admin.query(`CREATE ROLE lms_probe LOGIN SUPERUSER PASSWORD '${SECRETS.databasePassword}'`);
    await admin.end();
    const url = new URL(services.env.DATABASE_URL);
    url.username = 'lms_probe';
    url.password = SECRETS.databasePassword;
    const stores = { ...services.env, DATABASE_URL: url.toString() };
    const ds = createDataSource({ url: stores.DATABASE_URL, poolSize: 1 });
    await ds.initialize();
    await ds.runMigrations({ transaction: 'each' });
    await ds.destroy();
    cluster = await Cluster.start(stores, 2, path.join(OUT, 'build'), {
      LOG_LEVEL: 'debug',
      AWS_SECRET_ACCESS_KEY: SECRETS.awsSecretKey,
      AWS_ACCESS_KEY_ID: 'AKIAPROBE',
      SHADOW_LEGACY_API_URL: 'http://127.0.0.1:9',
      SHADOW_LEGACY_API_TOKEN: SECRETS.legacyApiToken,
      SHADOW_SAMPLE_RATE: '1',
      MAX_HEADER_BYTES: '8192',
    });
  }, 240_000);

  afterAll(async () => {
    await cluster?.stop();
    await services?.down();
  }, 120_000);

  it("shares a token's rate limit across replicas, answers 429 with Retry-After, and takes an operator's override at once on every replica", async () => {
    const created = await call(0, 'POST', '/conversations', { body: { userId: 'rate', title: 't' } });
    expect(created.status).toBe(201);
    const id = created.body.id;
    const set = await call(1, 'PUT', '/migration/rate-limits/history', {
      token: OPERATOR_TOKEN,
      body: { rps: 4, reason: 'test: a noisy client' },
    });
    expect(set.status).toBe(200);
    expect(set.body).toMatchObject({ tokenName: 'history', rps: 4, setBy: 'history-ops', reason: 'test: a noisy client' });
    expect((await call(0, 'GET', '/migration/rate-limits', { token: OPERATOR_TOKEN })).body.overrides).toEqual([
      expect.objectContaining({ tokenName: 'history', rps: 4 }),
    ]);
    // Every replica re-reads overrides within 5 s.
    await sleep(5500);
    const started = Date.now();
    const results = await Promise.all(Array.from({ length: 40 }, (_, i) => call(i % 2, 'GET', `/conversations/${id}`)));
    const elapsedS = (Date.now() - started) / 1000;
    const ok = results.filter((r) => r.status === 200);
    const limited = results.filter((r) => r.status === 429);
    // One bucket for both replicas: a second's burst (4) plus 4 a second, not twice that.
    expect(ok.length).toBeLessThanOrEqual(4 + Math.ceil(4 * elapsedS) + 1);
    expect(limited.length).toBeGreaterThan(0);
    for (const replica of [0, 1]) expect(results.some((r, i) => i % 2 === replica && r.status === 429)).toBe(true);
    for (const r of limited) {
      expect(r.body).toMatchObject({ statusCode: 429, code: 'RATE_LIMITED' });
      expect(Number(r.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    }
    // The operator's token has its own bucket: it is not throttled by the application token's.
    expect((await call(0, 'GET', '/migration/status', { token: OPERATOR_TOKEN })).status).toBe(200);
    expect((await call(0, 'DELETE', '/migration/rate-limits/history', { token: OPERATOR_TOKEN })).status).toBe(204);
    await sleep(5500);
    const after = await Promise.all(Array.from({ length: 20 }, (_, i) => call(i % 2, 'GET', `/conversations/${id}`)));
    expect(after.every((r) => r.status === 200)).toBe(true);
  }, 60_000);

  it('refuses bad input and bad tokens with 4xx, and oversized requests with 413 and 431, and keeps serving', async () => {
    expect((await call(0, 'GET', '/conversations?userId=x', { token: SECRETS.presentedWrongToken })).status).toBe(401);
    expect(
      (await call(1, 'POST', '/conversations', { token: SECRETS.presentedWrongToken, body: { userId: SECRETS.presentedWrongToken } }))
        .status,
    ).toBe(401);
    // In a query string and a cookie too: the request's log line names its path, never these.
    const inQuery = `/conversations?userId=x&access_token=${SECRETS.presentedWrongToken}`;
    expect((await call(0, 'GET', inQuery, { token: null, headers: { cookie: `session=${SECRETS.presentedWrongToken}` } })).status).toBe(
      401,
    );
    const big = await call(0, 'POST', '/conversations', { raw: JSON.stringify({ userId: 'big', title: 'x'.repeat(1024 * 1024) }) });
    expect(big).toMatchObject({ status: 413, body: { code: 'PAYLOAD_TOO_LARGE' } });
    const headers = await fetch(`${cluster.replicas[1].url}/health/live`, { headers: { 'x-filler': 'y'.repeat(9000) } });
    expect(headers.status).toBe(431);
    expect((await call(1, 'GET', '/health/live', { token: null })).status).toBe(200);
    expect((await call(0, 'PATCH', '/conversations/not-an-id', { body: { title: 'x' } })).status).toBe(400);
  });

  it('logs a Redis outage once when it starts and once when it ends in every process, never an unhandled error', async () => {
    const id = (await call(0, 'POST', '/conversations', { body: { userId: 'redis-outage' } })).body.id;
    const lines = (name: string) => fs.readFileSync(path.join(cluster.logDir, name), 'utf8');
    await services.stop('redis');
    // Requests go on without Redis (the limiter lets them through, counting them), and the worker keeps retrying.
    for (let i = 0; i < 10; i++) {
      expect(
        (await call(i % 2, 'POST', `/conversations/${id}/messages`, { body: { role: 'user', content: `during the outage ${i}` } })).status,
      ).toBe(201);
      await sleep(300);
    }
    await services.up();
    const logs = ['replica-0.log', 'replica-1.log', 'worker.log'];
    await waitFor('every process to say Redis is back', async () => logs.every((f) => lines(f).includes('Redis reachable again')), 60_000);
    for (const f of logs) {
      const text = lines(f);
      expect({
        f,
        lost: text.split('Redis unreachable').length - 1,
        back: text.split('Redis reachable again').length - 1,
        unhandled: text.includes('Unhandled error event'),
      }).toEqual({ f, lost: 1, back: 1, unhandled: false });
    }
  }, 120_000);

  it('never writes a configured or presented secret to a log line, an error body or the status', async () => {
    const status = await call(0, 'GET', '/migration/status', { token: OPERATOR_TOKEN });
    expect(status.status).toBe(200);
    await cluster.stop();
    const logs = fs.readdirSync(cluster.logDir).map((f) => fs.readFileSync(path.join(cluster.logDir, f), 'utf8'));
    // The run really logged: at debug level, from every process.
    expect(logs.every((l) => l.length > 1000)).toBe(true);
    const secrets = [APP_TOKEN, OPERATOR_TOKEN, ...Object.values(SECRETS)];
    const found = secrets.flatMap((secret) => [
      ...logs.filter((l) => l.includes(secret)).map(() => `${secret.slice(0, 6)}... in a log`),
      ...bodies.filter((b) => b.includes(secret)).map(() => `${secret.slice(0, 6)}... in a response`),
    ]);
    expect(found).toEqual([]);
  }, 60_000);
});
