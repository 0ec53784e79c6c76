/**
 * The worker process's small HTTP listener (WORKER_HEALTH_PORT; none by default): what the Kubernetes
 * probes, the image's HEALTHCHECK and Prometheus need from a process that otherwise serves no HTTP.
 *   GET /health/live   the process is running
 *   GET /health/ready  PostgreSQL, the legacy store and Redis answer, and the BullMQ worker of every
 *                      queue this process serves is taking jobs (503 naming what is not)
 *   GET /metrics       this process's Prometheus registry (the shadow, repair and sync counters move here)
 * Plain node:http: a worker has no Express, and these three routes need none.
 */
import { Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { QueueState } from '../queues/worker-host';
import { CheckResult, downChecks } from './readiness';

export interface WorkerHealthSources {
  stores(): Promise<Record<string, CheckResult>>;
  queues(): QueueState[];
  metrics(): Promise<{ contentType: string; body: string }>;
}

export class WorkerHealthServer implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('WorkerHealth');
  private server: Server | undefined;

  /** `port` null: no listener; 0: any free port (tests). */
  constructor(
    private readonly port: number | null,
    private readonly sources: WorkerHealthSources,
    private readonly host = '0.0.0.0',
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    if (this.port !== null) await this.start();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.stop();
  }

  /** Listens; resolves with the port bound. */
  async start(): Promise<number> {
    if (this.port === null) throw new Error('the worker health listener has no port');
    const server = createServer((req, res) => {
      this.handle(req, res).catch((err) => {
        this.logger.error({ msg: 'health request failed', error: (err as Error).message });
        if (!res.headersSent) send(res, 500, { status: 'error' });
        else res.destroy();
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port!, this.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.server = server;
    const { port } = server.address() as AddressInfo;
    this.logger.log({ msg: 'health listener started', port });
    return port;
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0];
    const routes: Record<string, () => Promise<void>> = {
      '/health/live': async () => send(res, 200, { status: 'ok' }),
      '/health/ready': () => this.ready(res),
      '/metrics': async () => {
        const { contentType, body } = await this.sources.metrics();
        res.writeHead(200, { 'Content-Type': contentType }).end(body);
      },
    };
    const route = routes[path];
    if (!route) return send(res, 404, { status: 'not_found', routes: Object.keys(routes) });
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD');
      return send(res, 405, { status: 'method_not_allowed' });
    }
    await route();
  }

  private async ready(res: ServerResponse): Promise<void> {
    const checks = await this.sources.stores();
    const queues = this.sources.queues();
    const down = [...downChecks(checks), ...queues.filter((q) => !q.running).map((q) => `queue:${q.queue}`)];
    if (queues.length === 0) down.push('queues:none');
    send(res, down.length === 0 ? 200 : 503, down.length === 0 ? { status: 'ready', checks, queues } : { status: 'not_ready', down, checks, queues });
  }
}

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store' }).end(JSON.stringify(body));
}
