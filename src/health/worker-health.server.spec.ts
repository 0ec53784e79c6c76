import type { CheckResult } from './readiness';
import { WorkerHealthServer, WorkerHealthSources } from './worker-health.server';
import type { QueueState } from '../queues/worker-host';

const up: CheckResult = { status: 'up' };

describe('WorkerHealthServer', () => {
  let stores: Record<string, CheckResult>;
  let queues: QueueState[];
  let server: WorkerHealthServer;
  let base: string;

  const sources: WorkerHealthSources = {
    stores: async () => stores,
    queues: () => queues,
    metrics: async () => ({ contentType: 'text/plain; version=0.0.4; charset=utf-8', body: 'repairs_total{outcome="done"} 3\n' }),
  };

  beforeEach(async () => {
    stores = { postgres: up, legacy: up, redis: up };
    queues = [
      { queue: 'repair' as QueueState['queue'], running: true },
      { queue: 'shadow' as QueueState['queue'], running: true },
    ];
    server = new WorkerHealthServer(0, sources, '127.0.0.1');
    base = `http://127.0.0.1:${await server.start()}`;
  });

  afterEach(async () => server.stop());

  const get = async (path: string, method = 'GET') => {
    const res = await fetch(`${base}${path}`, { method });
    return { status: res.status, type: res.headers.get('content-type'), body: await res.text() };
  };

  it('is live, and ready when every store answers and every queue is served', async () => {
    expect(await get('/health/live')).toMatchObject({ status: 200, body: '{"status":"ok"}' });
    const ready = await get('/health/ready');
    expect(ready.status).toBe(200);
    expect(JSON.parse(ready.body)).toEqual({ status: 'ready', checks: stores, queues });
  });

  it('is not ready, naming what is down, when a store fails or a queue worker stopped', async () => {
    stores.redis = { status: 'down', error: 'connect ECONNREFUSED' };
    queues[1].running = false;
    const ready = await get('/health/ready');
    expect(ready.status).toBe(503);
    expect(JSON.parse(ready.body)).toMatchObject({ status: 'not_ready', down: ['redis', 'queue:shadow'] });
  });

  it('is not ready when it serves no queue at all', async () => {
    queues = [];
    expect(JSON.parse((await get('/health/ready')).body).down).toEqual(['queues:none']);
  });

  it('serves the Prometheus registry', async () => {
    expect(await get('/metrics')).toEqual({
      status: 200,
      type: 'text/plain; version=0.0.4; charset=utf-8',
      body: 'repairs_total{outcome="done"} 3\n',
    });
  });

  it('answers 404 for other paths and 405 for other methods', async () => {
    expect((await get('/docs')).status).toBe(404);
    expect((await get('/health/ready', 'POST')).status).toBe(405);
  });

  it('stops listening when stopped, and starts nothing without a port', async () => {
    await server.stop();
    await expect(fetch(`${base}/health/live`)).rejects.toThrow();
    const off = new WorkerHealthServer(null, sources);
    await off.onApplicationBootstrap();
    await off.onApplicationShutdown();
  });
});
