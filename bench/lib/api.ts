/**
 * The real API, booted in this process (createApiApp, real stores, real Redis) against a scenario's
 * own databases, listening on 127.0.0.1:0, with a keep-alive JSON client and a way to set the phase.
 */
import type { INestApplication } from '@nestjs/common';
import { createServer } from 'node:net';
import { Client } from 'pg';
import { createApiApp } from '../../src/bootstrap';
import { AppConfig, loadConfig } from '../../src/app-config';
import type { Env } from '../../src/config/env-reader';
import type { Phase } from '../../src/model/phases';
import { onCleanup } from './cleanup';
import type { FreshDatabases } from './fresh-db';
import { JsonClient } from './http';
import { sleep } from './log';
import { parseMetrics, Sample } from './prom';
import { servicesEnv } from './services';

export const BENCH_TOKEN = 'bench-app-token-000000000001';

export interface BenchApi {
  app: INestApplication;
  config: AppConfig;
  url: string;
  client: JsonClient;
  /** A direct connection to the scenario's PostgreSQL database. */
  pg: Client;
  /** Sets the phase and waits until the API's mode cache has certainly expired. */
  setPhase(phase: Phase): Promise<void>;
  metrics(): Promise<Sample[]>;
  close(): Promise<void>;
}

const SIGNALS = ['SIGHUP', 'SIGINT', 'SIGQUIT', 'SIGTERM', 'SIGUSR2'] as const;

/**
 * The bench owns the process's signals: on Ctrl-C it stops the load, closes the app and drops its
 * databases (run.ts). Nest's shutdown hooks (enabled by configureHttp) would close the app on their
 * own and then re-raise the signal, ending the process before the databases are dropped; the
 * listeners they add are removed again here.
 */
async function withoutNewSignalListeners<T>(fn: () => Promise<T>): Promise<T> {
  const before = new Map(SIGNALS.map((s) => [s, new Set(process.listeners(s))]));
  try {
    return await fn();
  } finally {
    for (const s of SIGNALS)
      for (const l of process.listeners(s)) if (!before.get(s)!.has(l)) process.removeListener(s, l as (...args: unknown[]) => void);
  }
}

export async function startApi(dbs: FreshDatabases, options: { concurrency: number; env?: Env }): Promise<BenchApi> {
  const metricsPort = await freePort();
  const config = loadConfig({
    ...servicesEnv(),
    DATABASE_URL: dbs.databaseUrl,
    LEGACY_MONGO_URL: dbs.legacyUrl,
    APP_API_TOKENS: `bench:${BENCH_TOKEN}`,
    LOG_LEVEL: 'error',
    MIGRATIONS_RUN_ON_START: 'false',
    TRAFFIC_PROVIDER: 'none',
    METRICS_PORT: String(metricsPort),
    // The bench measures what the stores and the write path can do: no per-token ceiling in the way.
    RATE_LIMIT_APP_RPS: '0',
    ...(options.env ?? {}),
  });
  // Error-level JSON logs go to stderr: stdout carries only the bench's result lines.
  const app = await withoutNewSignalListeners(() => createApiApp(config, { logger: { level: 'error', stream: 'stderr' } }));
  const closeApp = onCleanup('close the API', () => app.close());
  await app.listen(0, '127.0.0.1');
  const address = app.getHttpServer().address() as { port: number };
  const url = `http://127.0.0.1:${address.port}`;
  const client = new JsonClient(url, BENCH_TOKEN, options.concurrency);
  const pg = new Client({ connectionString: dbs.databaseUrl, application_name: 'bench-control' });
  // Dropping the bench database ends this connection with a FATAL error event: without a listener, that event
  // would end the whole run (its next query fails anyway, and says why).
  pg.on('error', () => undefined);
  await pg.connect();
  const closePg = onCleanup('close the control connection', () => pg.end());

  return {
    app,
    config,
    url,
    client,
    pg,
    setPhase: async (phase) => {
      await pg.query('UPDATE migration_state SET phase = $1, revision = revision + 1, updated_at = now() WHERE id = 1', [phase]);
      await sleep(config.dualWrite.modeCacheTtlMs + 100);
    },
    metrics: async () => {
      const res = await fetch(`http://127.0.0.1:${metricsPort}/metrics`);
      if (res.status !== 200) throw new Error(`GET /metrics -> ${res.status}`);
      return parseMetrics(await res.text());
    },
    close: async () => {
      client.close();
      await closePg();
      await closeApp();
    },
  };
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}
