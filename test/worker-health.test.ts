/**
 * A real worker process (`npm run worker`, ts-node) with WORKER_HEALTH_PORT: its health listener is
 * what the Kubernetes probes, the image's HEALTHCHECK (src/health/probe.ts) and Prometheus use.
 */
import { execFile } from 'node:child_process';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { Client } from 'pg';
import type { AppConfig } from '../src/app-config';
import { createTestDatabases, TestDatabases } from './support/databases';
import { freePort, isolatedRedis, ROOT, testConfig } from './support/env';
import { waitFor } from './support/stores';
import { spawnWorker, stopWorker, withTimeout, WorkerProcess } from './support/sync';

const run = promisify(execFile);

/** The image's HEALTHCHECK command, from source: exit code and stderr. */
async function probe(env: Record<string, string>): Promise<{ code: number; stderr: string }> {
  return run(process.execPath, ['-r', 'ts-node/register/transpile-only', path.join(ROOT, 'src/health/probe.ts')], {
    cwd: ROOT,
    env: { PATH: process.env.PATH, TS_NODE_PROJECT: path.join(ROOT, 'tsconfig.json'), ...env },
    timeout: 60_000,
  }).then(
    (r) => ({ code: 0, stderr: r.stderr }),
    (err: { code: number; stderr: string }) => ({ code: err.code, stderr: err.stderr }),
  );
}

describe('worker health listener', () => {
  let dbs: TestDatabases;
  let config: AppConfig;
  let worker: WorkerProcess | undefined;
  let port: number;
  let base: string;

  beforeAll(async () => {
    dbs = await createTestDatabases();
    config = testConfig({ DATABASE_URL: dbs.databaseUrl, LEGACY_MONGO_URL: dbs.legacyUrl, ...isolatedRedis() });
    port = await freePort();
    base = `http://127.0.0.1:${port}`;
    worker = spawnWorker(config, { WORKER_QUEUES: 'repair,shadow', WORKER_HEALTH_PORT: String(port) });
    await withTimeout('the worker to serve its queues', worker.ready, 90_000);
  }, 120_000);

  afterAll(async () => {
    await stopWorker(worker);
    await dbs?.drop();
  }, 60_000);

  it('is ready, listing the queues it serves, once the stores answer and its queue workers run', async () => {
    let ready: { status: string; queues: unknown; checks: Record<string, unknown> } | undefined;
    await waitFor(
      'the worker to be ready',
      async () => {
        const res = await fetch(`${base}/health/ready`).catch(() => null);
        if (res?.status === 200) ready = (await res.json()) as typeof ready;
        return ready !== undefined;
      },
      30_000,
      200,
    );
    expect(ready!.status).toBe('ready');
    expect(ready!.queues).toEqual([
      { queue: 'repair', running: true },
      { queue: 'shadow', running: true },
    ]);
    expect(Object.keys(ready!.checks)).toEqual(['postgres', 'legacy', 'redis']);
    expect((await fetch(`${base}/health/live`)).status).toBe(200);
  });

  it('serves its metrics: the worker counters and the scrape-time gauges read from PostgreSQL', async () => {
    const pg = new Client({ connectionString: dbs.databaseUrl });
    await pg.connect();
    try {
      // An open change requested 10 minutes ago: this worker does not serve `traffic`, so it stays open.
      await pg.query(
        `INSERT INTO traffic_changes (provider, kind, legacy_weight, new_weight, state, requested_at) VALUES ('none', 'weights', 90, 10, 'intent', now() - interval '10 minutes')`,
      );
    } finally {
      await pg.end();
    }
    const res = await fetch(`${base}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
    const text = await res.text();
    expect(text).toContain('# TYPE repairs_total counter');
    expect(text).toContain('# TYPE shadow_comparisons_total counter');
    expect(text).toMatch(/^shadow_window_comparisons 0$/m);
    expect(text).toMatch(/^traffic_changes_open 1$/m);
    const age = Number(/^traffic_change_oldest_open_age_seconds (\S+)$/m.exec(text)?.[1]);
    expect(age).toBeGreaterThanOrEqual(600);
    expect(age).toBeLessThan(700);
  });

  it('answers the image HEALTHCHECK: ready while running, not ready once stopped', async () => {
    expect(await probe({ WORKER_HEALTH_PORT: String(port), PORT: '1' })).toEqual({ code: 0, stderr: '' });
    await stopWorker(worker);
    await withTimeout('the worker to exit', worker!.exited, 20_000);
    // Nest's shutdown hooks close everything, then end the process with the signal it got.
    expect([worker!.child.exitCode, worker!.child.signalCode]).toEqual([null, 'SIGTERM']);
    const after = await probe({ WORKER_HEALTH_PORT: String(port) });
    expect(after.code).toBe(1);
    expect(after.stderr).toContain(`not ready: http://127.0.0.1:${port}/health/ready: connect ECONNREFUSED`);
  });
});
