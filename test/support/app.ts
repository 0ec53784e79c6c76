/**
 * Boots the real API (real stores, real Redis) on an ephemeral port against this test file's own
 * databases, and gives a small fetch-based client.
 */
import { INestApplication } from '@nestjs/common';
import { MongoClient } from 'mongodb';
import { Client } from 'pg';
import type { AppConfig } from '../../src/app-config';
import { ApiAppOptions, createApiApp } from '../../src/bootstrap';
import type { Phase } from '../../src/model/phases';
import { createTestDatabases, TestDatabases } from './databases';
import { APP_TOKEN, freePort, testConfig } from './env';

export interface TestApp {
  app: INestApplication;
  config: AppConfig;
  /** The settings the app was given on top of testConfig's (its databases, its test's own), for a replica of it. */
  env: Record<string, string>;
  url: string;
  dbs: TestDatabases;
  pg: Client;
  mongo: MongoClient;
  legacy: ReturnType<MongoClient['db']>;
  request(method: string, path: string, options?: RequestOptions): Promise<TestResponse>;
  setPhase(phase: Phase): Promise<void>;
  /** The API's Prometheus text, from its metrics listener (METRICS_PORT). */
  metrics(): Promise<string>;
  close(): Promise<void>;
}

export interface RequestOptions {
  body?: unknown;
  rawBody?: string | Buffer;
  token?: string | null;
  headers?: Record<string, string>;
}

export interface TestResponse {
  status: number;
  headers: Headers;
  body: any;
}

/** `options.logger`: by default none (TEST_LOGS=1 shows the app's JSON logs, for debugging a failing test). */
export async function startTestApp(
  env: Record<string, string> = {},
  options: ApiAppOptions = process.env.TEST_LOGS ? {} : { logger: false },
): Promise<TestApp> {
  const dbs = await createTestDatabases();
  const metricsPort = await freePort();
  const overrides = {
    DATABASE_URL: dbs.databaseUrl,
    LEGACY_MONGO_URL: dbs.legacyUrl,
    MODE_CACHE_TTL_MS: '0',
    METRICS_PORT: String(metricsPort),
    ...env,
  };
  const config = testConfig(overrides);
  const app = await createApiApp(config, options);
  await app.listen(0, '127.0.0.1');
  const address = app.getHttpServer().address();
  const url = `http://127.0.0.1:${address.port}`;
  const pg = new Client({ connectionString: dbs.databaseUrl });
  await pg.connect();
  const mongo = await MongoClient.connect(dbs.legacyUrl);

  const request = httpClient(url);

  return {
    app,
    config,
    env: overrides,
    url,
    dbs,
    pg,
    mongo,
    legacy: mongo.db(dbs.legacyDbName),
    request,
    metrics: async () => {
      const res = await fetch(`http://127.0.0.1:${config.app.metricsPort}/metrics`);
      if (res.status !== 200) throw new Error(`GET /metrics on the metrics port -> ${res.status}`);
      return res.text();
    },
    setPhase: async (phase) => {
      await pg.query('UPDATE migration_state SET phase = $1, revision = revision + 1 WHERE id = 1', [phase]);
    },
    close: async () => {
      await app.close();
      await pg.end();
      await mongo.close();
      await dbs.drop();
    },
  };
}

/** A small fetch-based client of an API at `url`: the application's token unless told otherwise, JSON both ways. */
export function httpClient(url: string): (method: string, path: string, options?: RequestOptions) => Promise<TestResponse> {
  return async (method: string, path: string, options: RequestOptions = {}): Promise<TestResponse> => {
    const headers: Record<string, string> = { ...(options.headers ?? {}) };
    const token = options.token === undefined ? APP_TOKEN : options.token;
    if (token !== null) headers.authorization = `Bearer ${token}`;
    let body: string | Buffer | undefined = options.rawBody;
    if (options.body !== undefined) {
      body = JSON.stringify(options.body);
      headers['content-type'] ??= 'application/json';
    }
    const res = await fetch(`${url}${path}`, { method, headers, body });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = text === '' ? undefined : JSON.parse(text);
    } catch {
      /* not JSON */
    }
    return { status: res.status, headers: res.headers, body: parsed };
  };
}
